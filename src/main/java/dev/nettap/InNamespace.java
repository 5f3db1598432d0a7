package dev.nettap;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Sys;
import dev.nettap.internal.sys.ProcessCalls;
import dev.nettap.internal.sys.FileCalls;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs an action inside another network namespace on a dedicated platform thread that enters the
 * namespace with {@code setns} and ends when the action returns. The calling thread's namespace
 * never changes; what the action opens (a queue, a socket) keeps its namespace when used from any
 * thread afterwards.
 */
final class InNamespace {
    private InNamespace() {}

    /** An action that may throw a {@link TapException}. */
    @FunctionalInterface
    interface Action<T> {
        T run() throws TapException;
    }

    static <T> T call(Path netns, Action<T> action) throws TapException {
        return run("network namespace " + netns, () -> enter(netns), action);
    }

    /**
     * As {@link #call(Path, Action)}, with the namespace given by an open fd of a namespace file
     * (not consumed: the caller keeps it); {@code what} names it in errors and the thread name.
     */
    static <T> T call(int netnsFd, String what, Action<T> action) throws TapException {
        return run(what, () -> {
            enter(Sys.errnoSlot(), netnsFd, what);
            return null;
        }, action);
    }

    private static <T> T run(String what, Action<?> enter, Action<T> action) throws TapException {
        AtomicReference<Object> result = new AtomicReference<>();
        Thread t = Thread.ofPlatform().name("nettap " + what).unstarted(() -> {
            try {
                enter.run();
                result.set(new Ok<>(action.run()));
            } catch (Throwable e) {
                result.set(e);
            }
        });
        t.start();
        boolean interrupted = false;
        while (true) {
            try {
                t.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true; // the thread is short and may own an fd: wait for it, then re-assert
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        Object r = result.get();
        if (r instanceof Ok<?> ok) {
            @SuppressWarnings("unchecked")
            T v = (T) ok.value();
            return v;
        }
        if (r instanceof TapException e) {
            throw e;
        }
        if (r instanceof RuntimeException e) {
            throw e;
        }
        if (r instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException("action in " + what + " failed", (Throwable) r);
    }

    private record Ok<T>(T value) {}

    private static Void enter(Path netns) throws TapException {
        MemorySegment err = Sys.errnoSlot();
        String ctx = "network namespace " + netns;
        int nsfd;
        try (Arena arena = Arena.ofConfined()) {
            nsfd = FileCalls.open(err, arena.allocateFrom(netns.toString()), linux_h.O_RDONLY() | linux_h.O_CLOEXEC());
        }
        if (nsfd < 0) {
            int e = Sys.errno(err);
            throw TapException.syscall("open", e, ctx,
                    e == linux_h.ENOENT() ? "no such namespace file (ip netns add NAME makes /run/netns/NAME)" : null);
        }
        try {
            enter(err, nsfd, ctx);
        } finally {
            FileCalls.close(err, nsfd);
        }
        return null;
    }

    /** {@code setns(nsfd, CLONE_NEWNET)} on this (dedicated) thread; EINVAL means "not a netns". */
    private static void enter(MemorySegment err, int nsfd, String ctx) throws TapException {
        if (ProcessCalls.setns(err, nsfd, linux_h.CLONE_NEWNET()) < 0) {
            int e = Sys.errno(err);
            if (e == linux_h.EINVAL()) {
                throw TapException.syscall(TapException.Kind.NOT_A_NAMESPACE, "setns(CLONE_NEWNET)", e, ctx,
                        "not a network namespace file (another namespace type, or not a namespace at all)");
            }
            throw TapException.syscall("setns(CLONE_NEWNET)", e, ctx,
                    e == linux_h.EPERM() ? "needs CAP_SYS_ADMIN"
                            : e == linux_h.EBADF() ? "not an open file descriptor" : null);
        }
    }
}
