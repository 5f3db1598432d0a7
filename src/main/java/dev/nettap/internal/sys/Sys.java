package dev.nettap.internal.sys;

import static dev.nettap.internal.linux.linux_h.C_INT;
import static dev.nettap.internal.linux.linux_h.C_LONG;
import static dev.nettap.internal.linux.linux_h.C_POINTER;
import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import dev.nettap.internal.linux.linux_h;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The one place that holds nettap's downcall handles to libc.
 *
 * <p>Every handle that can fail captures {@code errno} with {@link Linker.Option#captureCallState}
 * into a caller-supplied <em>errno slot</em> (a segment of {@link #ERRNO_SLOT_LAYOUT}): hot paths
 * pass a slot they preallocated for their own thread or direction, control paths use
 * {@link #errnoSlot()}, one slot per thread. Nothing here allocates per call, nothing here throws
 * for a failed call: each method returns the raw result, and the captured errno is meaningful only
 * when that result is {@code -1} (it is stale after a success).
 *
 * <p>The handles are {@code static final} so the JIT can inline them (about 6&ndash;7 ns per
 * downcall here). They are not {@code critical}: before JDK 24 {@code critical} cannot be combined
 * with {@code captureCallState}, and the baseline is JDK 22.
 *
 * <p>Function addresses and base descriptors come from the generated bindings
 * ({@link linux_h}); variadic functions ({@code open}, {@code ioctl}, {@code fcntl}) get their
 * variadic part here with {@code firstVariadicArg}.
 */
public final class Sys {
    private Sys() {}

    private static final Linker LINKER = Linker.nativeLinker();
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    /** Layout of an errno slot: the JDK's capture-state struct. */
    public static final StructLayout ERRNO_SLOT_LAYOUT = Linker.Option.captureStateLayout();
    private static final long ERRNO_OFFSET = ERRNO_SLOT_LAYOUT.byteOffset(groupElement("errno"));

    private static final ThreadLocal<MemorySegment> THREAD_SLOT =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(ERRNO_SLOT_LAYOUT));

    /**
     * This thread's errno slot, allocated once per thread (freed with the thread). Control paths use
     * it; per-packet paths hold their own preallocated slot to skip the thread-local lookup.
     */
    public static MemorySegment errnoSlot() {
        return THREAD_SLOT.get();
    }

    /** A new errno slot in {@code arena}, for a hot path that keeps its own. */
    public static MemorySegment newErrnoSlot(Arena arena) {
        return arena.allocate(ERRNO_SLOT_LAYOUT);
    }

    /** The errno captured in {@code slot} by the last failed call made with it. */
    public static int errno(MemorySegment slot) {
        return slot.get(ValueLayout.JAVA_INT, ERRNO_OFFSET);
    }

    private static MethodHandle errnoHandle(MemorySegment address, FunctionDescriptor desc,
                                            Linker.Option... more) {
        Linker.Option[] options = new Linker.Option[more.length + 1];
        options[0] = CAPTURE_ERRNO;
        System.arraycopy(more, 0, options, 1, more.length);
        // SAFETY: address is a libc symbol resolved by the generated bindings, and desc is either the
        // generated descriptor for that very symbol or its documented variadic extension (x86-64
        // Linux, checked by the drift test), so the call matches the C prototype.
        return LINKER.downcallHandle(address, desc, options);
    }

    private static MethodHandle plainHandle(MemorySegment address, FunctionDescriptor desc) {
        // SAFETY: as for errnoHandle; these functions cannot fail, so no errno is captured.
        return LINKER.downcallHandle(address, desc);
    }

    // int open(const char *path, int flags, ... /* mode_t mode */)
    private static final MethodHandle OPEN = errnoHandle(linux_h.open.address(),
            FunctionDescriptor.of(C_INT, C_POINTER, C_INT, C_INT), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = errnoHandle(linux_h.close$address(), linux_h.close$descriptor());
    private static final MethodHandle READ = errnoHandle(linux_h.read$address(), linux_h.read$descriptor());
    private static final MethodHandle WRITE = errnoHandle(linux_h.write$address(), linux_h.write$descriptor());
    private static final MethodHandle READV = errnoHandle(linux_h.readv$address(), linux_h.readv$descriptor());
    private static final MethodHandle WRITEV = errnoHandle(linux_h.writev$address(), linux_h.writev$descriptor());
    // int ioctl(int fd, unsigned long request, ...): a pointer argument, or an integer by value.
    private static final MethodHandle IOCTL_PTR = errnoHandle(linux_h.ioctl.address(),
            FunctionDescriptor.of(C_INT, C_INT, C_LONG, C_POINTER), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle IOCTL_LONG = errnoHandle(linux_h.ioctl.address(),
            FunctionDescriptor.of(C_INT, C_INT, C_LONG, C_LONG), Linker.Option.firstVariadicArg(2));
    // int fcntl(int fd, int cmd, ...): the commands used here take an int or nothing.
    private static final MethodHandle FCNTL = errnoHandle(linux_h.fcntl.address(),
            FunctionDescriptor.of(C_INT, C_INT, C_INT, C_INT), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle POLL = errnoHandle(linux_h.poll$address(), linux_h.poll$descriptor());
    private static final MethodHandle EVENTFD = errnoHandle(linux_h.eventfd$address(), linux_h.eventfd$descriptor());
    private static final MethodHandle SETNS = errnoHandle(linux_h.setns$address(), linux_h.setns$descriptor());
    private static final MethodHandle EPOLL_CREATE1 = errnoHandle(linux_h.epoll_create1$address(), linux_h.epoll_create1$descriptor());
    private static final MethodHandle EPOLL_CTL = errnoHandle(linux_h.epoll_ctl$address(), linux_h.epoll_ctl$descriptor());
    private static final MethodHandle EPOLL_WAIT = errnoHandle(linux_h.epoll_wait$address(), linux_h.epoll_wait$descriptor());
    private static final MethodHandle GETPID = plainHandle(linux_h.getpid$address(), linux_h.getpid$descriptor());
    private static final MethodHandle GETEUID = plainHandle(linux_h.geteuid$address(), linux_h.geteuid$descriptor());

    // The wrappers below only adapt types; a Throwable from invokeExact means a wrong handle type,
    // which is a bug in this class, never a runtime condition.

    /** {@code open(path, flags, 0)}; {@code path} is a NUL-terminated native string. */
    public static int open(MemorySegment errno, MemorySegment path, int flags) {
        try {
            return (int) OPEN.invokeExact(errno, path, flags, 0);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code close(fd)}. */
    public static int close(MemorySegment errno, int fd) {
        try {
            return (int) CLOSE.invokeExact(errno, fd);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code read(fd, buf, count)}; {@code buf} must be native and at least {@code count} bytes. */
    public static long read(MemorySegment errno, int fd, MemorySegment buf, long count) {
        try {
            return (long) READ.invokeExact(errno, fd, buf, count);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code write(fd, buf, count)}; {@code buf} must be native and at least {@code count} bytes. */
    public static long write(MemorySegment errno, int fd, MemorySegment buf, long count) {
        try {
            return (long) WRITE.invokeExact(errno, fd, buf, count);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code readv(fd, iov, iovcnt)}: every iovec must describe live native memory. */
    public static long readv(MemorySegment errno, int fd, MemorySegment iov, int iovcnt) {
        try {
            return (long) READV.invokeExact(errno, fd, iov, iovcnt);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code writev(fd, iov, iovcnt)}: every iovec must describe live native memory. */
    public static long writev(MemorySegment errno, int fd, MemorySegment iov, int iovcnt) {
        try {
            return (long) WRITEV.invokeExact(errno, fd, iov, iovcnt);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code ioctl(fd, request, arg)} with a pointer argument. */
    public static int ioctl(MemorySegment errno, int fd, long request, MemorySegment arg) {
        try {
            return (int) IOCTL_PTR.invokeExact(errno, fd, request, arg);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code ioctl(fd, request, value)} with an integer passed by value (e.g. {@code TUNSETOFFLOAD}). */
    public static int ioctl(MemorySegment errno, int fd, long request, long value) {
        try {
            return (int) IOCTL_LONG.invokeExact(errno, fd, request, value);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code fcntl(fd, cmd, arg)}; {@code arg} is ignored by commands that take none. */
    public static int fcntl(MemorySegment errno, int fd, int cmd, int arg) {
        try {
            return (int) FCNTL.invokeExact(errno, fd, cmd, arg);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code poll(fds, nfds, timeoutMillis)}; {@code fds} holds {@code nfds} {@code struct pollfd}. */
    public static int poll(MemorySegment errno, MemorySegment fds, long nfds, int timeoutMillis) {
        try {
            return (int) POLL.invokeExact(errno, fds, nfds, timeoutMillis);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code eventfd(initval, flags)}. */
    public static int eventfd(MemorySegment errno, int initval, int flags) {
        try {
            return (int) EVENTFD.invokeExact(errno, initval, flags);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code setns(fd, nstype)}: changes the namespace of the calling OS thread only. */
    public static int setns(MemorySegment errno, int fd, int nstype) {
        try {
            return (int) SETNS.invokeExact(errno, fd, nstype);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code epoll_create1(flags)}. */
    public static int epollCreate1(MemorySegment errno, int flags) {
        try {
            return (int) EPOLL_CREATE1.invokeExact(errno, flags);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code epoll_ctl(epfd, op, fd, event)}; {@code event} is one packed {@code struct epoll_event}. */
    public static int epollCtl(MemorySegment errno, int epfd, int op, int fd, MemorySegment event) {
        try {
            return (int) EPOLL_CTL.invokeExact(errno, epfd, op, fd, event);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code epoll_wait(epfd, events, maxevents, timeout)}; {@code events} holds {@code maxevents} entries. */
    public static int epollWait(MemorySegment errno, int epfd, MemorySegment events, int maxevents, int timeoutMillis) {
        try {
            return (int) EPOLL_WAIT.invokeExact(errno, epfd, events, maxevents, timeoutMillis);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code getpid()}. */
    public static int getpid() {
        try {
            return (int) GETPID.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code geteuid()}. */
    public static int geteuid() {
        try {
            return (int) GETEUID.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // ---- AF_UNIX sockets and fd duplication (handover: SCM_RIGHTS, inherited fds) ---------------
    // Control-path calls: they allocate nothing themselves, and the caller passes the errno slot.

    private static final MethodHandle SOCKET = errnoHandle(linux_h.socket$address(), linux_h.socket$descriptor());
    private static final MethodHandle SOCKETPAIR = errnoHandle(linux_h.socketpair$address(), linux_h.socketpair$descriptor());
    private static final MethodHandle BIND = errnoHandle(linux_h.bind$address(), linux_h.bind$descriptor());
    private static final MethodHandle LISTEN = errnoHandle(linux_h.listen$address(), linux_h.listen$descriptor());
    private static final MethodHandle CONNECT = errnoHandle(linux_h.connect$address(), linux_h.connect$descriptor());
    private static final MethodHandle ACCEPT4 = errnoHandle(linux_h.accept4$address(), linux_h.accept4$descriptor());
    private static final MethodHandle SENDMSG = errnoHandle(linux_h.sendmsg$address(), linux_h.sendmsg$descriptor());
    private static final MethodHandle RECVMSG = errnoHandle(linux_h.recvmsg$address(), linux_h.recvmsg$descriptor());
    private static final MethodHandle DUP = errnoHandle(linux_h.dup$address(), linux_h.dup$descriptor());

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

    /** {@code dup(fd)}: the new fd does not have {@code FD_CLOEXEC}. */
    public static int dup(MemorySegment errno, int fd) {
        try {
            return (int) DUP.invokeExact(errno, fd);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // ---- device nodes, mounts and namespaces (device resolution and administration) -------------
    // Control-path calls, made rarely (opening a macvtap, reading sysfs inside a namespace).

    private static final MethodHandle FSTAT = errnoHandle(linux_h.fstat$address(), linux_h.fstat$descriptor());
    private static final MethodHandle UNSHARE = errnoHandle(linux_h.unshare$address(), linux_h.unshare$descriptor());
    private static final MethodHandle MOUNT = errnoHandle(linux_h.mount$address(), linux_h.mount$descriptor());
    private static final MethodHandle UMOUNT2 = errnoHandle(linux_h.umount2$address(), linux_h.umount2$descriptor());
    private static final MethodHandle MKNOD = errnoHandle(linux_h.mknod$address(), linux_h.mknod$descriptor());
    private static final MethodHandle GETEGID = plainHandle(linux_h.getegid$address(), linux_h.getegid$descriptor());

    /** {@code fstat(fd, buf)}; {@code buf} is a native {@code struct stat} (144 bytes). */
    public static int fstat(MemorySegment errno, int fd, MemorySegment buf) {
        try {
            return (int) FSTAT.invokeExact(errno, fd, buf);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code unshare(flags)}: for {@code CLONE_NEWNS}, changes the calling OS thread's mount namespace only. */
    public static int unshare(MemorySegment errno, int flags) {
        try {
            return (int) UNSHARE.invokeExact(errno, flags);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * {@code mount(source, target, fstype, flags, NULL)}; the strings are NUL-terminated native
     * strings or {@link MemorySegment#NULL}.
     */
    public static int mount(MemorySegment errno, MemorySegment source, MemorySegment target, MemorySegment fstype,
                            long flags) {
        try {
            return (int) MOUNT.invokeExact(errno, source, target, fstype, flags, MemorySegment.NULL);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code umount2(target, flags)}; {@code target} is a NUL-terminated native string. */
    public static int umount2(MemorySegment errno, MemorySegment target, int flags) {
        try {
            return (int) UMOUNT2.invokeExact(errno, target, flags);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code mknod(path, mode, dev)}; {@code path} is a NUL-terminated native string. */
    public static int mknod(MemorySegment errno, MemorySegment path, int mode, long dev) {
        try {
            return (int) MKNOD.invokeExact(errno, path, mode, dev);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code getegid()}. */
    public static int getegid() {
        try {
            return (int) GETEGID.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
