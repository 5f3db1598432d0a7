/* liburing reference for `nettap forward --engine uring` (bench/e2e-uring): the same batched work as
 * dev.nettap.UringForwarder, on Debian's liburing: one thread, one ring, both TAPs registered files,
 * one multishot READ (IORING_OP_READ_MULTISHOT, Linux 6.7+) per TAP into a provided-buffer ring of 64
 * buffers of 69632 bytes, each frame written to the other TAP straight from its buffer (WRITE, fixed
 * file), the buffer given back when the write completes; io_uring_submit_and_wait_timeout (200 ms)
 * submits and reaps in one call, completions reaped in batches. Same device set-up as bench/c/forward.c
 * (attach by name inside each namespace, header size 12, the same offloads). An idle second thread is
 * kept alive, as in every JVM.
 * usage: forward-uring NETNS_A DEV_A NETNS_B DEV_B on|off   -> prints "ready", runs until SIGINT/SIGTERM,
 *        prints one summary line; exit 3 when a device disappears. */
#include "forwarder.h"
#include <liburing.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#define OP_READ_MULTISHOT 49 /* IORING_OP_READ_MULTISHOT: newer than liburing 2.3's header */
#define NBUF 64
#define GROUP 0
#define WRITE_FLAG (1ULL << 32)

static atomic_int stop;

static void on_signal(int sig) { (void)sig; atomic_store(&stop, 1); }

static void arm(struct io_uring *ring, int member) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    if (!sqe) { io_uring_submit(ring); sqe = io_uring_get_sqe(ring); }
    io_uring_prep_rw(OP_READ_MULTISHOT, sqe, member, NULL, 0, 0);
    sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
    sqe->buf_group = GROUP;
    io_uring_sqe_set_data64(sqe, (uint64_t)member);
}

int main(int argc, char **argv) {
    if (argc != 6 || (strcmp(argv[5], "on") && strcmp(argv[5], "off"))) {
        fprintf(stderr, "usage: %s NETNS_A DEV_A NETNS_B DEV_B on|off\n", argv[0]);
        return 2;
    }
    unsigned flags = strcmp(argv[5], "on") ? 0
        : TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_USO4 | TUN_F_USO6;
    int fds[2] = {open_tap(argv[1], argv[2], flags), open_tap(argv[3], argv[4], flags)};
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: io_uring_enter returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    start_idle_thread();

    struct io_uring ring;
    struct io_uring_params p = {.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL, .cq_entries = 512};
    int e = io_uring_queue_init_params(NBUF + 4, &ring, &p);
    if (e < 0) { fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-e)); return 1; }
    if ((e = io_uring_register_files(&ring, fds, 2)) < 0) { fprintf(stderr, "register_files: %s\n", strerror(-e)); return 1; }
    struct io_uring_buf_ring *br = aligned_alloc(4096, NBUF * sizeof(struct io_uring_buf));
    uint8_t *bufs = aligned_alloc(64, (size_t)NBUF * BUF);
    io_uring_buf_ring_init(br);
    struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)br, .ring_entries = NBUF, .bgid = GROUP};
    if ((e = io_uring_register_buf_ring(&ring, &reg, 0)) < 0) { fprintf(stderr, "register_buf_ring: %s\n", strerror(-e)); return 1; }
    int mask = io_uring_buf_ring_mask(NBUF);
    for (int i = 0; i < NBUF; i++) io_uring_buf_ring_add(br, bufs + (size_t)i * BUF, BUF, (unsigned short)i, mask, i);
    io_uring_buf_ring_advance(br, NBUF);
    arm(&ring, 0);
    arm(&ring, 1);
    printf("forward-uring.c: ready: %s <-> %s, offloads %s\n", argv[2], argv[4], argv[5]);
    fflush(stdout);

    unsigned long frames = 0, bytes = 0, dropped = 0, malformed = 0;
    int gone = 0, starved[2] = {0, 0};
    struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 200000000};
    while (!atomic_load_explicit(&stop, memory_order_relaxed) && !gone) {
        struct io_uring_cqe *cqe;
        e = io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, NULL);
        if (e < 0 && e != -ETIME && e != -EINTR) { fprintf(stderr, "submit_and_wait: %s\n", strerror(-e)); break; }
        unsigned head, seen = 0, recycled = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            seen++;
            uint64_t ud = cqe->user_data;
            int res = cqe->res;
            if (ud & WRITE_FLAG) { /* a forwarded frame left: its buffer goes back */
                int id = (int)(ud & 0xffff);
                io_uring_buf_ring_add(br, bufs + (size_t)id * BUF, BUF, (unsigned short)id, mask, (int)recycled++);
                if (res >= 0) { frames++; bytes += (unsigned long)(res - HDR); }
                else if (res == -EINVAL) malformed++;
                else if (res == -EBADFD) gone = 1;
                else dropped++;
                continue;
            }
            int member = (int)ud;
            if (cqe->flags & IORING_CQE_F_BUFFER) {
                int id = (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
                if (res == HDR + BUF) { /* possibly truncated: never forward */
                    malformed++;
                    io_uring_buf_ring_add(br, bufs + (size_t)id * BUF, BUF, (unsigned short)id, mask, (int)recycled++);
                } else {
                    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
                    if (!sqe) { io_uring_submit(&ring); sqe = io_uring_get_sqe(&ring); }
                    io_uring_prep_write(sqe, 1 - member, bufs + (size_t)id * BUF, (unsigned)res, 0);
                    sqe->flags |= IOSQE_FIXED_FILE;
                    io_uring_sqe_set_data64(sqe, WRITE_FLAG | (uint64_t)id);
                }
            } else if (res == -ENOBUFS) {
                starved[member] = 1;
            } else if (res == -EBADFD) {
                gone = 1;
            }
            if (!(cqe->flags & IORING_CQE_F_MORE) && res != -ENOBUFS && !gone) arm(&ring, member);
        }
        io_uring_cq_advance(&ring, seen);
        if (recycled) {
            io_uring_buf_ring_advance(br, (int)recycled);
            for (int m = 0; m < 2; m++) if (starved[m]) { starved[m] = 0; arm(&ring, m); }
        }
    }
    printf("forward-uring.c: %s: %lu frames, %lu bytes, drops %lu, malformed %lu\n", gone ? "device gone" : "stopped",
           frames, bytes, dropped, malformed);
    fflush(stdout);
    io_uring_queue_exit(&ring);
    return gone ? 3 : 0;
}
