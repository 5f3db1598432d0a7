package dev.nettap;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.linux.pollfd;
import dev.nettap.internal.linux.sockaddr_un;
import dev.nettap.internal.sys.PollCalls;
import dev.nettap.internal.sys.SocketCalls;
import dev.nettap.internal.sys.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.locks.LockSupport;

/**
 * The {@code AF_UNIX} stream socket plumbing of {@link FdPassing}, every wait bounded by a deadline:
 * the {@code sockaddr_un} of a path, a new non-blocking socket, {@code bind}, {@code listen}, an
 * {@code accept4} and a {@code connect} that give up at the deadline, and the {@code poll} wait they
 * share. Errors are {@link TapException}s naming the syscall, errno and socket ({@code where}).
 *
 * <p><b>Threads.</b> Stateless: every method is static; the arena and errno slot passed in belong to
 * the calling thread.
 *
 * <p><b>Invariants.</b> A deadline is a {@link System#nanoTime()} value ({@link #deadline} caps it
 * at one day ahead); a {@link TapException.Kind#TIMEOUT} is thrown only once it has passed, and
 * {@code poll} timeouts round up to whole milliseconds so no wait ends early. Nothing here closes a
 * socket: the caller owns every fd, including the ones {@link #socket} and {@link #accept} return.
 */
final class UnixSockets {
    private UnixSockets() {}

