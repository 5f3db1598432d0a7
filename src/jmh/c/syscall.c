/* C reference for SyscallBench: getpid() and a failing close(-1) reading errno, with a second
 * thread alive (the kernel takes cheaper paths in single-threaded processes; a JVM has many). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void *idle(void *arg) { (void)arg; for (;;) pause(); return NULL; }

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(void) {
    pthread_t t;
    pthread_create(&t, NULL, idle, NULL);
    enum { ROUNDS = 9, N = 2000000 };
    double gp[ROUNDS], cl[ROUNDS];
    volatile long sink = 0;
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_ns();
        for (int i = 0; i < N; i++) sink += syscall(SYS_getpid); /* glibc caches nothing, but be explicit */
        double t1 = now_ns();
        for (int i = 0; i < N; i++) sink += close(-1) < 0 ? errno : 0;
        double t2 = now_ns();
        gp[r] = (t1 - t0) / N;
        cl[r] = (t2 - t1) / N;
    }
    qsort(gp, ROUNDS, sizeof gp[0], cmp);
    qsort(cl, ROUNDS, sizeof cl[0], cmp);
    printf("c getpid %.1f ns/op\nc closeBadFdErrno %.1f ns/op\n", gp[ROUNDS / 2], cl[ROUNDS / 2]);
    return sink == 42 ? 1 : 0;
}
