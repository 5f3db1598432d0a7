package dev.nettap;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Sys;
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

    /** As {@link #call(Path, Action)}, with a namespace given by an open fd (still owned by the caller). */
    static <T> T call(int netnsFd, String what, Action<T> action) throws TapException {
        return run(what, () -> {
            MemorySegment err = Sys.errnoSlot();
            if (Sys.setns(err, netnsFd, linux_h.CLONE_NEWNET()) < 0) {
                int e = Sys.errno(err);
                throw TapException.syscall("setns", e, what, e == linux_h.EINVAL() ? "not a network namespace fd" : null);
            }
            return null;
        }, action);
    }

    private static <T> T run(String what, Action<Void> enter, Action<T> action) throws TapException {
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
        int nsfd;
        try (Arena arena = Arena.ofConfined()) {
            nsfd = Sys.open(err, arena.allocateFrom(netns.toString()), linux_h.O_RDONLY() | linux_h.O_CLOEXEC());
        }
        if (nsfd < 0) {
            int e = Sys.errno(err);
            throw TapException.syscall("open", e, "network namespace " + netns,
                    e == linux_h.ENOENT() ? "no such namespace file (ip netns add NAME makes /run/netns/NAME)" : null);
        }
        try {
            if (Sys.setns(err, nsfd, linux_h.CLONE_NEWNET()) < 0) {
                int e = Sys.errno(err);
                throw TapException.syscall("setns", e, "network namespace " + netns,
                        e == linux_h.EINVAL() ? "not a network namespace file"
                                : e == linux_h.EPERM() ? "needs CAP_SYS_ADMIN" : null);
            }
        } finally {
            Sys.close(err, nsfd);
        }
        return null;
    }
}
