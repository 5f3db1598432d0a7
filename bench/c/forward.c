/* C reference for `nettap forward` (bench/e2e): the same loop as dev.nettap.Forwarder, one thread per
 * direction: non-blocking readv of the 12-byte virtio-net header + frame into a 69632-byte buffer,
 * writev of the header unchanged + the frame's bytes to the other device, poll (200 ms) when nothing
 * is to be read. Same device set-up as nettap's Tap.open: attach by name (TUNSETIFF TAP|NO_PI|
 * VNET_HDR) inside each device's network namespace, header size 12, the same offloads (CSUM, TSO4,
 * TSO6, TSO_ECN, and USO4|USO6 when the kernel takes them; or none). An idle third thread is kept
 * alive as in every JVM (the direction threads alone would do: the process is multi-threaded).
 * usage: forward NETNS_A DEV_A NETNS_B DEV_B on|off   -> prints "ready", runs until SIGINT/SIGTERM,
 *        prints one summary line; exit 3 when a device disappears. */
#include "forwarder.h"
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/uio.h>


static atomic_int stop;
static atomic_int gone;

struct dir {
    int in, out;
    unsigned long frames, bytes, dropped, malformed;
};

static void *loop(void *arg) {
    struct dir *d = arg;
    uint8_t hdr[HDR];
    uint8_t *buf = aligned_alloc(64, BUF);
    struct iovec rio[2] = {{hdr, HDR}, {buf, BUF}};
    struct iovec wio[2] = {{hdr, HDR}, {buf, 0}};
    struct pollfd pfd = {.fd = d->in, .events = POLLIN};
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        ssize_t n = readv(d->in, rio, 2);
        if (n >= HDR) {
            if (n == HDR + BUF) { d->malformed++; continue; } /* possibly truncated: never forward */
            wio[1].iov_len = (size_t)(n - HDR);
            if (writev(d->out, wio, 2) >= 0) { d->frames++; d->bytes += (unsigned long)(n - HDR); }
            else if (errno == EINVAL) d->malformed++;
            else if (errno == EBADFD) { atomic_store(&gone, 1); break; }
            else d->dropped++; /* EIO (link down), EAGAIN, ENOBUFS */
        } else if (n < 0 && errno == EAGAIN) {
            if (poll(&pfd, 1, 200) > 0 && (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))) { atomic_store(&gone, 1); break; }
        } else if (n < 0 && errno == EBADFD) {
            atomic_store(&gone, 1);
            break;
        }
    }
    atomic_store(&stop, 1);
    return NULL;
}

static void on_signal(int sig) { (void)sig; atomic_store(&stop, 1); }

int main(int argc, char **argv) {
    if (argc != 6 || (strcmp(argv[5], "on") && strcmp(argv[5], "off"))) {
        fprintf(stderr, "usage: %s NETNS_A DEV_A NETNS_B DEV_B on|off\n", argv[0]);
        return 2;
    }
    unsigned flags = strcmp(argv[5], "on") ? 0
        : TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_USO4 | TUN_F_USO6;
    int a = open_tap(argv[1], argv[2], flags);
    int b = open_tap(argv[3], argv[4], flags);
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: poll returns at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    pthread_t t1, t2;
    struct dir ab = {.in = a, .out = b}, ba = {.in = b, .out = a};
    start_idle_thread();
    pthread_create(&t1, NULL, loop, &ab);
    pthread_create(&t2, NULL, loop, &ba);
    printf("forward.c: ready: %s <-> %s, offloads %s\n", argv[2], argv[4], argv[5]);
    fflush(stdout);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    printf("forward.c: %s: %lu frames, %lu bytes, drops %lu, malformed %lu\n", atomic_load(&gone) ? "device gone" : "stopped",
           ab.frames + ba.frames, ab.bytes + ba.bytes, ab.dropped + ba.dropped, ab.malformed + ba.malformed);
    return atomic_load(&gone) ? 3 : 0;
}
