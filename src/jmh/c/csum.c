/* C reference for the RFC 1071 sum: the RFC's own loop (16-bit words in native order, 32-bit
 * accumulator, fold at the end), timed over the same sizes as ChecksumBench. Prints one line per
 * size: "c<flags> <size> <median ns/op>". Built by bench/jmh with gcc -O2 and -O3 -march=native. */
#define _GNU_SOURCE
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

/* IPv4 header checksum of a 20-byte header with the checksum field skipped. */
__attribute__((noinline)) static uint16_t ipv4_header(const uint8_t *h) {
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2)
        if (i != 10)
            sum += (uint32_t)(h[i] << 8 | h[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
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

int main(int argc, char **argv) {
    const char *tag = argc > 1 ? argv[1] : "c";
    static const size_t sizes[] = {20, 64, 1500, 65535};
    uint8_t *buf = aligned_alloc(64, 65536);
    srand(1071);
    for (int i = 0; i < 65536; i++)
        buf[i] = (uint8_t)rand();
    volatile uint32_t sink = 0;
    for (int s = 0; s < 5; s++) {
        int ip = s == 4;
        size_t size = ip ? 20 : sizes[s];
        double samples[9];
        long iters = ip ? 50000000L : (long)(200000000L / (size + 16));
        for (int round = 0; round < 9; round++) {
            double t0 = now_ns();
            for (long i = 0; i < iters; i++) {
                __asm__ volatile("" : : "r"(buf) : "memory"); /* data may have changed: no hoisting */
                sink += ip ? ipv4_header(buf) : rfc1071(buf, size);
            }
            samples[round] = (now_ns() - t0) / iters;
        }
        qsort(samples, 9, sizeof samples[0], cmp);
        printf("%s %s %zu %.2f ns/op\n", tag, ip ? "ipv4Header" : "rfc1071", size, samples[4]);
    }
    return sink == 42 ? 1 : 0;
}
