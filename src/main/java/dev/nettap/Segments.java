package dev.nettap;

import dev.nettap.vnet.VirtioNetHdr;
import java.lang.foreign.MemorySegment;

/**
 * The rules a caller's segments must meet before their addresses go into an iovec: the checks FFM
 * makes when a segment is a downcall argument (native, alive, accessible from this thread) plus
 * writability when the kernel writes into it, the header's exact size, and the scatter list's bounds.
 * Messages are built only on failure: the per-frame path allocates nothing.
 */
final class Segments {
    private Segments() {}

    /** The most caller segments per call: the size of each direction's iovec table, less the header's entry. */
    static final int MAX_SEGMENTS = 64;

    static void checkHeader(MemorySegment hdr, boolean kernelWrites) {
        checkNative(hdr, "header", -1, kernelWrites);
        if (hdr.byteSize() != VirtioNetHdr.SIZE) {
            throw new IllegalArgumentException("header segment must be exactly " + VirtioNetHdr.SIZE + " bytes, is "
                    + hdr.byteSize());
        }
    }

    static void checkNative(MemorySegment seg, String what, int index, boolean kernelWrites) {
        if (!seg.isNative() || !seg.scope().isAlive() || !seg.isAccessibleBy(Thread.currentThread())
                || (kernelWrites && seg.isReadOnly())) {
            throw badSegment(seg, index < 0 ? what : what + " " + index, kernelWrites);
        }
    }

    /** Checks {@code length} against {@code frame}: 0 to its size. */
    static void checkLength(MemorySegment frame, long length) {
        if (length < 0 || length > frame.byteSize()) {
            throw new IllegalArgumentException("length " + length + " is outside the frame segment of "
                    + frame.byteSize() + " bytes");
        }
    }

    /** Checks a scatter list's count against the array and the iovec table. */
    static void checkCount(MemorySegment[] bufs, int count) {
        if (count < 1 || count > MAX_SEGMENTS || count > bufs.length) {
            throw new IllegalArgumentException("segment count " + count + " out of range 1.."
                    + Math.min(MAX_SEGMENTS, bufs.length) + " (the iovec table holds "
                    + MAX_SEGMENTS + ")");
        }
    }

    /** A segment's arena was closed by another thread between the check and the call. */
    static IllegalArgumentException closedDuringCall(IllegalStateException cause) {
        return new IllegalArgumentException("a segment's arena was closed by another thread during the call;"
                + " keep caller memory alive until the call returns (nothing was read or written)", cause);
    }

    private static IllegalArgumentException badSegment(MemorySegment seg, String what, boolean kernelWrites) {
        String why = !seg.isNative() ? "is on the Java heap; readv/writev need native memory (Arena.allocate, or guest"
                + " memory mapped by the VMM)"
                : !seg.scope().isAlive() ? "belongs to a closed arena"
                : !seg.isAccessibleBy(Thread.currentThread()) ? "is confined to another thread"
                : "is read-only, and the kernel would write into it";
        return new IllegalArgumentException(what + " segment " + why);
    }
}
