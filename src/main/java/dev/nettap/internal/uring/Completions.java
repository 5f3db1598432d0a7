package dev.nettap.internal.uring;

import dev.nettap.internal.linux.linux_h;

/**
 * A caller-owned, reusable batch of completions: {@link IoUring#reap} and {@link IoUring#await} fill
 * it with up to {@link #capacity()} entries, copied out of the completion ring, so reaping allocates
 * nothing. Entry {@code i} ({@code 0 <= i < count()}) holds the {@code user_data} the caller put in
 * the request, the kernel's result ({@code res}: bytes, or minus an errno) and the CQE flags.
 *
 * <p>Not thread-safe: one thread fills and reads it.
 */
public final class Completions {
    private static final int F_MORE = linux_h.IORING_CQE_F_MORE();
    private static final int F_BUFFER = linux_h.IORING_CQE_F_BUFFER();
    private static final int BUFFER_SHIFT = linux_h.IORING_CQE_BUFFER_SHIFT();

    final long[] userData;
    final int[] res;
    final int[] flags;
    int count;

    /**
     * A batch of {@code capacity} entries.
     *
     * @param capacity at least 1
     */
    public Completions(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be at least 1, is " + capacity);
        }
        userData = new long[capacity];
        res = new int[capacity];
        flags = new int[capacity];
    }

    /** {@return how many entries the last reap filled} */
    public int count() {
        return count;
    }

    /** {@return how many entries fit} */
    public int capacity() {
        return userData.length;
    }

    /**
     * {@return the user data of entry {@code i}}
     *
     * @param i {@code 0 <= i < count()}
     */
    public long userData(int i) {
        return userData[check(i)];
    }

    /**
     * {@return the kernel's result for entry {@code i}: a byte count (or the number of requests a
     * cancel matched), or minus an errno}
     *
     * @param i {@code 0 <= i < count()}
     */
    public int result(int i) {
        return res[check(i)];
    }

    /**
     * {@return the CQE flags of entry {@code i}}
     *
     * @param i {@code 0 <= i < count()}
     */
    public int flags(int i) {
        return flags[check(i)];
    }

    /**
     * {@return true if the request of entry {@code i} stays armed (a multishot read produces more)}
     *
     * @param i {@code 0 <= i < count()}
     */
    public boolean more(int i) {
        return (flags[check(i)] & F_MORE) != 0;
    }

    /**
     * {@return the provided buffer the kernel filled for entry {@code i}, or -1 when none}
     *
     * @param i {@code 0 <= i < count()}
     */
    public int bufferId(int i) {
        int f = flags[check(i)];
        return (f & F_BUFFER) != 0 ? f >>> BUFFER_SHIFT : -1;
    }

    private int check(int i) {
        if (i < 0 || i >= count) {
            throw new IndexOutOfBoundsException("completion " + i + " of " + count);
        }
        return i;
    }
}
