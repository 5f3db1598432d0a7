package dev.nettap;

import dev.nettap.internal.uring.IoUring;
import dev.nettap.vnet.VirtioNetHdr;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * The write side of a {@link TapRing}: checks a write's arguments, checks that its memory is memory
 * the ring accepts (memory that outlives every request: the ring's own write memory, its receive
 * buffers, or the guest region registered as a fixed buffer), and queues it as one {@code WRITE}
 * (header directly followed by its frame), {@code WRITE_FIXED} (the same, in the guest region) or
 * {@code WRITEV} (header and frame apart).
 *
 * <p>Threads: the ring's owner only (the ring checks before calling in; {@link IoUring} checks
 * again when the request is prepared).
 *
 * <p>Invariants: the three regions are fixed for the ring's life; nothing is allocated when the
 * header is directly followed by the frame; the two-entry {@code writev} scratch array holds no
 * reference between calls.
 */
final class RingWrites {
    private static final long HDR = VirtioNetHdr.SIZE;

    private final IoUring ring;
    private final int members;
    private final MemorySegment tx;
    private final long txBase;
    private final MemorySegment rxRegion;
    private final long rxBase;
    private final MemorySegment guest;
    private final long guestBase;
    private final MemorySegment[] writev = new MemorySegment[2];

    /**
     * The write side of {@code ring}.
     *
     * @param ring     the ring, with the members as registered files 0..members-1
     * @param members  how many members
     * @param tx       the ring's own write memory
     * @param rxRegion the receive buffers, all of them
     * @param guest    the registered guest region (fixed buffer 0), or null
     */
    RingWrites(IoUring ring, int members, MemorySegment tx, MemorySegment rxRegion, MemorySegment guest) {
        this.ring = ring;
        this.members = members;
        this.tx = tx;
        this.txBase = tx.address();
        this.rxRegion = rxRegion;
        this.rxBase = rxRegion.address();
        this.guest = guest;
        this.guestBase = guest == null ? 0 : guest.address();
    }

    /**
     * Checks and queues a write (see {@link TapRing#submitWrite}).
     *
     * @param member   the member's index
     * @param hdr      exactly {@value VirtioNetHdr#SIZE} bytes
     * @param frame    the frame's memory
     * @param length   bytes of {@code frame} to send
     * @param userData 0..{@link RingUserData#PAYLOAD}
     * @return false if the submission queue is full (nothing queued)
     */
    boolean submit(int member, MemorySegment hdr, MemorySegment frame, long length, long userData) {
        Objects.checkIndex(member, members);
        if (hdr.byteSize() != HDR) {
            throw new IllegalArgumentException("the header must be exactly " + HDR + " bytes, is " + hdr.byteSize());
        }
        if (length < 0 || length > frame.byteSize() || length > Integer.MAX_VALUE - HDR) {
            throw new IllegalArgumentException("length " + length + " does not fit the frame of " + frame.byteSize() + " bytes");
        }
        if (userData < 0 || userData > RingUserData.PAYLOAD) {
            throw new IllegalArgumentException("user data must be 0.." + RingUserData.PAYLOAD + ", is " + userData);
        }
        long ud = RingUserData.of(RingUserData.WRITE, member, userData);
        long h = hdr.address();
        int total = (int) (HDR + length);
        boolean contiguous = hdr.isNative() && frame.isNative() && frame.address() == h + HDR;
        if (contiguous) {
            if (inside(tx, txBase, h, total)) {
                return ring.prepWrite(member, IoUring.FIXED_FILE, tx, h - txBase, total, ud);
            }
            if (inside(rxRegion, rxBase, h, total)) {
                return ring.prepWrite(member, IoUring.FIXED_FILE, rxRegion, h - rxBase, total, ud);
            }
            if (guest != null && inside(guest, guestBase, h, total)) {
                return ring.prepWriteFixed(member, IoUring.FIXED_FILE, h - guestBase, total, ud);
            }
        } else if (guest != null && inside(guest, guestBase, h, (int) HDR)) {
            throw new IllegalArgumentException("a write from the guest region needs its header directly followed by the "
                    + "frame (one fixed buffer); copy the header into txMemory() otherwise");
        }
        // Apart (or not ours: prepWritev refuses memory outside the ring's regions with a clear message).
        writev[0] = hdr;
        writev[1] = length == frame.byteSize() ? frame : frame.asSlice(0, length);
        try {
            return ring.prepWritev(member, IoUring.FIXED_FILE, writev, 2, ud);
        } finally {
            writev[0] = null;
            writev[1] = null;
        }
    }

    private static boolean inside(MemorySegment region, long base, long a, int length) {
        return a >= base && a - base <= region.byteSize() - length;
    }
}
