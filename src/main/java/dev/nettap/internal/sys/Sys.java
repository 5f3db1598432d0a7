package dev.nettap.internal.sys;

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
 * The core of nettap's libc layer: errno slots and the two ways handles are made. The calls
 * themselves are grouped by family: {@link FileCalls} (one fd: open, close, read, write, ioctl,
 * fcntl, dup), {@link VectorIo} (readv/writev, with the caller's memory kept alive),
 * {@link PollCalls} (poll, epoll, eventfd), {@link SocketCalls} (AF_UNIX, SCM_RIGHTS) and
 * {@link ProcessCalls} (setns, getpid, geteuid).
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

    @SuppressWarnings("restricted") // see SAFETY below
    static MethodHandle errnoHandle(MemorySegment address, FunctionDescriptor desc,
                                            Linker.Option... more) {
        Linker.Option[] options = new Linker.Option[more.length + 1];
        options[0] = CAPTURE_ERRNO;
        System.arraycopy(more, 0, options, 1, more.length);
        // SAFETY: address is a libc symbol resolved by the generated bindings, and desc is either the
        // generated descriptor for that very symbol or its documented variadic extension (x86-64
        // Linux, checked by the drift test), so the call matches the C prototype.
        return LINKER.downcallHandle(address, desc, options);
    }

    @SuppressWarnings("restricted") // see SAFETY below
    static MethodHandle plainHandle(MemorySegment address, FunctionDescriptor desc) {
        // SAFETY: as for errnoHandle; these functions cannot fail, so no errno is captured.
        return LINKER.downcallHandle(address, desc);
    }
}
