package dev.nettap.internal.sys;

import static dev.nettap.internal.linux.linux_h.C_LONG;
import static dev.nettap.internal.linux.linux_h.C_POINTER;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Arrays;

/**
 * {@code readv}/{@code writev} that keep the memory behind the iovecs alive while the kernel uses it.
 *
 * <p>An iovec holds raw addresses: the FFM linker protects a segment only while that segment is
 * itself an argument of the downcall (it acquires the segment's scope for the call, so a shared
 * arena cannot be closed and an automatic one cannot be collected). These calls therefore go
 * through glibc's variadic {@code long syscall(long number, ...)} with the segments as extra
 * variadic arguments after the three the system call reads. Passing more variadic arguments than a
 * function consumes is defined C (C11 7.16.1: the callee reads only what it asks for), and the
 * kernel reads only the registers its system call declares, so the extra arguments do nothing but
 * hold the segments' scopes for exactly the duration of the call. {@link MemorySegment#NULL}
 * fills unused places (its scope is global: nothing to acquire).
 *
 * <p>Two arities: {@link #KEEP_SMALL} segments (a header and one frame, the common case) in
 * registers, and {@link #KEEP_MAX} for the scatter paths. Passing one segment per distinct scope is
 * enough: segments of one arena live and die together.
 *
 * <p>The system call numbers are x86-64's, the only ABI nettap's device code runs on
 * ({@code Platform.requireLinux} refuses the rest before any of this runs).
 */
public final class VectorIo {
    private VectorIo() {}

    /** x86-64 {@code __NR_readv}. */
    private static final long NR_READV = 19;
    /** x86-64 {@code __NR_writev}. */
    private static final long NR_WRITEV = 20;

    /** How many segments the small form keeps alive. */
    public static final int KEEP_SMALL = 2;
    /** How many segments the large form keeps alive. */
    public static final int KEEP_MAX = 65;

    @SuppressWarnings("restricted") // see SAFETY below
    private static MethodHandle syscall(int keep) {
        // long syscall(long number, long fd, struct iovec *iov, long iovcnt, void *keep...)
        MemoryLayout[] args = new MemoryLayout[4 + keep];
        Arrays.fill(args, C_POINTER);
        args[0] = C_LONG;
        args[1] = C_LONG;
        args[3] = C_LONG;
        Linker linker = Linker.nativeLinker();
        MemorySegment address = linker.defaultLookup().find("syscall").orElseThrow();
        // SAFETY: glibc declares long syscall(long number, ...); every variadic argument here is a
        // long or a pointer (types that need no promotion), the first three after the number are the
        // fd, the iovec table and its length that readv/writev take, and the rest are never read.
        // The handle is only called by readv/writev above, which pass the segments every iovec
        // points into as the kept arguments, so the linker holds their scopes for the call.
        return linker.downcallHandle(address, FunctionDescriptor.of(C_LONG, args),
                Linker.Option.captureCallState("errno"), Linker.Option.firstVariadicArg(1));
    }

    private static final MethodHandle SMALL = syscall(KEEP_SMALL);
    private static final MethodHandle LARGE = syscall(KEEP_MAX).asSpreader(MemorySegment[].class, KEEP_MAX);

    /**
     * {@code readv(fd, iov, iovcnt)} holding {@code keepA} and {@code keepB} alive for the call.
     * Every iovec must point into one of them (or into memory that outlives the call otherwise).
     *
     * @throws IllegalStateException if a kept segment's arena is already closed (from the linker)
     * @throws WrongThreadException  if a kept segment is confined to another thread
     */
    public static long readv(MemorySegment errno, int fd, MemorySegment iov, int iovcnt,
                             MemorySegment keepA, MemorySegment keepB) {
        try {
            return (long) SMALL.invokeExact(errno, NR_READV, (long) fd, iov, (long) iovcnt, keepA, keepB);
        } catch (RuntimeException e) {
            throw e; // the linker's own checks of the kept segments
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code writev(fd, iov, iovcnt)} holding {@code keepA} and {@code keepB} alive; as {@link #readv}. */
    public static long writev(MemorySegment errno, int fd, MemorySegment iov, int iovcnt,
                              MemorySegment keepA, MemorySegment keepB) {
        try {
            return (long) SMALL.invokeExact(errno, NR_WRITEV, (long) fd, iov, (long) iovcnt, keepA, keepB);
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * {@code readv(fd, iov, iovcnt)} holding every segment of {@code keep} (exactly
     * {@link #KEEP_MAX} entries, unused ones {@link MemorySegment#NULL}) alive for the call.
     */
    public static long readv(MemorySegment errno, int fd, MemorySegment iov, int iovcnt, MemorySegment[] keep) {
        try {
            return (long) LARGE.invokeExact(errno, NR_READV, (long) fd, iov, (long) iovcnt, keep);
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code writev} with {@code keep} as for {@link #readv(MemorySegment, int, MemorySegment, int, MemorySegment[])}. */
    public static long writev(MemorySegment errno, int fd, MemorySegment iov, int iovcnt, MemorySegment[] keep) {
        try {
            return (long) LARGE.invokeExact(errno, NR_WRITEV, (long) fd, iov, (long) iovcnt, keep);
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** A keep table of {@link #KEEP_MAX} entries, all {@link MemorySegment#NULL}. */
    public static MemorySegment[] newKeepTable() {
        MemorySegment[] keep = new MemorySegment[KEEP_MAX];
        Arrays.fill(keep, MemorySegment.NULL);
        return keep;
    }
}
