package dev.nettap;

import dev.nettap.internal.linux.cmsghdr;
import dev.nettap.internal.linux.iovec;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.linux.msghdr;
import dev.nettap.internal.linux.pollfd;
import dev.nettap.internal.linux.sockaddr_un;
import dev.nettap.internal.sys.Sys;
import dev.nettap.internal.sys.SocketCalls;
import dev.nettap.internal.sys.PollCalls;
import dev.nettap.internal.sys.FileCalls;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.locks.LockSupport;

/**
 * Hands TAP queues between processes over Unix domain sockets with {@code SCM_RIGHTS}: one message
 * carries one or more fds (one per queue) and a short label, for instance the device name. What
 * is received becomes {@link TapHandle}s that go through {@link Tap#open(TapHandle)} like any other.
 *
 * <p><b>Wire format.</b> One {@code sendmsg}: the payload is the label in UTF-8 followed by one NUL
 * byte (so an empty label still sends the one data byte a stream socket needs to carry control
 * data), the control data one {@code SOL_SOCKET}/{@code SCM_RIGHTS} message with the fds. A
 * receiver takes the payload up to its first NUL as the label (a sender that does not terminate it
 * works too), at most {@value #MAX_LABEL_BYTES} bytes. Any {@code AF_UNIX} socket type works for the
 * fd variants; the path variants use {@code SOCK_STREAM}.
 *
 * <p><b>Ownership.</b> Sending does not consume the fds: the kernel duplicates them into the
 * message, and the sender keeps (and eventually closes) its own. Received fds are owned by the
 * returned {@link Received}'s handles, with {@code FD_CLOEXEC} (received with
 * {@code MSG_CMSG_CLOEXEC}) and {@code O_NONBLOCK} set; the {@code O_NONBLOCK} flag belongs to the
 * open file, shared with the sender's copy. When a receive fails, every fd that arrived is closed
 * before the exception is thrown: nothing leaks. Socket fds the caller passes are never closed here.
 *
 * <p><b>Threads.</b> All methods are static and thread-safe; two receives on one socket at once
 * would split its messages between them arbitrarily. A receive waits in {@code poll} for at most its
 * timeout; an FFM downcall pins a virtual thread to its carrier while it waits, so call it from a
 * platform thread when the timeout is long.
 */
public final class FdPassing {
    private FdPassing() {}

    /** The most fds one message can carry on Linux ({@code SCM_MAX_FD}). */
    public static final int MAX_FDS = 253;
    /** The longest label, in UTF-8 bytes. */
    public static final int MAX_LABEL_BYTES = 255;

    private static final long CMSG_HDR = cmsghdr.sizeof(); // CMSG_DATA offset: 16 on x86-64

    /**
     * The fds of one received message, as handles, and its label.
     *
     * <p>Owns the handles: {@link #close()} closes every handle that was not yet passed to
     * {@link Tap#open(TapHandle)}, so a try-with-resources around the receive never leaks a queue.
     *
     * @param handles the received fds in the order they were sent, each with an origin such as
     *                {@code fd 7 received on /run/vmm.sock}; never empty
     * @param label   the message's label, {@code ""} when it carried none
     */
    public record Received(List<TapHandle> handles, String label) implements AutoCloseable {
        /**
         * The record.
         *
         * @param handles the handles (copied)
         * @param label   the label
         */
        public Received {
            handles = List.copyOf(handles);
            Objects.requireNonNull(label, "label");
        }

        /** Closes every handle no {@link Tap} took; idempotent. */
        @Override
        public void close() {
            handles.forEach(TapHandle::close);
        }
    }

    // ---- receive ------------------------------------------------------------------------------

