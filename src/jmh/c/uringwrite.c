/* C reference for UringTapBench: the batched TAP write loop on liburing (Debian's liburing-dev):
 * BATCH writev (12-byte virtio-net header + frame, registered file) or WRITE_FIXED (header and frame
 * back to back in one registered buffer) per io_uring_submit_and_wait, on the same persistent TAP,
 * with a second thread alive (as in every JVM).
 * usage: uringwrite NETNS_PATH DEV SIZE SECONDS writev|fixed   -> prints "SIZE MODE ns/op" (per frame) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
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

#define BATCH 32

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

/* One batch: queue BATCH requests, submit them and wait for their completions in one call, reap. */
static long batch(struct io_uring *ring, int fixed, struct iovec *iov, uint8_t *buf, unsigned len) {
    for (int i = 0; i < BATCH; i++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
        if (fixed) io_uring_prep_write_fixed(sqe, 0, buf, len, 0, 0);
        else io_uring_prep_writev(sqe, 0, iov, 2, 0);
        sqe->flags |= IOSQE_FIXED_FILE;
        sqe->user_data = i;
    }
    int r = io_uring_submit_and_wait(ring, BATCH);
    if (r < 0) { fprintf(stderr, "submit: %s\n", strerror(-r)); exit(1); }
    long fails = 0;
    unsigned seen = 0, head;
    struct io_uring_cqe *cqe;
    while (seen < BATCH) {
        unsigned n = 0;
        io_uring_for_each_cqe(ring, head, cqe) {
            if (cqe->res != (int)len) fails++;
            n++;
        }
        io_uring_cq_advance(ring, n);
        seen += n;
        if (seen < BATCH && io_uring_wait_cqe(ring, &cqe) < 0) exit(1);
    }
    return fails;
}

int main(int argc, char **argv) {
    if (argc != 6) { fprintf(stderr, "usage: %s NETNS DEV SIZE SECONDS writev|fixed\n", argv[0]); return 2; }
    size_t size = strtoul(argv[3], NULL, 10);
    double seconds = atof(argv[4]);
    int fixed = strcmp(argv[5], "fixed") == 0;
    int ns = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, CLONE_NEWNET) < 0) { perror("setns"); return 1; }
    close(ns);
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, argv[2], IFNAMSIZ - 1);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    int hs = 12;
    /* A ring of an earlier run may still hold bt0 (the kernel tears rings down asynchronously): retry EBUSY briefly. */
    for (int i = 0; fd >= 0 && ioctl(fd, TUNSETIFF, &ifr) < 0; i++) {
        if (errno != EBUSY || i == 200) { perror("TUNSETIFF"); return 1; }
        usleep(10000);
    }
    if (fd < 0 || ioctl(fd, TUNSETVNETHDRSZ, &hs) < 0
        || ioctl(fd, TUNSETOFFLOAD, 0) < 0) { perror("tap"); return 1; }
    pthread_t t;
    pthread_create(&t, NULL, idle, NULL);
    uint8_t *buf = aligned_alloc(4096, (12 + size + 4095) / 4096 * 4096), *frame = aligned_alloc(64, (size + 63) / 64 * 64), hdr[12];
    build(frame, size, hdr);
    memcpy(buf, hdr, 12);
    memcpy(buf + 12, frame, size);
    struct iovec iov[2] = {{hdr, 12}, {frame, size}};
    struct iovec region = {buf, 12 + size};
    struct io_uring ring;
    int r = io_uring_queue_init(BATCH, &ring, 0);
    if (r < 0 || (r = io_uring_register_files(&ring, &fd, 1)) < 0 || (r = io_uring_register_buffers(&ring, &region, 1)) < 0) {
        fprintf(stderr, "io_uring: %s\n", strerror(-r));
        return 1;
    }
    unsigned len = (unsigned)(12 + size);
    double end = now_ns() + 0.5e9;
    while (now_ns() < end) batch(&ring, fixed, iov, buf, len);
    long n = 0, fails = 0;
    double t0 = now_ns();
    end = t0 + seconds * 1e9;
    for (;;) {
        for (int i = 0; i < 8; i++) fails += batch(&ring, fixed, iov, buf, len);
        n += 8 * BATCH;
        if (now_ns() >= end) break;
    }
    double t1 = now_ns();
    printf("%zu %s %.1f ns/op (%ld failed)\n", size, fixed ? "fixed" : "writev", (t1 - t0) / n, fails);
    io_uring_unregister_files(&ring); /* detach bt0 now, not when the kernel's teardown runs */
    io_uring_unregister_buffers(&ring);
    io_uring_queue_exit(&ring);
    return 0;
}
