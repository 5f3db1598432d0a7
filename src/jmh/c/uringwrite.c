/* C reference for UringTapBench: the batched TAP write loop on liburing (Debian's liburing-dev):
 * BATCH writev (12-byte virtio-net header + frame, registered file) or WRITE_FIXED (header and frame
 * back to back in one registered buffer) per io_uring_submit_and_wait, on the same persistent TAP,
 * with a second thread alive (as in every JVM).
 * usage: uringwrite NETNS_PATH DEV SIZE SECONDS writev|fixed   -> prints "SIZE MODE ns/op" (per frame) */
#include "tapbench.h"
#include <liburing.h>

#define BATCH 32

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
    int fd = open_tap_in(argv[1], argv[2]);
    start_idle_thread();
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
