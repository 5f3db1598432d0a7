package dev.nettap;

/**
 * The layout of the user data a {@link TapRing} gives each of its io_uring requests, so that a
 * completion says what it finished: bits 60..63 the kind of request, bits 48..59 the member queue
 * (0..4095), bits 0..47 a payload (a write's caller-given user data, a {@code readv}'s buffer).
 * Kind 8 (the sign bit) is left to {@code IoUring}'s own reserved user data.
 *
 * <p>Constants and static helpers only, no state: any thread; the JIT inlines every helper.
 */
final class RingUserData {
    private static final int KIND_SHIFT = 60;
    private static final int MEMBER_SHIFT = 48;
    /** The kind bits. */
    static final long KIND = 0xFL << KIND_SHIFT;
    /** A multishot read: payload unused. */
    static final long READ = 1L << KIND_SHIFT;
    /** A {@code readv}: payload = the receive buffer. */
    static final long READV = 2L << KIND_SHIFT;
    /** A write: payload = the caller's user data. */
    static final long WRITE = 3L << KIND_SHIFT;
    /** The {@code POLL_ADD} on the wake-up eventfd. */
    static final long WAKE = 4L << KIND_SHIFT;
    /** The payload bits: 48 (equal to {@link TapRing#MAX_USER_DATA}). */
    static final long PAYLOAD = (1L << MEMBER_SHIFT) - 1;

    private RingUserData() {
    }

    /**
     * {@return the user data of a request of {@code kind} for {@code member} carrying {@code payload}}
     *
     * @param kind    one of the kinds above
     * @param member  0..4095
     * @param payload 0..{@link #PAYLOAD}
     */
    static long of(long kind, int member, long payload) {
        return kind | ((long) member << MEMBER_SHIFT) | payload;
    }

    /**
     * {@return the member queue a request was for}
     *
     * @param ud its user data
     */
    static int member(long ud) {
        return (int) ((ud >>> MEMBER_SHIFT) & 0xFFF);
    }
}
