package dev.nettap.internal.sys;

import static dev.nettap.internal.linux.linux_h.C_INT;
import static dev.nettap.internal.linux.linux_h.C_LONG;
import static dev.nettap.internal.linux.linux_h.C_POINTER;

import dev.nettap.internal.linux.linux_h;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * libc downcalls, one family: open, close, read, write, ioctl, fcntl and dup, the calls on one
 * fd. Each method returns the raw result; the errno captured in the caller's slot (see {@link Sys}) is meaningful only when that result is {@code -1}. A
 * {@code Throwable} from {@code invokeExact} means a wrong handle type, a bug here, never a
 * runtime condition.
 */
public final class FileCalls {
    private FileCalls() {}

    // int open(const char *path, int flags, ... /* mode_t mode */)
    private static final MethodHandle OPEN = Sys.errnoHandle(linux_h.open.address(),
            FunctionDescriptor.of(C_INT, C_POINTER, C_INT, C_INT), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = Sys.errnoHandle(linux_h.close$address(), linux_h.close$descriptor());
    private static final MethodHandle READ = Sys.errnoHandle(linux_h.read$address(), linux_h.read$descriptor());
    private static final MethodHandle WRITE = Sys.errnoHandle(linux_h.write$address(), linux_h.write$descriptor());
    // int ioctl(int fd, unsigned long request, ...): a pointer argument, or an integer by value.
    private static final MethodHandle IOCTL_PTR = Sys.errnoHandle(linux_h.ioctl.address(),
            FunctionDescriptor.of(C_INT, C_INT, C_LONG, C_POINTER), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle IOCTL_LONG = Sys.errnoHandle(linux_h.ioctl.address(),
            FunctionDescriptor.of(C_INT, C_INT, C_LONG, C_LONG), Linker.Option.firstVariadicArg(2));
    // int fcntl(int fd, int cmd, ...): the commands used here take an int or nothing.
    private static final MethodHandle FCNTL = Sys.errnoHandle(linux_h.fcntl.address(),
            FunctionDescriptor.of(C_INT, C_INT, C_INT, C_INT), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle DUP = Sys.errnoHandle(linux_h.dup$address(), linux_h.dup$descriptor());

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

    /** {@code dup(fd)}: the new fd does not have {@code FD_CLOEXEC}. */
    public static int dup(MemorySegment errno, int fd) {
        try {
            return (int) DUP.invokeExact(errno, fd);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
