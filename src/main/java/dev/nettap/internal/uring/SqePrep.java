package dev.nettap.internal.uring;

import dev.nettap.internal.linux.iovec;
import dev.nettap.internal.linux.linux_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Prepares the submission queue entries of one {@link IoUring}, one method per opcode, and
 * enforces in code what a request may carry: every address lies in memory that outlives the
 * request (the ring's {@code data} region, allocated here, or its provided buffers for plain and
 * vectored reads and writes; the registered region for fixed ones, checked by
 * {@link Registrations#fixedAddress}), and every file, SQE flag and user data is validated before
 * the SQ is touched, so a refused request leaves nothing queued. A method returns {@code false}
 * when the SQ is full (nothing queued then).
 *
 * <p><b>Threads.</b> Confined to the ring's owner thread; {@link IoUring} checks the thread, and
 * that the ring is open, before every call here.
 *
 * <p><b>Invariants.</b> {@code data} and the iovec tables live in the ring's arena, freed only
 * after every request completed. SQE slot {@code i} uses only iovec table {@code i}
 * ({@link #MAX_SEGMENTS} entries), which the kernel copies at submission
 * ({@code IORING_FEAT_SUBMIT_STABLE}, required). Nothing here allocates per request.
 */
final class SqePrep {
    /** The user data of the ring's own cancel requests; callers may not use it. */
    static final long RESERVED_USER_DATA = Long.MIN_VALUE;
    /** Most segments one {@code READV}/{@code WRITEV} request takes. */
    static final int MAX_SEGMENTS = 64;
    static final int FIXED_FILE = linux_h.IOSQE_FIXED_FILE();
    static final int LINK = linux_h.IOSQE_IO_LINK();
    static final int ASYNC = linux_h.IOSQE_ASYNC();
    private static final int CALLER_SQE_FLAGS = FIXED_FILE | LINK | ASYNC;
    private static final int BUFFER_SELECT = linux_h.IOSQE_BUFFER_SELECT();

    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG;
    private static final long IOV_SIZE = iovec.sizeof();
    private static final long IOV_BASE = iovec.iov_base$offset();
    private static final long IOV_LEN = iovec.iov_len$offset();
    private static final int OP_READV = linux_h.IORING_OP_READV();
    private static final int OP_WRITEV = linux_h.IORING_OP_WRITEV();
    private static final int OP_READ = linux_h.IORING_OP_READ();
    private static final int OP_WRITE = linux_h.IORING_OP_WRITE();
    private static final int OP_READ_FIXED = linux_h.IORING_OP_READ_FIXED();
    private static final int OP_WRITE_FIXED = linux_h.IORING_OP_WRITE_FIXED();
    private static final int OP_POLL_ADD = linux_h.IORING_OP_POLL_ADD();
    private static final int OP_ASYNC_CANCEL = linux_h.IORING_OP_ASYNC_CANCEL();
    private static final int OP_READ_MULTISHOT = linux_h.IORING_OP_READ_MULTISHOT();

    private final Rings rings;
    private final Registrations regs;
    /** MAX_SEGMENTS iovecs per SQE slot: slot i's table is used only by the request in SQE i. */
    private final MemorySegment iovs;
    /** The region plain reads and writes may use (IoUring.data()). */
    final MemorySegment data;
    private final long dataBase, dataEnd;

    /** Allocates the iovec tables and {@code dataBytes} of data region in the ring's {@code arena}. */
    SqePrep(Arena arena, Rings rings, Registrations regs, long dataBytes) {
        this.rings = rings;
        this.regs = regs;
        iovs = arena.allocate(IOV_SIZE * MAX_SEGMENTS * rings.sqEntries, 8);
        data = arena.allocate(dataBytes, 4096);
        dataBase = data.address();
        dataEnd = dataBase + dataBytes;
    }

    /** {@code WRITE} of {@code length} bytes at {@code offset} in {@code buf}. */
    boolean write(int file, int sqeFlags, MemorySegment buf, long offset, int length, long userData) {
        long addr = dataAddress(buf, offset, length, false);
        return queue(OP_WRITE, file, sqeFlags, addr, length, 0, 0, userData);
    }

    /** {@code READ} of up to {@code length} bytes into {@code buf} at {@code offset}. */
    boolean read(int file, int sqeFlags, MemorySegment buf, long offset, int length, long userData) {
        long addr = dataAddress(buf, offset, length, true);
        return queue(OP_READ, file, sqeFlags, addr, length, 0, 0, userData);
    }

    /** {@code WRITEV} of {@code count} whole segments. */
    boolean writev(int file, int sqeFlags, MemorySegment[] bufs, int count, long userData) {
        return vectored(OP_WRITEV, file, sqeFlags, bufs, count, userData, false);
    }

    /** {@code READV} into {@code count} whole segments. */
    boolean readv(int file, int sqeFlags, MemorySegment[] bufs, int count, long userData) {
        return vectored(OP_READV, file, sqeFlags, bufs, count, userData, true);
    }

    /** {@code WRITE_FIXED} of {@code length} bytes at {@code offset} in the registered region. */
    boolean writeFixed(int file, int sqeFlags, long offset, int length, long userData) {
        return queue(OP_WRITE_FIXED, file, sqeFlags, regs.fixedAddress(offset, length, false), length, 0, 0, userData);
    }

    /** {@code READ_FIXED} of up to {@code length} bytes at {@code offset} in the registered region. */
    boolean readFixed(int file, int sqeFlags, long offset, int length, long userData) {
        return queue(OP_READ_FIXED, file, sqeFlags, regs.fixedAddress(offset, length, true), length, 0, 0, userData);
    }

    /** One-shot {@code POLL_ADD} for {@code events}. */
    boolean pollAdd(int file, int sqeFlags, int events, long userData) {
        return queue(OP_POLL_ADD, file, sqeFlags, 0, 0, events, 0, userData);
    }

    /** {@code ASYNC_CANCEL} of the request carrying {@code target}. */
    boolean cancel(long target, long userData) {
        checkUserData(userData);
        long at = rings.nextSqe();
        if (at < 0) {
            return false;
        }
        rings.fill(at, OP_ASYNC_CANCEL, -1, 0, target, 0, 0, 0, userData);
        return true;
    }

    /**
     * The ring's own {@code ASYNC_CANCEL} of every request ({@code IORING_ASYNC_CANCEL_ANY |
     * IORING_ASYNC_CANCEL_ALL}, user data {@link #RESERVED_USER_DATA}), if an SQE is free.
     */
    void cancelEverything() {
        long at = rings.nextSqe();
        if (at >= 0) {
            rings.fill(at, OP_ASYNC_CANCEL, -1, 0, 0, 0,
                    linux_h.IORING_ASYNC_CANCEL_ANY() | linux_h.IORING_ASYNC_CANCEL_ALL(), 0, RESERVED_USER_DATA);
        }
    }

    /** Multishot {@code READ} into the provided-buffer ring. */
    boolean readMultishot(int file, int sqeFlags, long userData) {
        BufferRing buffers = regs.buffers();
        if (buffers == null) {
            throw new IllegalStateException("multishot reads need a provided-buffer ring: call setUpBufferRing first");
        }
        if ((sqeFlags & ~FIXED_FILE) != 0) {
            throw new IllegalArgumentException("multishot reads take only FIXED_FILE, not 0x" + Integer.toHexString(sqeFlags));
        }
        return queue(OP_READ_MULTISHOT, file, sqeFlags | BUFFER_SELECT, 0, 0, 0, buffers.group, userData);
    }

    private boolean vectored(int op, int file, int sqeFlags, MemorySegment[] bufs, int count, long userData,
                             boolean kernelWrites) {
        if (count < 1 || count > MAX_SEGMENTS || count > bufs.length) {
            throw new IllegalArgumentException("segment count must be 1.." + Math.min(MAX_SEGMENTS, bufs.length)
                    + ", is " + count);
        }
        for (int i = 0; i < count; i++) { // validate every segment before touching the SQ
            MemorySegment b = bufs[i];
            dataAddress(b, 0, b.byteSize(), kernelWrites);
        }
        checkFile(file, sqeFlags);
        checkUserData(userData);
        long at = rings.nextSqe();
        if (at < 0) {
            return false;
        }
        long table = (at / Rings.SQE_SIZE) * IOV_SIZE * MAX_SEGMENTS;
        for (int i = 0; i < count; i++) {
            long e = table + i * IOV_SIZE;
            // SAFETY: e is entry i < MAX_SEGMENTS of SQE slot (at/SQE_SIZE)'s own table inside iovs; the
            // segment was checked above to lie inside data() or the provided buffers, which outlive the request.
            iovs.set(U64, e + IOV_BASE, bufs[i].address());
            iovs.set(U64, e + IOV_LEN, bufs[i].byteSize());
        }
        rings.fill(at, op, file, sqeFlags, iovs.address() + table, count, 0, 0, userData);
        return true;
    }

    private boolean queue(int op, int file, int sqeFlags, long addr, int len, int opFlags, int bufIndex, long userData) {
        checkFile(file, sqeFlags);
        checkUserData(userData);
        long at = rings.nextSqe();
        if (at < 0) {
            return false;
        }
        rings.fill(at, op, file, sqeFlags, addr, len, opFlags, bufIndex, userData);
        return true;
    }

    /** The address of {@code length} bytes at {@code offset} in {@code buf}, checked to lie in data or the provided buffers. */
    private long dataAddress(MemorySegment buf, long offset, long length, boolean kernelWrites) {
        BufferRing buffers = regs.buffers();
        long a = buf.address() + offset;
        if (!buf.isNative() || offset < 0 || length < 0 || length > Integer.MAX_VALUE
                || offset > buf.byteSize() - length
                || !((a >= dataBase && a + length <= dataEnd) || (buffers != null && buffers.contains(a, length)))) {
            throw new IllegalArgumentException("buffer must lie inside this ring's data() [0x" + Long.toHexString(dataBase)
                    + ", 0x" + Long.toHexString(dataEnd) + ")" + (buffers == null ? "" : " or bufferData() [0x"
                    + Long.toHexString(buffers.base) + ", 0x" + Long.toHexString(buffers.end) + ")") + ": " + buf
                    + " at +" + offset + " for " + length + " bytes");
        }
        if (kernelWrites && buf.isReadOnly()) {
            throw new IllegalArgumentException("buffer is read-only; the kernel would write into it: " + buf);
        }
        return a;
    }

    private void checkFile(int file, int sqeFlags) {
        if ((sqeFlags & ~(CALLER_SQE_FLAGS | BUFFER_SELECT)) != 0) {
            throw new IllegalArgumentException("SQE flags may be FIXED_FILE, LINK and ASYNC only, not 0x"
                    + Integer.toHexString(sqeFlags));
        }
        int registered = regs.files();
        if ((sqeFlags & FIXED_FILE) != 0 ? file < 0 || file >= registered : file < 0) {
            throw new IllegalArgumentException((sqeFlags & FIXED_FILE) != 0
                    ? "registered file index " + file + " out of 0.." + (registered - 1)
                    : "fd must not be negative, is " + file);
        }
    }

    private static void checkUserData(long userData) {
        if (userData == RESERVED_USER_DATA) {
            throw new IllegalArgumentException("user data 0x8000000000000000 is reserved for the ring's own requests");
        }
    }
}
