package dev.nettap;

import dev.nettap.internal.linux.linux_h;

/**
 * The one place where an io_uring completion's result becomes a {@link Tap} status: the ring path
 * must report exactly what the {@code readv}/{@code writev} path reports for the same errno.
 * Point this table at {@link Tap}'s when its statuses grow.
 */
final class UringStatus {
    private UringStatus() {}

    /** First of the statuses that carry an errno the TAP path has no name for: {@code OTHER_ERRNO - errno}. */
    static final long OTHER_ERRNO = -1000;

    /**
     * A completion's {@code res} as the {@code readv}/{@code writev} path would report it: bytes
     * (unchanged, header included), or a status. A request cancelled because its ring or queue is
     * closing is {@link Tap#CLOSED}; an errno without a status is {@code OTHER_ERRNO - errno}
     * ({@link #errnoOf}), so a loop never throws per frame.
     *
     * @param res the CQE's result: bytes, or minus an errno
     * @return bytes, or a negative status
     */
    static long of(int res) {
        if (res >= 0) {
            return res;
        }
        int e = -res;
        if (e == linux_h.EAGAIN() || e == linux_h.EINTR()) {
            return Tap.WOULD_BLOCK;
        }
        if (e == linux_h.EIO()) {
            return Tap.LINK_DOWN;
        }
        if (e == linux_h.EINVAL()) {
            return Tap.MALFORMED;
        }
        if (e == linux_h.EBADFD()) {
            return Tap.DEVICE_GONE;
        }
        if (e == linux_h.ECANCELED()) {
            return Tap.CLOSED;
        }
        return OTHER_ERRNO - e;
    }

    /** {@return the errno a status from {@link #of} carries, or 0 for a named status or a byte count} */
    static int errnoOf(long status) {
        return status <= OTHER_ERRNO ? (int) (OTHER_ERRNO - status) : 0;
    }
}
