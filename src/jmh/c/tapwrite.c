/* C reference for TapPathBench.write: the same writev loop (12-byte virtio-net header + frame) on
 * the same persistent TAP, with a second thread alive (as in every JVM).
 * usage: tapwrite NETNS_PATH DEV SIZE SECONDS   -> prints "SIZE ns/op" (mean over the run) */
#define _GNU_SOURCE
#include <arpa/inet.h>
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

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: %s NETNS DEV SIZE SECONDS\n", argv[0]); return 2; }
    size_t size = strtoul(argv[3], NULL, 10);
    double seconds = atof(argv[4]);
    int ns = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, CLONE_NEWNET) < 0) { perror("setns"); return 1; }
    close(ns);
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, argv[2], IFNAMSIZ - 1);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    int hs = 12;
    if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &hs) < 0
        || ioctl(fd, TUNSETOFFLOAD, 0) < 0) { perror("tap"); return 1; }
    pthread_t t;
    pthread_create(&t, NULL, idle, NULL);
    uint8_t *frame = aligned_alloc(64, (size + 63) / 64 * 64), hdr[12];
    build(frame, size, hdr);
    struct iovec iov[2] = {{hdr, 12}, {frame, size}};
    if (writev(fd, iov, 2) != (ssize_t)(size + 12)) { perror("first writev"); return 1; }
    /* warm up, then count frames in the measured window */
    double end = now_ns() + 0.5e9;
    while (now_ns() < end) writev(fd, iov, 2);
    long n = 0, fails = 0;
    double t0 = now_ns();
    end = t0 + seconds * 1e9;
    for (;;) {
        for (int i = 0; i < 256; i++) {
            if (writev(fd, iov, 2) < 0) fails++;
        }
        n += 256;
        if (now_ns() >= end) break;
    }
    double t1 = now_ns();
    printf("%zu %.1f ns/op (%ld failed)\n", size, (t1 - t0) / n, fails);
    return 0;
}
