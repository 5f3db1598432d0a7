/* What the C forwarders of bench/e2e and bench/e2e-uring share (forward.c, forward-uring.c): the
 * device set-up nettap's Tap.open does, and the idle extra thread every JVM has. */
#ifndef NETTAP_FORWARDER_H
#define NETTAP_FORWARDER_H
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif
#define HDR 12
#define BUF (65536 + 4096)

static void *idle(void *arg) { (void)arg; for (;;) pause(); return NULL; }

/* Keeps a thread that only sleeps alive, as in every JVM. */
static void start_idle_thread(void) {
    pthread_t t;
    pthread_create(&t, NULL, idle, NULL);
}

/* The TAP queue DEV inside the network namespace NETNS (the calling thread joins it): attach by
 * name (TUNSETIFF TAP|NO_PI|VNET_HDR), non-blocking, header size 12, offloads FLAGS (without
 * USO4|USO6 when the kernel refuses them). Exits with a message on any failure. */
static int open_tap(const char *netns, const char *dev, unsigned flags) {
    int ns = open(netns, O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, CLONE_NEWNET) < 0) { perror(netns); exit(1); }
    close(ns);
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, dev, IFNAMSIZ - 1);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    int hs = HDR;
    if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &hs) < 0) { perror(dev); exit(1); }
    if (ioctl(fd, TUNSETOFFLOAD, flags) < 0
        && (flags == 0 || ioctl(fd, TUNSETOFFLOAD, flags & ~(TUN_F_USO4 | TUN_F_USO6)) < 0)) {
        perror("TUNSETOFFLOAD");
        exit(1);
    }
    return fd;
}
#endif
