package dev.nettap;

import dev.nettap.internal.linux.iovec;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Sys;
import dev.nettap.internal.sys.VectorIo;
import dev.nettap.vnet.VirtioNetHdr;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One direction of a queue's frame path: the {@code readv} (or {@code writev}) of a header and a
 * frame through this direction's preallocated iovec table, the errno-to-status mapping, and this
 * direction's counters.
 *
 * <p><b>One thread at a time.</b> Every call takes this direction's exclusive role in the
 * {@link CloseGate} first, so the iovec table, the errno slot and the counters are only ever touched
 * by the one thread inside; the counters are plain fields (no atomics) that
 * {@link #snapshot()} reads without stopping the path (each value is one the path wrote).
 *
 * <p><b>Memory kept alive.</b> The caller's segments go into the iovecs as raw addresses, so each
 * call also passes them (one per distinct scope) to the downcall, where the FFM linker holds their
 * scopes until the kernel returns: a shared arena closed by another thread mid-call fails to close
 * instead of being freed under the kernel (see {@link VectorIo}).
 *
 * <p>Lengths are explicit ({@code length} may be less than a segment's size), so a caller that
 * sends part of a buffer needs no slice.
 */
final class FramePath {
    private static final int MAX_SEGMENTS = Segments.MAX_SEGMENTS;
    private static final long HDR = VirtioNetHdr.SIZE;
    private static final long IOV_SIZE = iovec.sizeof();
    private static final long IOV_BASE = iovec.iov_base$offset();
    private static final long IOV_LEN = iovec.iov_len$offset();

    private final int fd;
    private final CloseGate gate;
    private final int role;
    private final boolean reads;
    private final MemorySegment iov;
    private final MemorySegment errno;
    private final MemorySegment[] keep = VectorIo.newKeepTable();

    // Written only by the thread holding the role; read racily by snapshot().
    private long frames;
    private long bytes;
    private long wouldBlock;
    private long truncated;
    private long linkDown;
    private long malformed;
    private long deviceGone;
    private long noBufferSpace;
    private long badAddress;
    private long kernelErrors;
    private int lastErrno;

    FramePath(Arena arena, int fd, CloseGate gate, boolean reads) {
        this.fd = fd;
        this.gate = gate;
        this.reads = reads;
        this.role = reads ? CloseGate.READER : CloseGate.WRITER;
        this.iov = iovec.allocateArray(MAX_SEGMENTS + 1, arena);
        this.errno = Sys.newErrnoSlot(arena);
    }

    /** One header and {@code length} bytes of {@code frame}; both checked by the caller. */
    long transfer(MemorySegment hdr, MemorySegment frame, long length) {
        return transfer(hdr, frame, length, false);
    }

    /**
     * As {@link #transfer(MemorySegment, MemorySegment, long)}; with {@code lengthWhenFull} a read
     * that fills the buffer returns its length rather than {@link Status#POSSIBLY_TRUNCATED} (still
     * counted as possibly truncated).
     */
    long transfer(MemorySegment hdr, MemorySegment frame, long length, boolean lengthWhenFull) {
        gate.enterRole(role);
        try {
            return transferHeld(hdr, frame, length, lengthWhenFull);
        } finally {
            gate.exitRole(role);
        }
    }

    /**
     * Reads up to {@code max} frames under one hold of the role; stops at the first one that would
     * block. Frame {@code i} goes to {@code hdrs[i]}/{@code frames[i]}, its result to {@code results[i]}.
     * Each pair is checked here as it is used (the caller's check only makes a bad batch fail before
     * anything is read); a pair that fails here, because another thread stored it after that check,
     * throws {@link IllegalArgumentException} and the frames already read in this batch are lost.
     *
     * @return how many frames were read, or {@link Status#DEVICE_GONE} if the first found the device gone
     */
    int readBatch(MemorySegment[] hdrs, MemorySegment[] frames, long[] results, int max) {
        gate.enterRole(role);
        try {
            for (int i = 0; i < max; i++) {
                // Read once: each array slot is read into a local exactly once, and that local is the
                // one checked and the one handed to the kernel. The caller's earlier check of the arrays
                // only makes a bad batch fail before anything is read; it proves nothing about what the
                // slots hold now (another thread may have stored a smaller or read-only segment since).
                MemorySegment h = hdrs[i];
                MemorySegment f = frames[i];
                Segments.checkHeader(h, reads);
                Segments.checkNative(f, "frame", i, reads);
                long r = transferHeld(h, f, f.byteSize(), false);
                if (r == Status.WOULD_BLOCK) {
                    return i;
                }
                if (r < 0 && r != Status.POSSIBLY_TRUNCATED) {
                    if (i == 0 && r == Status.DEVICE_GONE) {
                        return (int) Status.DEVICE_GONE;
                    }
                    results[i] = r; // a failed frame is reported in place; the batch stops there
                    return i + 1;
                }
                results[i] = r;
            }
            return max;
        } finally {
            gate.exitRole(role);
        }
    }

    private long transferHeld(MemorySegment hdr, MemorySegment frame, long length, boolean lengthWhenFull) {
        putIov(0, hdr, HDR);
        putIov(1, frame, length);
        // One scope is enough when both come from the same arena (the common case).
        MemorySegment keepHdr = hdr.scope() == frame.scope() ? MemorySegment.NULL : hdr;
        long n;
        try {
            n = reads ? VectorIo.readv(errno, fd, iov, 2, keepHdr, frame)
                    : VectorIo.writev(errno, fd, iov, 2, keepHdr, frame);
        } catch (IllegalStateException e) { // a segment's arena closed after the caller's check
            throw Segments.closedDuringCall(e);
        }
        return result(n, length, lengthWhenFull);
    }

    /**
     * One header (checked by the caller) and the first {@code count} segments of {@code bufs},
     * checked here: each slot is read once, and the segment checked is the one whose address goes
     * into the iovec (a slot re-read after a check could hold another segment by then). A bad
     * segment throws before any system call, so nothing is read or written.
     */
    long transfer(MemorySegment hdr, MemorySegment[] bufs, int count) {
        Segments.checkCount(bufs, count);
        gate.enterRole(role);
        try {
            MemorySegment[] k = keep;
            int kept = 1;
            long capacity = 0;
            long n;
            try {
                putIov(0, hdr, HDR);
                k[0] = hdr;
                for (int i = 0; i < count; i++) {
                    MemorySegment b = bufs[i]; // read once (see above)
                    Segments.checkNative(b, "buffer", i, reads);
                    capacity += b.byteSize();
                    putIov(i + 1, b, b.byteSize());
                    if (b.scope() != k[kept - 1].scope()) {
                        k[kept++] = b;
                    }
                }
                if (kept <= VectorIo.KEEP_SMALL) { // header and buffers from one or two arenas: registers only
                    n = reads ? VectorIo.readv(errno, fd, iov, count + 1, k[0], k[1])
                            : VectorIo.writev(errno, fd, iov, count + 1, k[0], k[1]);
                } else {
                    n = reads ? VectorIo.readv(errno, fd, iov, count + 1, k) : VectorIo.writev(errno, fd, iov, count + 1, k);
                }
            } catch (IllegalStateException e) {
                throw Segments.closedDuringCall(e);
            } finally {
                for (int i = 0; i < kept; i++) {
                    k[i] = MemorySegment.NULL; // hold no caller memory between calls
                }
            }
            return result(n, capacity, false);
        } finally {
            gate.exitRole(role);
        }
    }

    private void putIov(int i, MemorySegment seg, long length) {
        long at = i * IOV_SIZE; // i <= MAX_SEGMENTS: inside the table of MAX_SEGMENTS + 1 entries
        // SAFETY: seg is native and alive (checked by the caller), length <= seg.byteSize() (checked
        // by the caller), and seg (or a segment of the same scope) is an argument of the downcall that
        // uses this iovec, so the linker keeps it alive until the kernel is done. Plain offsets, not
        // asSlice: no object per iovec.
        iov.set(ValueLayout.ADDRESS, at + IOV_BASE, seg);
        iov.set(ValueLayout.JAVA_LONG, at + IOV_LEN, length);
    }

    private long result(long n, long capacity, boolean lengthWhenFull) {
        if (n >= 0) {
            long len = Math.max(0, n - HDR);
            frames++;
            bytes += len;
            if (reads && len == capacity) {
                truncated++;
                if (!lengthWhenFull) {
                    return Status.POSSIBLY_TRUNCATED;
                }
            }
            return len;
        }
        int e = Sys.errno(errno);
        if (e == linux_h.EAGAIN() || e == linux_h.EINTR()) { // EINTR: a signal before any byte moved
            wouldBlock++;
            return Status.WOULD_BLOCK;
        }
        if (e == linux_h.EIO()) {
            linkDown++;
            return Status.LINK_DOWN;
        }
        if (e == linux_h.EINVAL()) {
            malformed++;
            return Status.MALFORMED;
        }
        if (e == linux_h.EBADFD()) {
            deviceGone++;
            return Status.DEVICE_GONE;
        }
        if (e == linux_h.ENOBUFS() || e == linux_h.ENOMEM()) {
            noBufferSpace++;
            return Status.NO_BUFFER_SPACE;
        }
        if (e == linux_h.EFAULT()) {
            badAddress++;
            return Status.BAD_ADDRESS;
        }
        kernelErrors++;
        lastErrno = e;
        return Status.KERNEL_ERROR;
    }

    /** This direction's counters as they are now (not stopped while read). */
    TapStatistics.Queue snapshot() {
        return new TapStatistics.Queue(frames, bytes, wouldBlock, truncated, linkDown, malformed, deviceGone,
                noBufferSpace, badAddress, kernelErrors, lastErrno);
    }
}
