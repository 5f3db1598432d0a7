package dev.nettap.internal.uring;

import dev.nettap.internal.linux.__kernel_timespec;
import dev.nettap.internal.linux.io_cqring_offsets;
import dev.nettap.internal.linux.io_sqring_offsets;
import dev.nettap.internal.linux.io_uring_cqe;
import dev.nettap.internal.linux.io_uring_getevents_arg;
import dev.nettap.internal.linux.io_uring_params;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * The shared-memory protocol of one io_uring: the SQ and CQ rings and the SQE array, mapped into a
 * confined arena, and {@code io_uring_enter}. Every head and tail the kernel shares is read with
 * acquire and written with release ({@code // ORDERING:} at each place); everything else about a
 * request (what it may name, who owns its memory) is the job of {@link SqePrep} and
 * {@link Registrations}.
 */
final class Rings {
    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT;
    private static final ValueLayout.OfByte U8 = ValueLayout.JAVA_BYTE;

    // SQE field offsets (jextract/nettap.h names them from the kernel's struct io_uring_sqe).
    static final long SQE_SIZE = linux_h.NETTAP_SQE_SIZE();
    private static final long SQE_OPCODE = linux_h.NETTAP_SQE_OPCODE();
    private static final long SQE_FLAGS = linux_h.NETTAP_SQE_FLAGS();
    private static final long SQE_FD = linux_h.NETTAP_SQE_FD();
    private static final long SQE_OFF = linux_h.NETTAP_SQE_OFF();
    private static final long SQE_ADDR = linux_h.NETTAP_SQE_ADDR();
    private static final long SQE_LEN = linux_h.NETTAP_SQE_LEN();
    private static final long SQE_OP_FLAGS = linux_h.NETTAP_SQE_OP_FLAGS();
    private static final long SQE_USER_DATA = linux_h.NETTAP_SQE_USER_DATA();
    private static final long SQE_BUF_INDEX = linux_h.NETTAP_SQE_BUF_INDEX();
    private static final long CQE_SIZE = io_uring_cqe.sizeof();
    private static final long CQE_USER_DATA = io_uring_cqe.user_data$offset();
    private static final long CQE_RES = io_uring_cqe.res$offset();
    private static final long CQE_FLAGS = io_uring_cqe.flags$offset();
    private static final int CQE_F_MORE = linux_h.IORING_CQE_F_MORE();
    private static final int CQE_F_BUFFER = linux_h.IORING_CQE_F_BUFFER();
    private static final int CQE_BUFFER_SHIFT = linux_h.IORING_CQE_BUFFER_SHIFT();
    private static final int SQ_CQ_OVERFLOW = linux_h.IORING_SQ_CQ_OVERFLOW();
    static final int ENTER_GETEVENTS = linux_h.IORING_ENTER_GETEVENTS();
    private static final int ENTER_EXT_ARG = linux_h.IORING_ENTER_EXT_ARG();

    private final int ringFd;
    private final MemorySegment errno;
    /** SQ and CQ rings: one mapping (IORING_FEAT_SINGLE_MMAP). */
    private final MemorySegment ring;
    private final MemorySegment sqes;
    private final long sqHead, sqTail, sqFlags, sqDropped;
    final int sqMask, sqEntries;
    private final long cqHead, cqTail, cqOverflow, cqes;
    final int cqMask, cqEntries;
    /** io_uring_getevents_arg + __kernel_timespec for bounded waits (IORING_ENTER_EXT_ARG). */
    private final MemorySegment waitArg, waitTs;

    /** Next SQE to fill (not visible to the kernel until published). */
    private int sqeTail;
    /** SQ tail last released to the kernel. */
    private int published;
    /** SQEs the kernel has consumed, by our count (io_uring_enter results). */
    private int consumed;
    /** Our copy of the CQ head (we are its only writer). */
    private int cqHeadLocal;
    /** Requests consumed by the kernel whose final completion has not been reaped. */
    long inFlight;

    /** Maps the rings of {@code ringFd} (set up with {@code params}) into {@code arena}. */
    Rings(Arena arena, MemorySegment errno, int ringFd, MemorySegment params) throws UringException {
        this.ringFd = ringFd;
        this.errno = errno;
        MemorySegment sq = io_uring_params.sq_off(params), cq = io_uring_params.cq_off(params);
        sqEntries = io_uring_params.sq_entries(params);
        cqEntries = io_uring_params.cq_entries(params);
        long sqArray = io_sqring_offsets.array(sq);
        long sqSize = sqArray + 4L * sqEntries;
        long cqSize = io_cqring_offsets.cqes(cq) + CQE_SIZE * cqEntries;
        ring = map(errno, arena, ringFd, Math.max(sqSize, cqSize), linux_h.IORING_OFF_SQ_RING(), "rings");
        sqes = map(errno, arena, ringFd, SQE_SIZE * sqEntries, linux_h.IORING_OFF_SQES(), "SQE array");
        sqHead = io_sqring_offsets.head(sq);
        sqTail = io_sqring_offsets.tail(sq);
        sqFlags = io_sqring_offsets.flags(sq);
        sqDropped = io_sqring_offsets.dropped(sq);
        sqMask = ring.get(U32, io_sqring_offsets.ring_mask(sq));
        cqHead = io_cqring_offsets.head(cq);
        cqTail = io_cqring_offsets.tail(cq);
        cqOverflow = io_cqring_offsets.overflow(cq);
        cqes = io_cqring_offsets.cqes(cq);
        cqMask = ring.get(U32, io_cqring_offsets.ring_mask(cq));
        for (int i = 0; i < sqEntries; i++) {
            ring.set(U32, sqArray + 4L * i, i); // SQ slot i always names SQE i
        }
        sqeTail = published = consumed = ring.get(U32, sqTail);
        cqHeadLocal = ring.get(U32, cqHead);
        waitArg = io_uring_getevents_arg.allocate(arena);
        waitTs = __kernel_timespec.allocate(arena);
        io_uring_getevents_arg.ts(waitArg, waitTs.address());
    }

    private static MemorySegment map(MemorySegment errno, Arena arena, int fd, long size, long offset, String what)
            throws UringException {
        MemorySegment at = UringCalls.mmapShared(errno, size, fd, offset);
        if (at.address() == -1L) {
            int e = Sys.errno(errno);
            throw new UringException("mmap of the io_uring " + what + " (" + size + " bytes)", e, null);
        }
        // SAFETY: the kernel mapped `size` bytes at `at` (MAP_SHARED, read/write); the mapping stays
        // until munmap, which only the cleanup of this (confined) arena runs, when the arena closes:
        // after that, every segment derived from this one is dead and any access throws.
        @SuppressWarnings("restricted")
        MemorySegment mapped = at.reinterpret(size, arena, seg -> UringCalls.munmap(Sys.errnoSlot(), seg, size));
        return mapped;
    }

    /** {@return prepared requests the kernel has not taken} */
    int pending() {
        return sqeTail - consumed;
    }

    /** Byte offset of the next free SQE in the SQE array (zeroed), or -1 if the SQ is full. */
    long nextSqe() {
        // ORDERING: acquire the kernel's SQ head: its reads of the slots it consumed happen before
        // we overwrite them.
        int head = (int) INT.getAcquire(ring, sqHead);
        if (sqeTail - head >= sqEntries) {
            return -1;
        }
        long at = (sqeTail & sqMask) * SQE_SIZE;
        for (long o = 0; o < SQE_SIZE; o += 8) {
            sqes.set(U64, at + o, 0L);
        }
        sqeTail++;
        return at;
    }

    /** Fills the SQE at {@code at} (from {@link #nextSqe()}); the caller validated every value. */
    void fill(long at, int op, int file, int sqeFlags, long addr, int len, int opFlags, int bufIndex, long userData) {
        // SAFETY: `at` is a whole SQE inside the mapped SQE array (slot index masked by sqMask); the
        // kernel reads it only after the SQ tail is released in publish().
        sqes.set(U8, at + SQE_OPCODE, (byte) op);
        sqes.set(U8, at + SQE_FLAGS, (byte) sqeFlags);
        sqes.set(U32, at + SQE_FD, file);
        sqes.set(U64, at + SQE_OFF, 0L); // TAPs are streams: no file position
        sqes.set(U64, at + SQE_ADDR, addr);
        sqes.set(U32, at + SQE_LEN, len);
        sqes.set(U32, at + SQE_OP_FLAGS, opFlags);
        sqes.set(U64, at + SQE_USER_DATA, userData);
        sqes.set(U16, at + SQE_BUF_INDEX, (short) bufIndex);
    }

    private void publish() {
        if (published != sqeTail) {
            // ORDERING: release: every SQE and iovec store before this is visible to the kernel,
            // which reads the tail with smp_load_acquire in io_uring_enter.
            INT.setRelease(ring, sqTail, sqeTail);
            published = sqeTail;
        }
    }

    /**
     * Drops prepared requests the kernel has not taken: it reads the SQ tail only inside
     * io_uring_enter (no SQPOLL), so moving the tail back to its head retracts them.
     */
    void retract() {
        // ORDERING: acquire, as in nextSqe(): the kernel is done with every slot before its head.
        int head = (int) INT.getAcquire(ring, sqHead);
        sqeTail = published = consumed = head;
        // ORDERING: release, as in publish(); the next enter sees no SQE beyond the head.
        INT.setRelease(ring, sqTail, head);
    }

    /** {@return completions ready in the CQ} */
    int cqReady() {
        // ORDERING: acquire, as in drain().
        return (int) INT.getAcquire(ring, cqTail) - cqHeadLocal;
    }

    /** {@return true while the kernel holds completions that did not fit ({@code IORING_SQ_CQ_OVERFLOW})} */
    boolean cqOverflowed() {
        // ORDERING: acquire, as the kernel sets the flag with a release after queueing the overflow.
        return ((int) INT.getAcquire(ring, sqFlags) & SQ_CQ_OVERFLOW) != 0;
    }

    int droppedCompletions() {
        // ORDERING: acquire, pairing with the kernel's update of the counter (informational only).
        return (int) INT.getAcquire(ring, cqOverflow);
    }

    int droppedSubmissions() {
        // ORDERING: acquire, pairing with the kernel's update of the counter (informational only).
        return (int) INT.getAcquire(ring, sqDropped);
    }

    /**
     * Copies ready CQEs into {@code out} from index {@code n} (all of them, discarded, when
     * {@code out} is null), skipping those carrying {@code reserved}; notes provided buffers handed
     * over in {@code buffers}. Returns the new fill level of {@code out}.
     */
    int drain(Completions out, int n, long reserved, BufferRing buffers) {
        int cap = out == null ? Integer.MAX_VALUE : out.capacity();
        // ORDERING: acquire the kernel's CQ tail: the CQEs it wrote before releasing the tail are
        // visible to the plain reads below.
        int tail = (int) INT.getAcquire(ring, cqTail);
        int head = cqHeadLocal;
        while (head != tail && n < cap) {
            long at = cqes + (head & cqMask) * CQE_SIZE;
            // SAFETY: `at` is a whole CQE inside the mapped CQ (index masked by cqMask).
            long ud = ring.get(U64, at + CQE_USER_DATA);
            int res = ring.get(U32, at + CQE_RES);
            int flags = ring.get(U32, at + CQE_FLAGS);
            head++;
            if ((flags & CQE_F_MORE) == 0) {
                inFlight--;
            }
            if ((flags & CQE_F_BUFFER) != 0 && buffers != null) {
                buffers.handedOver(flags >>> CQE_BUFFER_SHIFT);
            }
            if (ud == reserved || out == null) {
                continue; // the ring's own cancel, or a completion close() discards
            }
            out.userData[n] = ud;
            out.res[n] = res;
            out.flags[n] = flags;
            n++;
        }
        cqHeadLocal = head;
        // ORDERING: release our CQ head after reading those CQEs, so the kernel (which reads the
        // head with acquire) does not overwrite entries we are still reading.
        INT.setRelease(ring, cqHead, head);
        return n;
    }

    /**
     * io_uring_enter with every prepared request; with {@link #ENTER_GETEVENTS} waits for
     * {@code minComplete} completions, at most {@code timeoutNanos} (negative: no bound). Returns
     * the SQEs the kernel took; 0 when it asked for a retry ({@code EAGAIN}, {@code EBUSY},
     * {@code EINTR}) or the wait timed out ({@code ETIME}).
     */
    int enter(int minComplete, int flags, long timeoutNanos) throws UringException {
        publish();
        int toSubmit = sqeTail - consumed;
        if (toSubmit == 0 && flags == 0) {
            return 0;
        }
        MemorySegment arg = MemorySegment.NULL;
        long argSize = 0;
        if ((flags & ENTER_GETEVENTS) != 0 && timeoutNanos >= 0) {
            waitTs.set(ValueLayout.JAVA_LONG, __kernel_timespec.tv_sec$offset(), timeoutNanos / 1_000_000_000L);
            waitTs.set(ValueLayout.JAVA_LONG, __kernel_timespec.tv_nsec$offset(), timeoutNanos % 1_000_000_000L);
            arg = waitArg;
            argSize = io_uring_getevents_arg.sizeof();
            flags |= ENTER_EXT_ARG;
        }
        // SAFETY: arg is NULL or this ring's io_uring_getevents_arg (pointing at waitTs), both alive.
        int n = UringCalls.enter(errno, ringFd, toSubmit, minComplete, flags, arg, argSize);
        if (n < 0) {
            int e = Sys.errno(errno);
            if (e == linux_h.EAGAIN() || e == linux_h.EBUSY() || e == linux_h.EINTR() || e == linux_h.ETIME()) {
                return 0;
            }
            throw new UringException("io_uring_enter(to_submit " + toSubmit + ", min_complete " + minComplete + ")", e,
                    null);
        }
        consumed += n;
        inFlight += n;
        return n;
    }
}
