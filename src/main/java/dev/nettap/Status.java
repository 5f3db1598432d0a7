package dev.nettap;

/**
 * The status codes of {@link Tap}'s per-frame and wait calls, and their names. {@link Tap} publishes
 * them; the classes that produce them use them from here, so none of them depends on {@code Tap}.
 * Negative numbers never collide with a byte count; {@link #TIMEOUT} and {@link #READY} are results
 * of waits only.
 */
final class Status {
    private Status() {}

    static final long TIMEOUT = 0;
    static final long READY = 1;
    static final long WOULD_BLOCK = -1;
    static final long LINK_DOWN = -2;
    static final long MALFORMED = -3;
    static final long DEVICE_GONE = -4;
    static final long CLOSED = -5;
    static final long POSSIBLY_TRUNCATED = -6;
    static final long INTERRUPTED = -7;
    static final long NO_BUFFER_SPACE = -8;
    static final long BAD_ADDRESS = -9;
    static final long WAIT_FAILED = -10;
    static final long KERNEL_ERROR = -11;

    /** The lowest status; every value from here to -1 has a name. */
    static final long LOWEST = KERNEL_ERROR;

    private static final String[] NEGATIVE = {
        null,
        "WOULD_BLOCK: nothing to read now, or no room to write (EAGAIN)",
        "LINK_DOWN: the interface is down; the frame was not sent (EIO)",
        "MALFORMED: the kernel refused the frame or its header (EINVAL)",
        "DEVICE_GONE: the device was deleted under this queue (EBADFD, or POLLERR/POLLHUP on a wait)",
        "CLOSED: the Tap was closed while waiting",
        "POSSIBLY_TRUNCATED: the frame filled every buffer exactly and may have been cut",
        "INTERRUPTED: the waiting thread was interrupted (its interrupt flag stays set)",
        "NO_BUFFER_SPACE: the kernel could not allocate memory for the frame, or it is too large (ENOBUFS, ENOMEM)",
        "BAD_ADDRESS: the kernel could not access a buffer (EFAULT)",
        "WAIT_FAILED: the readiness wait failed (poll or epoll error); the next wait tries again",
        "KERNEL_ERROR: another errno the kernel returned; see TapStatistics lastErrno",
    };

    /**
     * The status's name and meaning, a constant string (no allocation): {@code "WOULD_BLOCK: ..."}.
     * 0 and 1 are named as the wait results {@code TIMEOUT} and {@code READY}; other non-negative
     * values are byte counts.
     */
    static String describe(long status) {
        if (status == TIMEOUT) {
            return "TIMEOUT: the wait's timeout passed first (or, from a read or write, a byte count of 0)";
        }
        if (status == READY) {
            return "READY: the queue is ready (or, from a read or write, a byte count of 1)";
        }
        if (status > 0) {
            return "a byte count";
        }
        if (status >= LOWEST) {
            return NEGATIVE[(int) -status];
        }
        return "not a nettap status";
    }
}
