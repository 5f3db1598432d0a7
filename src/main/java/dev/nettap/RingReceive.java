package dev.nettap;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.uring.IoUring;
import dev.nettap.vnet.VirtioNetHdr;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * The receive side of a {@link TapRing}: its receive buffers, the reads that fill them, the read
 * completions that hand them to the caller, and their return.
 *
 * <p>Two modes. Multishot: each member has one multishot read armed into the ring of provided
 * buffers all members share (group 0, set up by the ring); a read that ends is armed again, unless
 * it was cancelled, its device is gone, or it ended for want of buffers while the caller holds all
 * of them ({@code starved}: armed again at the next {@link #release}). Readv: buffer {@code b} belongs to
 * member {@code b % members} and carries one {@code readv} of header and frame, posted again when
 * the buffer is released (or its read failed with anything but cancellation or the device's
 * deletion). Re-arming and re-posting are only marked where they are decided; {@link #queueReads}
 * puts them on the submission queue, as far as it has room, and keeps the rest for next time.
 *
 * <p>Threads: the ring's owner only (the ring checks before calling in).
 *
 * <p>Invariants: a buffer is either the kernel's (posted, armed into the buffer ring, or waiting to
 * be) or the caller's (between the completion that handed it over and {@link #release}), never both;
 * {@code armsWaiting}/{@code postsWaiting} count the true entries of {@code toArm}/{@code toPost};
 * a member whose device is gone gets no read again. Nothing here allocates after construction.
 */
final class RingReceive {
    private static final long HDR = VirtioNetHdr.SIZE;
    private static final int ENOBUFS = linux_h.ENOBUFS();
    private static final int ECANCELED = linux_h.ECANCELED();

    private final IoUring ring;
    private final int members;
    /** Multishot reads into provided buffers, else one {@code readv} per buffer. */
    final boolean multishot;
    private final long frameCapacity;
    /** The virtio-net header of each buffer: preallocated slices. */
    final MemorySegment[] headers;
    /** The frame area of each buffer: preallocated slices. */
    final MemorySegment[] frames;
    private final MemorySegment[][] iovs;      // READV mode: {header, frame} per buffer
    private final boolean[] held;              // READV mode: the caller holds buffer i
    private final boolean[] toPost;            // READV mode: buffer i waits for its readv to be queued
    private int postsWaiting;
    private final boolean[] toArm;             // MULTISHOT mode: member i waits for its read to be armed
    private final boolean[] starved;           // MULTISHOT mode: member i's read ended for want of buffers
    private int armsWaiting;
    private int starvedCount;                  // true entries of starved: release() scans only when some
    private int heldCount;                     // MULTISHOT mode: buffers the caller holds
    private final boolean[] gone;              // member i's device disappeared: its reads stopped

    /**
     * The receive side over {@code region}, with every read waiting to be queued.
     *
     * @param ring       the ring, with the members as registered files 0..members-1 (and, multishot,
     *                   its provided-buffer ring set up over {@code region})
     * @param members    how many members
     * @param multishot  the read mode
     * @param region     {@code buffers} buffers of {@code bufferSize} bytes each, back to back
     * @param buffers    how many buffers
     * @param bufferSize bytes per buffer, header included
     */
    RingReceive(IoUring ring, int members, boolean multishot, MemorySegment region, int buffers, int bufferSize) {
        this.ring = ring;
        this.members = members;
        this.multishot = multishot;
        this.frameCapacity = bufferSize - HDR;
        headers = new MemorySegment[buffers];
        frames = new MemorySegment[buffers];
        for (int i = 0; i < buffers; i++) {
            headers[i] = region.asSlice((long) i * bufferSize, HDR);
            frames[i] = region.asSlice((long) i * bufferSize + HDR, frameCapacity);
        }
        gone = new boolean[members];
        toArm = new boolean[members];
        starved = new boolean[members];
        held = new boolean[buffers];
        toPost = new boolean[buffers];
        iovs = multishot ? null : new MemorySegment[buffers][];
        if (multishot) {
            Arrays.fill(toArm, true);
            armsWaiting = members;
        } else {
            for (int i = 0; i < buffers; i++) {
                iovs[i] = new MemorySegment[] {headers[i], frames[i]};
                toPost[i] = true;
            }
            postsWaiting = buffers;
        }
    }

    /**
     * Takes a multishot read's completion.
     *
     * @param out    where a frame or a failure is reported
     * @param member whose read
     * @param res    the kernel's result
     * @param buffer the provided buffer it filled, or -1
     * @param more   whether the read stays armed
     */
    void multishotDone(RingCompletions out, int member, int res, int buffer, boolean more) {
        if (buffer >= 0) {
            heldCount++;
            out.add(true, member, UringStatus.frame(res, frameCapacity, true), buffer, 0);
        } else if (res == -ENOBUFS) {
            if (heldCount < headers.length) {
                arm(member); // buffers came back since the kernel found none: read again now
            } else {
                if (!starved[member]) {
                    starved[member] = true; // every buffer is with the caller: armed again at the next release
                    starvedCount++;
                }
            }
        } else if (res < 0 && res != -ECANCELED) {
            long s = UringStatus.frame(res, frameCapacity, true);
            if (s != Tap.WOULD_BLOCK) {
                out.add(true, member, s, -1, 0);
            }
            if (s == Tap.DEVICE_GONE) {
                gone[member] = true;
            }
        }
        if (!more && res != -ENOBUFS && res != -ECANCELED && !gone[member]) {
            arm(member);
        }
    }

    /**
     * Takes a {@code readv}'s completion.
     *
     * @param out    where a frame or a failure is reported
     * @param member whose read
     * @param res    the kernel's result
     * @param buffer the buffer it read into
     */
    void readvDone(RingCompletions out, int member, int res, int buffer) {
        if (res == -ECANCELED) {
            return;
        }
        long s = UringStatus.frame(res, frameCapacity, true);
        if (res >= 0) {
            held[buffer] = true; // the caller's until release()
            out.add(true, member, s, buffer, 0);
            return;
        }
        if (s != Tap.WOULD_BLOCK) {
            out.add(true, member, s, -1, 0);
        }
        if (s == Tap.DEVICE_GONE) {
            gone[member] = true;
        } else {
            post(buffer);
        }
    }

    /**
     * Gives a buffer back for the next frame (see {@link TapRing#release}).
     *
     * @param buffer an id a read completion handed over and not released since
     * @throws IllegalArgumentException the caller does not hold that buffer
     */
    void release(int buffer) {
        if (multishot) {
            ring.recycleBuffer(buffer); // refuses a buffer the caller does not hold
            heldCount--;
            for (int m = 0; m < starved.length && starvedCount > 0; m++) {
                if (starved[m]) {
                    starved[m] = false;
                    starvedCount--;
                    arm(m);
                }
            }
        } else {
            if (buffer < 0 || buffer >= held.length || !held[buffer]) {
                throw new IllegalArgumentException("buffer " + buffer + " is not held by the caller (ids come from read "
                        + "entries and go back once)");
            }
            held[buffer] = false;
            if (!gone[buffer % members]) {
                post(buffer);
            }
        }
    }

    private void arm(int member) {
        if (!toArm[member]) {
            toArm[member] = true;
            armsWaiting++;
        }
    }

    private void post(int buffer) {
        if (!toPost[buffer]) {
            toPost[buffer] = true;
            postsWaiting++;
        }
    }

    /**
     * Queues every read waiting to be (re-)armed or posted, as far as the SQ has room; the rest
     * next time.
     *
     * @return false if the SQ filled up before every waiting read was queued
     */
    boolean queueReads() {
        if (armsWaiting > 0) {
            for (int m = 0; m < toArm.length && armsWaiting > 0; m++) {
                if (toArm[m]) {
                    if (!ring.prepReadMultishot(m, IoUring.FIXED_FILE, RingUserData.of(RingUserData.READ, m, 0))) {
                        return false;
                    }
                    toArm[m] = false;
                    armsWaiting--;
                }
            }
        }
        if (postsWaiting > 0) {
            for (int b = 0; b < toPost.length && postsWaiting > 0; b++) {
                if (toPost[b]) {
                    int m = b % members; // READV mode: buffer b belongs to member b mod members
                    if (!ring.prepReadv(m, IoUring.FIXED_FILE, iovs[b], 2, RingUserData.of(RingUserData.READV, m, b))) {
                        return false;
                    }
                    toPost[b] = false;
                    postsWaiting--;
                }
            }
        }
        return true;
    }
}
