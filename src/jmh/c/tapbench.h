/* What the C references of the TAP benchmarks share (tapwrite.c, uringwrite.c): the frames
 * dev.nettap.bench.Frames builds, byte for byte, a clock, an idle second thread (as in every JVM)
 * and the TAP queue they write to, attached by name inside a network namespace. */
#ifndef NETTAP_TAPBENCH_H
#define NETTAP_TAPBENCH_H
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static void *idle(void *arg) { (void)arg; for (;;) pause(); return NULL; }

/* A second thread that only sleeps, as every JVM has: the kernel treats a multi-threaded
 * process differently (e.g. file table and mm refcounting on each syscall). */
static void start_idle_thread(void) {
    pthread_t t;
    pthread_create(&t, NULL, idle, NULL);
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static uint16_t csum(const uint8_t *p, size_t n, uint32_t s) {
    for (size_t i = 0; i + 1 < n; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1) s += (uint32_t)p[n - 1] << 8;
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v & 0xffff); }
static void le16(uint8_t *p, uint16_t v) { p[0] = v & 0xff; p[1] = v >> 8; }

/* Byte for byte what dev.nettap.bench.Frames builds. */
static void build(uint8_t *f, size_t size, uint8_t *h) {
    int gso = size == 14 + 65535;
    memset(f, 0x5a, size);
    memset(h, 0, 12);
    const uint8_t dst[6] = {2, 0, 0, 0, 0, 0x99}, src[6] = {2, 0, 0, 0, 0, 1};
    memcpy(f, dst, 6); memcpy(f + 6, src, 6); put16(f + 12, 0x0800);
    f[14] = 0x45; f[15] = 0; put16(f + 16, (uint16_t)(size - 14)); put32(f + 18, 0);
    f[22] = 64; f[23] = gso ? 6 : 17; put16(f + 24, 0);
    put32(f + 26, 0x0a630001); put32(f + 30, 0x0a630909);
    put16(f + 24, (uint16_t)~csum(f + 14, 20, 0));
    if (gso) {
        put16(f + 34, 40000); put16(f + 36, 5001); put32(f + 38, 1); put32(f + 42, 0);
        f[46] = 0x50; f[47] = 0x18; put16(f + 48, 65535);
        uint32_t ph = 0x0a63 + 0x0001 + 0x0a63 + 0x0909 + 6 + (uint32_t)(size - 34);
        while (ph >> 16) ph = (ph & 0xffff) + (ph >> 16);
        put16(f + 50, (uint16_t)ph); put16(f + 52, 0);
        h[0] = 1; h[1] = 1; le16(h + 2, 54); le16(h + 4, 1448); le16(h + 6, 34); le16(h + 8, 16);
    } else {
        put16(f + 34, 40000); put16(f + 36, 9); put16(f + 38, (uint16_t)(size - 34)); put16(f + 40, 0);
    }
}

/* The TAP queue DEV inside the network namespace NETNS (this thread joins it): non-blocking,
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, 12-byte header, no offloads. TUNSETIFF is retried on EBUSY
 * for up to 2 s: a ring of an earlier run may still hold a single-queue device (the kernel tears
 * io_uring rings down asynchronously). Exits with a message on any failure. */
static int open_tap_in(const char *netns, const char *dev) {
    int ns = open(netns, O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, CLONE_NEWNET) < 0) { perror("setns"); exit(1); }
    close(ns);
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) { perror("/dev/net/tun"); exit(1); }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, dev, IFNAMSIZ - 1);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    for (int i = 0; ioctl(fd, TUNSETIFF, &ifr) < 0; i++) {
        if (errno != EBUSY || i == 200) { perror("TUNSETIFF"); exit(1); }
        usleep(10000);
    }
    int hs = 12;
    if (ioctl(fd, TUNSETVNETHDRSZ, &hs) < 0 || ioctl(fd, TUNSETOFFLOAD, 0) < 0) { perror("tap"); exit(1); }
    return fd;
}
#endif
