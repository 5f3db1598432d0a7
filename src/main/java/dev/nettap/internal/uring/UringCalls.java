package dev.nettap.internal.uring;

import static dev.nettap.internal.linux.linux_h.C_LONG;
import static dev.nettap.internal.linux.linux_h.C_POINTER;

import dev.nettap.internal.linux.linux_h;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * The three io_uring system calls through {@code syscall(2)} (glibc has no wrappers for them), and
 * {@code mmap}/{@code munmap} of the rings. Like {@code Sys}, every handle captures {@code errno}
 * into a caller-supplied slot, is a {@code static final} constant, allocates nothing per call and
 * returns the raw result (-1 with errno set on failure).
 *
 * <p>{@code syscall} is variadic: every argument after the number is passed as a 64-bit integer or
 * a pointer, which is what glibc's {@code syscall} reads and what the kernel's wrappers truncate to
 * the declared (32-bit) parameter types.
 */
final class UringCalls {
    private UringCalls() {}

    private static final Linker LINKER = Linker.nativeLinker();
    private static final Linker.Option ERRNO = Linker.Option.captureCallState("errno");
    private static final Linker.Option VARIADIC_AFTER_NUMBER = Linker.Option.firstVariadicArg(1);

    private static MethodHandle syscall(FunctionDescriptor desc) {
        // SAFETY: syscall(2) is glibc's `long syscall(long number, ...)`; desc keeps `long number`
        // fixed and passes the rest as variadic longs/pointers, which is how the x86-64 and aarch64
        // ABIs pass them to glibc's assembly wrapper. The callers below pass the argument list each
        // system call documents.
        return LINKER.downcallHandle(linux_h.syscall.address(), desc, ERRNO, VARIADIC_AFTER_NUMBER);
    }

    // long io_uring_setup(u32 entries, struct io_uring_params *p)
    private static final MethodHandle SETUP = syscall(FunctionDescriptor.of(C_LONG, C_LONG, C_LONG, C_POINTER));
    // long io_uring_enter(unsigned fd, u32 to_submit, u32 min_complete, u32 flags, const void *arg, size_t argsz)
    private static final MethodHandle ENTER = syscall(FunctionDescriptor.of(C_LONG, C_LONG, C_LONG, C_LONG, C_LONG,
            C_LONG, C_POINTER, C_LONG));
    // long io_uring_register(unsigned fd, unsigned opcode, void *arg, unsigned nr_args)
    private static final MethodHandle REGISTER = syscall(FunctionDescriptor.of(C_LONG, C_LONG, C_LONG, C_LONG,
            C_POINTER, C_LONG));
    // SAFETY: mmap/munmap are resolved and described by the generated bindings (checked by the drift
    // test); callers pass a length and an offset the kernel gave in io_uring_params.
    private static final MethodHandle MMAP = LINKER.downcallHandle(linux_h.mmap$address(), linux_h.mmap$descriptor(), ERRNO);
    private static final MethodHandle MUNMAP = LINKER.downcallHandle(linux_h.munmap$address(), linux_h.munmap$descriptor(), ERRNO);

    private static final long NR_SETUP = linux_h.__NR_io_uring_setup();
    private static final long NR_ENTER = linux_h.__NR_io_uring_enter();
    private static final long NR_REGISTER = linux_h.__NR_io_uring_register();

    /** {@code io_uring_setup(entries, params)}: the ring fd, or -1. {@code params} is a zeroed-then-filled {@code io_uring_params}. */
    static int setup(MemorySegment errno, int entries, MemorySegment params) {
        try {
            return (int) (long) SETUP.invokeExact(errno, NR_SETUP, (long) entries, params);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * {@code io_uring_enter(fd, toSubmit, minComplete, flags, arg, argSize)}: the number of SQEs
     * consumed, or -1. {@code arg} is {@link MemorySegment#NULL} or, with {@code IORING_ENTER_EXT_ARG},
     * an {@code io_uring_getevents_arg} of {@code argSize} bytes.
     */
    static int enter(MemorySegment errno, int fd, int toSubmit, int minComplete, int flags, MemorySegment arg,
                     long argSize) {
        try {
            return (int) (long) ENTER.invokeExact(errno, NR_ENTER, (long) fd, (long) toSubmit, (long) minComplete,
                    (long) flags, arg, argSize);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code io_uring_register(fd, opcode, arg, nrArgs)}: 0 or a positive result, or -1. */
    static int register(MemorySegment errno, int fd, int opcode, MemorySegment arg, int nrArgs) {
        try {
            return (int) (long) REGISTER.invokeExact(errno, NR_REGISTER, (long) fd, (long) opcode, arg, (long) nrArgs);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code mmap(NULL, length, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_POPULATE, fd, offset)}: the address (zero-length segment), or {@code MAP_FAILED} (-1). */
    static MemorySegment mmapShared(MemorySegment errno, long length, int fd, long offset) {
        try {
            return (MemorySegment) MMAP.invokeExact(errno, MemorySegment.NULL, length,
                    linux_h.PROT_READ() | linux_h.PROT_WRITE(), linux_h.MAP_SHARED() | linux_h.MAP_POPULATE(), fd, offset);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code munmap(addr, length)}. */
    static int munmap(MemorySegment errno, MemorySegment addr, long length) {
        try {
            return (int) MUNMAP.invokeExact(errno, addr, length);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