    /**
     * Receives one message from a connected Unix domain socket the caller owns (it stays open and
     * its flags are not changed: the receive uses {@code MSG_DONTWAIT} after {@code poll}).
     *
     * @param socketFd a connected {@code AF_UNIX} socket (or one end of a {@code socketpair})
     * @param maxFds   the most fds the caller accepts, 1 to {@value #MAX_FDS}
     * @param timeout  how long to wait for the message; {@link Duration#ZERO} takes only one already
     *                 queued
     * @return the handles (origins {@code fd N received on socket fd S}) and the label
     * @throws IllegalArgumentException if {@code maxFds} or {@code timeout} is out of range
     * @throws TapException             of kind {@link TapException.Kind#TIMEOUT},
     *                                  {@link TapException.Kind#PEER_CLOSED} (end of stream),
     *                                  {@link TapException.Kind#NO_FDS},
     *                                  {@link TapException.Kind#TOO_MANY_FDS},
     *                                  {@link TapException.Kind#TRUNCATED}, or
     *                                  {@link TapException.Kind#SYSCALL} (not an open socket, ...);
     *                                  every fd that arrived has been closed
     */
    public static Received receive(int socketFd, int maxFds, Duration timeout) throws TapException {
        if (socketFd < 0) {
            throw new IllegalArgumentException("socketFd must be an open socket, not " + socketFd);
        }
        checkMaxFds(maxFds);
        long deadline = deadline(timeout);
        Platform.requireLinux();
        return receive(socketFd, maxFds, deadline, "socket fd " + socketFd, MAX_FDS);
    }

