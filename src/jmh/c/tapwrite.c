/* C reference for TapPathBench.write: the same writev loop (12-byte virtio-net header + frame) on
 * the same persistent TAP, with a second thread alive (as in every JVM).
 * usage: tapwrite NETNS_PATH DEV SIZE SECONDS   -> prints "SIZE ns/op" (mean over the run) */
#include "tapbench.h"

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: %s NETNS DEV SIZE SECONDS\n", argv[0]); return 2; }
    size_t size = strtoul(argv[3], NULL, 10);
    double seconds = atof(argv[4]);
    int fd = open_tap_in(argv[1], argv[2]);
    start_idle_thread();
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
