/* C references for the JMH benchmarks, timed over the same work:
 *   rfc1071      RFC 1071's own loop (16-bit words in native order, 32-bit accumulator, fold at
 *                the end) over 20, 64, 1500 and 65535 bytes, like ChecksumBench;
 *   ipv4_header  the IPv4 header checksum of a 20-byte header 14 bytes into a frame, with the same
 *                validation as Checksums.ipv4HeaderChecksum (version 4, IHL 5, else a slow path)
 *                and the same five 32-bit loads, like Ipv4HeaderBench;
 *   hdr_build / hdr_parse  writing a whole TSO4 virtio_net_hdr_v1 and reading every field into a
 *                caller-owned struct with the GSO type checked, like HeaderBench.
 * No system calls, so no second thread is needed. Each function is noinline and its input goes
 * through an empty asm barrier every call, so nothing is hoisted out of the timing loop.
 * Prints one line per case: "<tag> <case> <size> <median ns/op> ns/op" (median of 9 rounds).
 * Built by bench/jmh with gcc -O2 and gcc -O3 -march=native. */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

__attribute__((noinline)) static uint16_t rfc1071(const void *addr, size_t count) {
    const uint16_t *p = addr;
    uint32_t sum = 0;
    while (count > 1) {
        sum += *p++;
        count -= 2;
    }
    if (count > 0)
        sum += *(const uint8_t *)p;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* Any IHL, byte pairs, checksum field skipped: the slow path (options), as in Java. */
static int ipv4_header_general(const uint8_t *h, size_t avail) {
    if (avail < 1 || (h[0] >> 4) != 4 || (h[0] & 15) < 5 || (size_t)(h[0] & 15) * 4 > avail)
        return -1;
    size_t len = (size_t)(h[0] & 15) * 4;
    uint32_t sum = 0;
    for (size_t i = 0; i < len; i += 2)
        if (i != 10)
            sum += (uint32_t)(h[i] << 8 | h[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* IHL 5: five 32-bit loads in native (little-endian) order, checksum field masked out. */
__attribute__((noinline)) static int ipv4_header(const uint8_t *h, size_t avail) {
    if (avail >= 20 && h[0] == 0x45) {
        uint32_t w[5];
        memcpy(w, h, 20);
        uint64_t acc = (uint64_t)w[0] + w[1] + (w[2] & 0xffff) + w[3] + w[4];
        acc = (acc & 0xffff) + (acc >> 16);
        acc = (acc & 0xffff) + (acc >> 16);
        uint32_t s = (uint32_t)((acc & 0xffff) + (acc >> 16));
        s = ((s & 0xff) << 8) | (s >> 8);
        return (uint16_t)~s;
    }
    return ipv4_header_general(h, avail);
}

struct virtio_net_hdr_v1 {
    uint8_t flags, gso_type;
    uint16_t hdr_len, gso_size, csum_start, csum_offset, num_buffers;
};

struct parsed {
    bool needs_csum, data_valid, ecn;
    int gso_type;
    int hdr_len, gso_size, csum_start, csum_offset, num_buffers;
};

__attribute__((noinline)) static void hdr_build(void *p, int start, int offset, int hdr_len, int gso_size) {
    struct virtio_net_hdr_v1 *h = p; /* 64-byte aligned buffer: aligned field stores */
    h->flags = 1;     /* NEEDS_CSUM */
    h->gso_type = 1;  /* TCPV4 */
    h->hdr_len = (uint16_t)hdr_len;
    h->gso_size = (uint16_t)gso_size;
    h->csum_start = (uint16_t)start;
    h->csum_offset = (uint16_t)offset;
    h->num_buffers = 0;
}

__attribute__((noinline)) static int hdr_parse(const void *p, struct parsed *out) {
    const struct virtio_net_hdr_v1 *hp = p;
    struct virtio_net_hdr_v1 h = *hp;
    int t = h.gso_type & 0x7f;
    if (t != 0 && t != 1 && t != 3 && t != 4 && t != 5)
        return -1;
    out->needs_csum = h.flags & 1;
    out->data_valid = h.flags & 2;
    out->gso_type = t;
    out->ecn = h.gso_type & 0x80;
    out->hdr_len = h.hdr_len;
    out->gso_size = h.gso_size;
    out->csum_start = h.csum_start;
    out->csum_offset = h.csum_offset;
    out->num_buffers = h.num_buffers;
    return 0;
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define BARRIER(p) __asm__ volatile("" : : "r"(p) : "memory") /* data may have changed: no hoisting */

/* Median over 9 rounds of `iters` runs of the statements, printed as one line. */
#define TIME(tag, name, size, iters, ...)                                           \
    do {                                                                           \
        double samples[9];                                                         \
        for (int round = 0; round < 9; round++) {                                  \
            double t0 = now_ns();                                                  \
            for (long i = 0; i < (iters); i++) {                                   \
                __VA_ARGS__;                                                       \
            }                                                                      \
            samples[round] = (now_ns() - t0) / (iters);                            \
        }                                                                          \
        qsort(samples, 9, sizeof samples[0], cmp);                                 \
        printf("%s %s %zu %.2f ns/op\n", tag, name, (size_t)(size), samples[4]);   \
        fflush(stdout);                                                            \
    } while (0)

int main(int argc, char **argv) {
    const char *tag = argc > 1 ? argv[1] : "c";
    static const size_t sizes[] = {20, 64, 1500, 65535};
    uint8_t *buf = aligned_alloc(64, 65536);
    uint8_t *frame = aligned_alloc(64, 64);
    uint8_t *hdr = aligned_alloc(64, 64);
    struct parsed *parsed = aligned_alloc(64, 64);
    srand(1071);
    for (int i = 0; i < 65536; i++)
        buf[i] = (uint8_t)rand();
    for (int i = 0; i < 64; i++)
        frame[i] = (uint8_t)rand();
    frame[14] = 0x45;
    volatile uint32_t sink = 0;
    volatile int v_start = 34, v_offset = 16, v_hdr_len = 54, v_gso = 1448;
    int start = v_start, offset = v_offset, hlen = v_hdr_len, gso = v_gso;

    for (int s = 0; s < 4; s++) {
        size_t size = sizes[s];
        long iters = (long)(200000000L / (size + 16));
        TIME(tag, "rfc1071", size, iters, BARRIER(buf); sink += rfc1071(buf, size));
    }
    TIME(tag, "ipv4Header", 20, 100000000L, BARRIER(frame); sink += (uint32_t)ipv4_header(frame + 14, 50));
    TIME(tag, "hdrBuild", 12, 100000000L, BARRIER(hdr); hdr_build(hdr, start, offset, hlen, gso));
    hdr_build(hdr, start, offset, hlen, gso);
    ((struct virtio_net_hdr_v1 *)hdr)->num_buffers = 1;
    TIME(tag, "hdrParse", 12, 100000000L, BARRIER(hdr); BARRIER(parsed); sink += (uint32_t)hdr_parse(hdr, parsed));
    return sink == 42 ? 1 : 0;
}
