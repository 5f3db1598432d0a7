package dev.nettap;

import dev.nettap.internal.linux.iovec;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.linux.msghdr;
import dev.nettap.internal.sys.FileCalls;
import dev.nettap.internal.sys.SocketCalls;
import dev.nettap.internal.sys.Sys;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

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
        long deadline = UnixSockets.deadline(timeout);
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
        long deadline = UnixSockets.deadline(timeout);
        Platform.requireLinux();
        String where = socketPath.toString();
        MemorySegment err = Sys.errnoSlot();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment addr = UnixSockets.address(arena, socketPath);
            int listener = UnixSockets.socket(err, where);
            boolean bound = false;
            try {
                UnixSockets.bind(err, listener, addr, where);
                bound = true;
                UnixSockets.listen(err, listener, where);
                int conn = UnixSockets.accept(err, arena, listener, deadline, where);
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
            long controlLen = ScmRights.cmsgSpace(4L * controlFds);
            MemorySegment control = arena.allocate(controlLen, 8);
            MemorySegment msg = msghdr.allocate(arena);
            long n;
            while (true) {
                UnixSockets.awaitReadable(err, arena, sock, deadline, where, "no message arrived");
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
                List<Integer> fds = ScmRights.collectFds(control, valid);
                int flags = msghdr.msg_flags(msg);
                String label = ScmRights.label(data, n);
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
                ScmRights.closeFds(err, control, valid, consumed);
                throw t;
            }
        }
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
        ScmRights.send(socketFd, payload, fds, "socket fd " + socketFd, 0);
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
        long deadline = UnixSockets.deadline(timeout);
        Platform.requireLinux();
        String where = socketPath.toString();
        MemorySegment err = Sys.errnoSlot();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment addr = UnixSockets.address(arena, socketPath);
            int sock = UnixSockets.socket(err, where);
            try {
                UnixSockets.connect(err, arena, sock, addr, deadline, where);
                ScmRights.send(sock, payload, fds, where, deadline);
            } finally {
                FileCalls.close(err, sock);
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
        return ScmRights.payload(b);
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
}
