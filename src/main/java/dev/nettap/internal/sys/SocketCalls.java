package dev.nettap.internal.sys;

import dev.nettap.internal.linux.linux_h;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * libc downcalls, one family: AF_UNIX sockets for fd handover ({@code SCM_RIGHTS}), control-path
 * calls that allocate nothing themselves. Each method returns the raw result; the errno captured
 * in the caller's slot (see {@link Sys}) is meaningful only when that result is {@code -1}. A
 * {@code Throwable} from {@code invokeExact} means a wrong handle type, a bug here, never a
 * runtime condition.
 */
public final class SocketCalls {
    private SocketCalls() {}

    private static final MethodHandle SOCKET = Sys.errnoHandle(linux_h.socket$address(), linux_h.socket$descriptor());
    private static final MethodHandle SOCKETPAIR = Sys.errnoHandle(linux_h.socketpair$address(), linux_h.socketpair$descriptor());
    private static final MethodHandle BIND = Sys.errnoHandle(linux_h.bind$address(), linux_h.bind$descriptor());
    private static final MethodHandle LISTEN = Sys.errnoHandle(linux_h.listen$address(), linux_h.listen$descriptor());
    private static final MethodHandle CONNECT = Sys.errnoHandle(linux_h.connect$address(), linux_h.connect$descriptor());
    private static final MethodHandle ACCEPT4 = Sys.errnoHandle(linux_h.accept4$address(), linux_h.accept4$descriptor());
    private static final MethodHandle SENDMSG = Sys.errnoHandle(linux_h.sendmsg$address(), linux_h.sendmsg$descriptor());
    private static final MethodHandle RECVMSG = Sys.errnoHandle(linux_h.recvmsg$address(), linux_h.recvmsg$descriptor());

    /** {@code socket(domain, type, protocol)}. */
    public static int socket(MemorySegment errno, int domain, int type, int protocol) {
        try {
            return (int) SOCKET.invokeExact(errno, domain, type, protocol);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code socketpair(domain, type, protocol, sv)}; {@code sv} holds two {@code int}s (8 bytes). */
    public static int socketpair(MemorySegment errno, int domain, int type, int protocol, MemorySegment sv) {
        try {
            return (int) SOCKETPAIR.invokeExact(errno, domain, type, protocol, sv);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code bind(fd, addr, len)}; {@code addr} is a native {@code struct sockaddr_*} of at least {@code len} bytes. */
    public static int bind(MemorySegment errno, int fd, MemorySegment addr, int len) {
        try {
            return (int) BIND.invokeExact(errno, fd, addr, len);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code listen(fd, backlog)}. */
    public static int listen(MemorySegment errno, int fd, int backlog) {
        try {
            return (int) LISTEN.invokeExact(errno, fd, backlog);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code connect(fd, addr, len)}; {@code addr} as for {@link #bind}. */
    public static int connect(MemorySegment errno, int fd, MemorySegment addr, int len) {
        try {
            return (int) CONNECT.invokeExact(errno, fd, addr, len);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code accept4(fd, addr, lenp, flags)}; {@code addr} and {@code lenp} may be {@link MemorySegment#NULL}. */
    public static int accept4(MemorySegment errno, int fd, MemorySegment addr, MemorySegment lenp, int flags) {
        try {
            return (int) ACCEPT4.invokeExact(errno, fd, addr, lenp, flags);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * {@code sendmsg(fd, msg, flags)}; {@code msg} is a native {@code struct msghdr} whose iovecs and
     * control buffer describe live native memory.
     */
    public static long sendmsg(MemorySegment errno, int fd, MemorySegment msg, int flags) {
        try {
            return (long) SENDMSG.invokeExact(errno, fd, msg, flags);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code recvmsg(fd, msg, flags)}; {@code msg} as for {@link #sendmsg}, its buffers writable. */
    public static long recvmsg(MemorySegment errno, int fd, MemorySegment msg, int flags) {
        try {
            return (long) RECVMSG.invokeExact(errno, fd, msg, flags);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
