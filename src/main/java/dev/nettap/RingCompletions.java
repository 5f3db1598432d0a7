package dev.nettap;

import dev.nettap.internal.uring.Completions;

/**
 * A caller-owned, reusable batch of {@link TapRing} results: {@link TapRing#await} fills it with
 * up to {@link #capacity()} finished reads and writes, copied out of the completion queue, so a busy
 * loop allocates nothing. Entry {@code i} ({@code 0 <= i < count()}) says which member queue it
 * concerns ({@link #member}), whether it is a read ({@link #isRead}) and its {@link #status}: the
 * frame's length without the virtio-net header, or the same negative status {@link Tap#read} or
 * {@link Tap#write} returns for the same errno.
 *
 * <p>Not thread-safe: the ring's owner thread fills and reads it.
 */
public final class RingCompletions {
    /** What the kernel reported, reaped in batches; sized like this batch so a reap never overfills it. */
    final Completions raw;
    private final boolean[] read;
    private final int[] member;
    private final long[] status;
    private final int[] buffer;
    private final long[] userData;
    private int count;
    private boolean woken;

    /**
     * A batch of {@code capacity} entries.
     *
     * @param capacity 1..65536
     */
    public RingCompletions(int capacity) {
        if (capacity < 1 || capacity > 65536) {
            throw new IllegalArgumentException("capacity must be 1..65536, is " + capacity);
        }
        raw = new Completions(capacity);
        read = new boolean[capacity];
        member = new int[capacity];
        status = new long[capacity];
        buffer = new int[capacity];
        userData = new long[capacity];
    }

    void reset() {
        count = 0;
        woken = false;
    }

    void woken() {
        woken = true;
    }

    void add(boolean isRead, int m, long s, int b, long ud) {
        int i = count++; // at most raw.capacity(): one entry per reaped completion
        read[i] = isRead;
        member[i] = m;
        status[i] = s;
        buffer[i] = b;
        userData[i] = ud;
    }

    /** {@return how many entries the last {@link TapRing#await} filled} */
    public int count() {
        return count;
    }

    /** {@return how many entries fit} */
    public int capacity() {
        return read.length;
    }

    /** {@return true if a {@link TapRing#wakeup()} ended the last {@link TapRing#await}} */
    public boolean wasWoken() {
        return woken;
    }

    /**
     * {@return true for a received frame (or a read that failed), false for a finished write}
     *
     * @param i {@code 0 <= i < count()}
     */
    public boolean isRead(int i) {
        return read[check(i)];
    }

    /**
     * {@return the member queue, as its index in the list given to {@link TapRing#open}}
     *
     * @param i {@code 0 <= i < count()}
     */
    public int member(int i) {
        return member[check(i)];
    }

    /**
     * {@return the frame's length in bytes without the virtio-net header (0 or more), or a negative
     * status named by {@link Tap#describe}: for reads {@link Tap#POSSIBLY_TRUNCATED} when the frame
     * filled its buffer, {@link Tap#DEVICE_GONE} when the device was deleted (that member's reads
     * stop); for writes {@link Tap#LINK_DOWN}, {@link Tap#MALFORMED}, {@link Tap#NO_BUFFER_SPACE},
     * {@link Tap#BAD_ADDRESS}, {@link Tap#DEVICE_GONE}, {@link Tap#KERNEL_ERROR}}
     *
     * @param i {@code 0 <= i < count()}
     */
    public long status(int i) {
        return status[check(i)];
    }

    /**
     * {@return for a read, the receive buffer holding the frame (read it through
     * {@link TapRing#rxHeader} and {@link TapRing#rxFrame}, then give it back with
     * {@link TapRing#release}); -1 when the read carried no frame. -1 for writes}
     *
     * @param i {@code 0 <= i < count()}
     */
    public int buffer(int i) {
        return buffer[check(i)];
    }

    /**
     * {@return for a write, the user data given to {@link TapRing#submitWrite}; 0 for reads}
     *
     * @param i {@code 0 <= i < count()}
     */
    public long userData(int i) {
        return userData[check(i)];
    }

    private int check(int i) {
        if (i < 0 || i >= count) {
            throw new IndexOutOfBoundsException("completion " + i + " of " + count);
        }
        return i;
    }
}