    /**
     * The deadline {@code timeout} from now (capped at one day).
     *
     * @throws IllegalArgumentException if {@code timeout} is negative
     */
    static long deadline(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("negative timeout " + timeout);
        }
        long nanos = timeout.compareTo(Duration.ofDays(1)) > 0 ? Duration.ofDays(1).toNanos() : timeout.toNanos();
        return System.nanoTime() + nanos;
    }

    /**
     * The {@code sockaddr_un} of {@code socketPath}, in {@code arena}.
     *
     * @throws IllegalArgumentException if the path is empty or longer than {@code sun_path} holds
     */
    static MemorySegment address(Arena arena, Path socketPath) {
        byte[] p = socketPath.toString().getBytes(StandardCharsets.UTF_8);
        long max = sockaddr_un.sun_path$layout().byteSize() - 1;
        if (p.length == 0 || p.length > max) {
            throw new IllegalArgumentException("a Unix socket path is 1 to " + max + " bytes: " + socketPath);
        }
        MemorySegment addr = sockaddr_un.allocate(arena);
        sockaddr_un.sun_family(addr, (short) linux_h.AF_UNIX());
        // p.length <= max = sizeof(sun_path) - 1: the copy stays inside sun_path and leaves its NUL.
        MemorySegment.copy(p, 0, sockaddr_un.sun_path(addr), ValueLayout.JAVA_BYTE, 0, p.length);
        return addr;
    }

    /** A new non-blocking, close-on-exec {@code AF_UNIX} stream socket, for {@code where}. */
    static int socket(MemorySegment err, String where) throws TapException {
        int fd = SocketCalls.socket(err, linux_h.AF_UNIX(),
                linux_h.SOCK_STREAM() | linux_h.SOCK_CLOEXEC() | linux_h.SOCK_NONBLOCK(), 0);
        if (fd < 0) {
            throw TapException.syscall("socket(AF_UNIX)", Sys.errno(err), where, null);
        }
        return fd;
    }

    /** Binds {@code fd} to {@code addr} (from {@link #address}); a file already there is {@code EADDRINUSE}. */
    static void bind(MemorySegment err, int fd, MemorySegment addr, String where) throws TapException {
        if (SocketCalls.bind(err, fd, addr, (int) sockaddr_un.sizeof()) < 0) {
            int e = Sys.errno(err);
            throw TapException.syscall("bind", e, where, e == linux_h.EADDRINUSE()
                    ? "a file is already there (a stale socket?): remove it or choose another path" : null);
        }
    }

    /** Makes the bound {@code fd} listen, with a backlog of one. */
    static void listen(MemorySegment err, int fd, String where) throws TapException {
        if (SocketCalls.listen(err, fd, 1) < 0) {
            throw TapException.syscall("listen", Sys.errno(err), where, null);
        }
    }

    /**
     * Accepts the first connection on {@code listener} before {@code deadline}: a new non-blocking,
     * close-on-exec socket the caller owns.
     *
     * @throws TapException of kind {@link TapException.Kind#TIMEOUT} when nobody connected in time,
     *                      or {@link TapException.Kind#SYSCALL}
     */
    static int accept(MemorySegment err, Arena arena, int listener, long deadline, String where) throws TapException {
        while (true) {
            awaitReadable(err, arena, listener, deadline, where, "no sender connected");
            int conn = SocketCalls.accept4(err, listener, MemorySegment.NULL, MemorySegment.NULL,
                    linux_h.SOCK_CLOEXEC() | linux_h.SOCK_NONBLOCK());
            if (conn >= 0) {
                return conn;
            }
            int e = Sys.errno(err);
            if (e != linux_h.EAGAIN() && e != linux_h.EINTR() && e != linux_h.ECONNABORTED()) {
                throw TapException.syscall("accept4", e, where, null);
            }
        }
    }

    /**
     * Connects the non-blocking {@code sock} to {@code addr} before {@code deadline}. A listener
     * whose backlog is full answers {@code EAGAIN}, and {@code poll} cannot wait for room: that is
     * retried with a back-off (1 ms doubling to 50 ms) until the deadline.
     *
     * @throws TapException of kind {@link TapException.Kind#TIMEOUT} when the deadline passed first,
     *                      or {@link TapException.Kind#SYSCALL} ({@code ENOENT} or
     *                      {@code ECONNREFUSED} when nobody listens there)
     */
    static void connect(MemorySegment err, Arena arena, int sock, MemorySegment addr, long deadline, String where)
            throws TapException {
        long backoff = 1_000_000; // a full backlog gives EAGAIN, and poll cannot wait for room: retry
        while (SocketCalls.connect(err, sock, addr, (int) sockaddr_un.sizeof()) < 0) {
            int e = Sys.errno(err);
            if (e == linux_h.EINTR()) {
                continue;
            }
            if (e == linux_h.EINPROGRESS()) {
                awaitPoll(err, arena, sock, linux_h.POLLOUT(), deadline, where, "the connection was not accepted");
                break;
            }
            if (e != linux_h.EAGAIN()) {
                throw TapException.syscall("connect", e, where,
                        e == linux_h.ENOENT() || e == linux_h.ECONNREFUSED() ? "nobody listens there (yet)" : null);
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new TapException(TapException.Kind.TIMEOUT, "connect", e, where,
                        "the listener on " + where + " did not take the connection within the timeout"
                                + " (its backlog is full: it does not accept)");
            }
            LockSupport.parkNanos(Math.min(left, backoff));
            backoff = Math.min(backoff * 2, 50_000_000);
        }
    }

    /** Waits in {@code poll} until {@code fd} is readable (or hung up) or the deadline passes. */
    static void awaitReadable(MemorySegment err, Arena arena, int fd, long deadline, String where, String what)
            throws TapException {
        awaitPoll(err, arena, fd, linux_h.POLLIN(), deadline, where, what);
    }

    /**
     * Waits in {@code poll} until {@code fd} reports {@code events} (or an error) or the deadline
     * passes; {@code what} on {@code where} names what did not happen in the timeout's message.
     */
    static void awaitPoll(MemorySegment err, Arena arena, int fd, int events, long deadline, String where,
                          String what) throws TapException {
        MemorySegment pfd = pollfd.allocate(arena);
        while (true) {
            int ms = Timeouts.pollMillis(deadline);
            pollfd.fd(pfd, fd);
            pollfd.events(pfd, (short) events);
            pollfd.revents(pfd, (short) 0);
            int r = PollCalls.poll(err, pfd, 1, ms);
            if (r < 0) {
                int e = Sys.errno(err);
                if (e == linux_h.EINTR()) {
                    continue;
                }
                throw TapException.syscall("poll", e, where, null);
            }
            short revents = pollfd.revents(pfd);
            if (r > 0 && (revents & linux_h.POLLNVAL()) != 0) {
                throw TapException.syscall("poll", linux_h.EBADF(), where, "not an open file descriptor");
            }
            if (r > 0) {
                return; // POLLIN, POLLHUP or POLLERR: the next call reports which
            }
            if (System.nanoTime() - deadline >= 0) {
                throw new TapException(TapException.Kind.TIMEOUT, "poll", 0, where,
                        what + " on " + where + " within the timeout");
            }
        }
    }
}