    /**
     * Listens on a new Unix domain socket at {@code socketPath}, accepts the first sender that
     * connects, receives one message from it, then closes both sockets and removes the socket file.
     * The path must not exist yet (a stale socket file gives {@code EADDRINUSE}); its directory
     * decides who may connect, so keep it private to the sender.
     *
     * @param socketPath where to listen, at most 107 bytes
     * @param maxFds     the most fds the caller accepts, 1 to {@value #MAX_FDS}
     * @param timeout    how long to wait for a sender to connect and send, in all
     * @return the handles (origins {@code fd N received on PATH}) and the label
     * @throws IllegalArgumentException if an argument is out of range
     * @throws TapException             as for {@link #receive(int, int, Duration)}, and of kind
     *                                  {@link TapException.Kind#SYSCALL} if the socket cannot be made
     */
    public static Received receive(Path socketPath, int maxFds, Duration timeout) throws TapException {
        checkMaxFds(maxFds);
        long deadline = deadline(timeout);
        Platform.requireLinux();
        String where = socketPath.toString();
        MemorySegment err = Sys.errnoSlot();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment addr = address(arena, socketPath);
            int listener = unixSocket(err, where);
            boolean bound = false;
            try {
                if (SocketCalls.bind(err, listener, addr, (int) sockaddr_un.sizeof()) < 0) {
                    int e = Sys.errno(err);
                    throw TapException.syscall("bind", e, where, e == linux_h.EADDRINUSE()
                            ? "a file is already there (a stale socket?): remove it or choose another path" : null);
                }
                bound = true;
                if (SocketCalls.listen(err, listener, 1) < 0) {
                    throw TapException.syscall("listen", Sys.errno(err), where, null);
                }
                int conn;
                while (true) {
                    awaitReadable(err, arena, listener, deadline, where, "no sender connected");
                    conn = SocketCalls.accept4(err, listener, MemorySegment.NULL, MemorySegment.NULL,
                            linux_h.SOCK_CLOEXEC() | linux_h.SOCK_NONBLOCK());
                    if (conn >= 0) {
                        break;
                    }
                    int e = Sys.errno(err);
                    if (e != linux_h.EAGAIN() && e != linux_h.EINTR() && e != linux_h.ECONNABORTED()) {
                        throw TapException.syscall("accept4", e, where, null);
                    }
                }
                try {
                    return receive(conn, maxFds, deadline, where, MAX_FDS);
                } finally {
                    FileCalls.close(err, conn);
                }
            } finally {
                FileCalls.close(err, listener);
                if (bound) {
                    try {
                        Files.deleteIfExists(socketPath);
                    } catch (IOException ignored) {
                        // best effort: the socket is closed, a stale file only blocks the next bind
                    }
                }
            }
        }
    }

    /** Makes a handle of a received fd; closes the fd itself when it throws a {@link TapException}. */
    @FunctionalInterface
    interface Adopter {
        TapHandle adopt(int fd, String origin) throws TapException;
    }

    private static final Adopter ADOPT = (fd, origin) -> TapHandle.adopt(fd, origin, null);

    /** The receive itself; {@code controlFds} sizes the control buffer (tests shrink it to force MSG_CTRUNC). */
    static Received receive(int sock, int maxFds, long deadline, String where, int controlFds) throws TapException {
        return receive(sock, maxFds, deadline, where, controlFds, ADOPT);
    }

    /** As above with the handle factory given (tests inject failures with it). */
    static Received receive(int sock, int maxFds, long deadline, String where, int controlFds, Adopter adopter)
            throws TapException {
        MemorySegment err = Sys.errnoSlot();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(MAX_LABEL_BYTES + 1);
            MemorySegment iov = iovec.allocate(arena);
            iovec.iov_base(iov, data);
            iovec.iov_len(iov, data.byteSize());
            long controlLen = cmsgSpace(4L * controlFds);
            MemorySegment control = arena.allocate(controlLen, 8);
            MemorySegment msg = msghdr.allocate(arena);
            long n;
            while (true) {
                awaitReadable(err, arena, sock, deadline, where, "no message arrived");
                msghdr.msg_name(msg, MemorySegment.NULL);
                msghdr.msg_namelen(msg, 0);
                msghdr.msg_iov(msg, iov);
                msghdr.msg_iovlen(msg, 1);
                msghdr.msg_control(msg, control);
                msghdr.msg_controllen(msg, controlLen);
                msghdr.msg_flags(msg, 0);
                // SAFETY: msg, iov, data and control live in this confined arena until the method
                // returns; iov_len and msg_controllen are exactly their segments' sizes, so the
                // kernel writes only inside them.
                n = SocketCalls.recvmsg(err, sock, msg, linux_h.MSG_CMSG_CLOEXEC() | linux_h.MSG_DONTWAIT());
                if (n >= 0) {
                    break;
                }
                int e = Sys.errno(err);
                if (e != linux_h.EAGAIN() && e != linux_h.EINTR()) {
                    throw TapException.syscall("recvmsg", e, where,
                            e == linux_h.ENOTSOCK() ? "not a socket" : e == linux_h.EBADF() ? "not an open file descriptor" : null);
                }
            }
            // From here on the fds in the control buffer are ours: on any Throwable, every one that
            // no handle owns yet is closed (the walk over the buffer allocates nothing).
            long valid = Math.min(msghdr.msg_controllen(msg), controlLen);
            List<TapHandle> handles = null;
            int consumed = 0; // fds, in message order, whose ownership has moved to a handle (or was closed by adopt)
            try {
                List<Integer> fds = collectFds(control, valid);
                int flags = msghdr.msg_flags(msg);
                String label = label(data, n);
                if ((flags & linux_h.MSG_CTRUNC()) != 0) {
                    throw new TapException(TapException.Kind.TRUNCATED, "recvmsg", 0, where,
                            "the message on " + where + " had its control data truncated (MSG_CTRUNC: more fds or"
                                    + " control messages than the buffer held); the " + fds.size() + " fd(s) that arrived were closed");
                }
                if (n == 0 && fds.isEmpty()) {
                    throw new TapException(TapException.Kind.PEER_CLOSED, "recvmsg", 0, where,
                            "the peer on " + where + " closed the connection before sending a message with fds");
                }
                if (fds.isEmpty()) {
                    throw new TapException(TapException.Kind.NO_FDS, "recvmsg", 0, where,
                            "the message on " + where + " (" + n + " bytes, label \"" + label + "\") carried no fd (no SCM_RIGHTS)");
                }
                if (fds.size() > maxFds) {
                    throw new TapException(TapException.Kind.TOO_MANY_FDS, "recvmsg", 0, where,
                            "the message on " + where + " (label \"" + label + "\") carried " + fds.size()
                                    + " fds, at most " + maxFds + " were asked for; all were closed");
                }
                handles = new ArrayList<>(fds.size());
                for (int i = 0; i < fds.size(); i++) {
                    int fd = fds.get(i);
                    TapHandle h;
                    try {
                        h = adopter.adopt(fd, "fd " + fd + " received on " + where);
                    } catch (TapException e) {
                        consumed = i + 1; // adopt closed it
                        throw e;
                    }
                    handles.add(h); // presized: cannot fail
                    consumed = i + 1;
                }
                return new Received(handles, label);
            } catch (Throwable t) {
                if (handles != null) {
                    for (TapHandle h : handles) {
                        h.close();
                    }
                }
                closeControlFds(err, control, valid, consumed);
                throw t;
            }
        }
    }

    /** Closes every fd of the {@code SCM_RIGHTS} messages in {@code control} from the {@code skip}-th on, allocating nothing. */
    private static void closeControlFds(MemorySegment err, MemorySegment control, long len, int skip) {
        long off = 0;
        int index = 0;
        while (off + CMSG_HDR <= len) {
            long cmsgLen = control.get(ValueLayout.JAVA_LONG, off + cmsghdr.cmsg_len$offset());
            if (cmsgLen < CMSG_HDR || off + cmsgLen > len) {
                break;
            }
            int level = control.get(ValueLayout.JAVA_INT, off + cmsghdr.cmsg_level$offset());
            int type = control.get(ValueLayout.JAVA_INT, off + cmsghdr.cmsg_type$offset());
            if (level == linux_h.SOL_SOCKET() && type == linux_h.SCM_RIGHTS()) {
                long count = (cmsgLen - CMSG_HDR) / 4;
                for (long i = 0; i < count; i++, index++) {
                    if (index >= skip) {
                        FileCalls.close(err, control.get(ValueLayout.JAVA_INT, off + CMSG_HDR + 4 * i));
                    }
                }
            }
            off += align(cmsgLen);
        }
    }

    /** Every fd in the {@code SCM_RIGHTS} messages of the first {@code len} bytes of {@code control}. */
    private static List<Integer> collectFds(MemorySegment control, long len) {
        List<Integer> fds = new ArrayList<>();
        long off = 0;
        while (off + CMSG_HDR <= len) {
            MemorySegment c = control.asSlice(off);
            long cmsgLen = cmsghdr.cmsg_len(c);
            if (cmsgLen < CMSG_HDR || off + cmsgLen > len) {
                break; // malformed or cut: the kernel never writes this, stop rather than guess
            }
            if (cmsghdr.cmsg_level(c) == linux_h.SOL_SOCKET() && cmsghdr.cmsg_type(c) == linux_h.SCM_RIGHTS()) {
                long count = (cmsgLen - CMSG_HDR) / 4;
                for (long i = 0; i < count; i++) {
                    fds.add(c.get(ValueLayout.JAVA_INT, CMSG_HDR + 4 * i));
                }
            }
            off += align(cmsgLen);
        }
        return fds;
    }

    private static String label(MemorySegment data, long n) {
        byte[] bytes = data.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
        int end = 0;
        while (end < bytes.length && bytes[end] != 0) {
            end++;
        }
        return new String(bytes, 0, end, StandardCharsets.UTF_8);
    }

    // ---- send ---------------------------------------------------------------------------------

    /**
     * Sends {@code fds} and {@code label} in one message on a connected Unix domain socket the caller
     * owns. The fds stay the caller's: the receiver gets duplicates of the same open files.
     *
     * @param socketFd a connected {@code AF_UNIX} socket
     * @param label    a short label, e.g. the device name: at most {@value #MAX_LABEL_BYTES} UTF-8
     *                 bytes, no NUL
     * @param fds      1 to {@value #MAX_FDS} open fds
     * @throws IllegalArgumentException if the label or the fd list is out of range
     * @throws TapException             of kind {@link TapException.Kind#SYSCALL} if {@code sendmsg}
     *                                  fails ({@code EBADF} for an fd that is not open, {@code EAGAIN}
     *                                  when a non-blocking socket is full, {@code EPIPE} when the peer
     *                                  is gone)
     */
    public static void send(int socketFd, String label, int... fds) throws TapException {
        if (socketFd < 0) {
            throw new IllegalArgumentException("socketFd must be an open socket, not " + socketFd);
        }
        byte[] payload = payload(label);
        checkFds(fds);
        Platform.requireLinux();
        send(socketFd, payload, fds, "socket fd " + socketFd);
    }

    /**
     * Connects to the Unix domain socket at {@code socketPath} (a receiver waiting in
     * {@link #receive(Path, int, Duration)}, or any service that takes fds this way), sends
     * {@code fds} and {@code label} in one message, and closes the connection, all within
     * {@code timeout}: a listener that never accepts (its backlog full) or never reads cannot hold
     * the caller longer. The fds stay the caller's.
     *
     * @param socketPath the listening socket, at most 107 bytes
     * @param label      as for {@link #send(int, String, int...)}
     * @param timeout    how long connecting and sending may take in all; not negative
     * @param fds        1 to {@value #MAX_FDS} open fds
     * @throws IllegalArgumentException if an argument is out of range
     * @throws TapException             of kind {@link TapException.Kind#TIMEOUT} when the timeout
     *                                  passed first, or {@link TapException.Kind#SYSCALL}:
     *                                  {@code ENOENT} or {@code ECONNREFUSED} when nobody listens
     *                                  there, or a failed {@code sendmsg}
     */
    public static void send(Path socketPath, String label, Duration timeout, int... fds) throws TapException {
        byte[] payload = payload(label);
        checkFds(fds);
        long deadline = deadline(timeout);
        Platform.requireLinux();
        String where = socketPath.toString();
        MemorySegment err = Sys.errnoSlot();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment addr = address(arena, socketPath);
            int sock = unixSocket(err, where);
            try {
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
                send(sock, payload, fds, where, deadline);
            } finally {
                FileCalls.close(err, sock);
            }
        }
    }

    private static void send(int sock, byte[] payload, int[] fds, String where) throws TapException {
        send(sock, payload, fds, where, 0);
    }

    /**
     * The {@code sendmsg} loop; with a {@code deadline} (not 0) the socket is non-blocking and a
     * full buffer waits in {@code poll} until then.
     */
    private static void send(int sock, byte[] payload, int[] fds, String where, long deadline) throws TapException {
        MemorySegment err = Sys.errnoSlot();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(payload.length);
            MemorySegment.copy(payload, 0, data, ValueLayout.JAVA_BYTE, 0, payload.length);
            MemorySegment iov = iovec.allocate(arena);
            long controlLen = cmsgSpace(4L * fds.length);
            MemorySegment control = arena.allocate(controlLen, 8);
            cmsghdr.cmsg_len(control, CMSG_HDR + 4L * fds.length);
            cmsghdr.cmsg_level(control, linux_h.SOL_SOCKET());
            cmsghdr.cmsg_type(control, linux_h.SCM_RIGHTS());
            for (int i = 0; i < fds.length; i++) {
                control.set(ValueLayout.JAVA_INT, CMSG_HDR + 4L * i, fds[i]);
            }
            MemorySegment msg = msghdr.allocate(arena);
            long sent = 0;
            while (sent < payload.length) {
                iovec.iov_base(iov, data.asSlice(sent));
                iovec.iov_len(iov, payload.length - sent);
                msghdr.msg_iov(msg, iov);
                msghdr.msg_iovlen(msg, 1);
                // The fds travel with the first byte; a (rare) short write sends the rest without them.
                msghdr.msg_control(msg, sent == 0 ? control : MemorySegment.NULL);
                msghdr.msg_controllen(msg, sent == 0 ? controlLen : 0);
                // SAFETY: msg, iov, data and control live in this confined arena until the method
                // returns; every length is the size of the segment it describes.
                long n = SocketCalls.sendmsg(err, sock, msg, linux_h.MSG_NOSIGNAL());
                if (n < 0) {
                    int e = Sys.errno(err);
                    if (e == linux_h.EINTR()) {
                        continue;
                    }
                    if (e == linux_h.EAGAIN() && deadline != 0) {
                        awaitPoll(err, arena, sock, linux_h.POLLOUT(), deadline, where, "the receiver did not read");
                        continue;
                    }
                    throw TapException.syscall("sendmsg(SCM_RIGHTS)", e, where,
                            e == linux_h.EBADF() ? "one of the fds to send (or the socket) is not open"
                                    : e == linux_h.EAGAIN() ? "the socket is non-blocking and its buffer is full"
                                    : e == linux_h.EPIPE() || e == linux_h.ECONNRESET() ? "the receiver is gone" : null);
                }
                sent += n;
            }
        }
    }

    // ---- helpers ------------------------------------------------------------------------------

    private static byte[] payload(String label) {
        Objects.requireNonNull(label, "label");
        byte[] b = label.getBytes(StandardCharsets.UTF_8);
        if (b.length > MAX_LABEL_BYTES || label.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("a label is at most " + MAX_LABEL_BYTES + " UTF-8 bytes without NUL: \"" + label + "\"");
        }
        byte[] p = new byte[b.length + 1]; // NUL-terminated: never empty, so the control data has a byte to ride on
        System.arraycopy(b, 0, p, 0, b.length);
        return p;
    }

    private static void checkFds(int[] fds) {
        Objects.requireNonNull(fds, "fds");
        if (fds.length < 1 || fds.length > MAX_FDS) {
            throw new IllegalArgumentException("a message carries 1 to " + MAX_FDS + " fds, not " + fds.length);
        }
        for (int fd : fds) {
            if (fd < 0) {
                throw new IllegalArgumentException("cannot send fd " + fd);
            }
        }
    }

    private static void checkMaxFds(int maxFds) {
        if (maxFds < 1 || maxFds > MAX_FDS) {
            throw new IllegalArgumentException("maxFds must be 1 to " + MAX_FDS + ", not " + maxFds);
        }
    }

    private static long deadline(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("negative timeout " + timeout);
        }
        long nanos = timeout.compareTo(Duration.ofDays(1)) > 0 ? Duration.ofDays(1).toNanos() : timeout.toNanos();
        return System.nanoTime() + nanos;
    }

    /** Waits in {@code poll} until {@code fd} is readable (or hung up) or the deadline passes. */
    private static void awaitReadable(MemorySegment err, Arena arena, int fd, long deadline, String where, String what)
            throws TapException {
        awaitPoll(err, arena, fd, linux_h.POLLIN(), deadline, where, what);
    }

    /** Waits in {@code poll} until {@code fd} reports {@code events} (or an error) or the deadline passes. */
    private static void awaitPoll(MemorySegment err, Arena arena, int fd, int events, long deadline, String where,
                                  String what) throws TapException {
        MemorySegment pfd = pollfd.allocate(arena);
        while (true) {
            long left = deadline - System.nanoTime();
            int ms = left <= 0 ? 0 : (int) Math.min(Integer.MAX_VALUE, (left + 999_999) / 1_000_000);
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

    private static MemorySegment address(Arena arena, Path socketPath) {
        byte[] p = socketPath.toString().getBytes(StandardCharsets.UTF_8);
        long max = sockaddr_un.sun_path$layout().byteSize() - 1;
        if (p.length == 0 || p.length > max) {
            throw new IllegalArgumentException("a Unix socket path is 1 to " + max + " bytes: " + socketPath);
        }
        MemorySegment addr = sockaddr_un.allocate(arena);
        sockaddr_un.sun_family(addr, (short) linux_h.AF_UNIX());
        MemorySegment.copy(p, 0, sockaddr_un.sun_path(addr), ValueLayout.JAVA_BYTE, 0, p.length);
        return addr;
    }

    /** {@code CMSG_ALIGN}: control messages are aligned to {@code sizeof(size_t)}, 8 bytes here. */
    private static long align(long n) {
        return (n + 7) & ~7L;
    }

    /** {@code CMSG_SPACE(n)}: a header plus {@code n} data bytes, padded. */
    private static long cmsgSpace(long n) {
        return CMSG_HDR + align(n);
    }

    /** A new non-blocking, close-on-exec {@code AF_UNIX} stream socket, for {@code where}. */
    private static int unixSocket(MemorySegment err, String where) throws TapException {
        int fd = SocketCalls.socket(err, linux_h.AF_UNIX(),
                linux_h.SOCK_STREAM() | linux_h.SOCK_CLOEXEC() | linux_h.SOCK_NONBLOCK(), 0);
        if (fd < 0) {
            throw TapException.syscall("socket(AF_UNIX)", Sys.errno(err), where, null);
        }
        return fd;
    }
}
