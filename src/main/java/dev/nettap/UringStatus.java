package dev.nettap;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.vnet.VirtioNetHdr;

/**
 * The one place where an io_uring completion's result becomes a {@link Tap} status, with the same
 * table as the {@code readv}/{@code writev} path ({@link Status}, as {@code FramePath} applies it):
 * the virtio-net header is subtracted from byte counts, a read that filled its buffer exactly is
 * {@link Status#POSSIBLY_TRUNCATED}, and each errno maps to the same named status. A request
 * cancelled because its ring is closing is {@link Status#CLOSED}. Never throws per frame.
 */
final class UringStatus {
    private UringStatus() {}

    private static final int HDR = VirtioNetHdr.SIZE;

    /**
     * A completion's {@code res} as the {@code readv}/{@code writev} path reports it.
     *
     * @param res      the CQE's result: bytes (header included), or minus an errno
     * @param capacity the frame buffer's size (reads: equal to it means possibly truncated)
     * @param reads    whether the request was a read
     * @return the frame's length without the header, or a negative status
     */
    static long frame(int res, long capacity, boolean reads) {
        if (res >= 0) {
            long len = Math.max(0, res - HDR);
            return reads && len == capacity ? Status.POSSIBLY_TRUNCATED : len;
        }
        return ofErrno(-res);
    }

    /**
     * {@return a completion's {@code res} unchanged when it is a byte count, else the status of its
     * errno ({@link #ofErrno})}
     *
     * @param res the CQE's result
     */
    static long of(int res) {
        return res >= 0 ? res : ofErrno(-res);
    }

    /**
     * {@return the status of {@code errno}: the {@code readv}/{@code writev} path's table, plus
     * {@code ECANCELED} as {@link Status#CLOSED}; {@link Status#KERNEL_ERROR} for the rest}
     *
     * @param e a positive errno
     */
    static long ofErrno(int e) {
        if (e == linux_h.EAGAIN() || e == linux_h.EINTR()) {
            return Status.WOULD_BLOCK;
        }
        if (e == linux_h.EIO()) {
            return Status.LINK_DOWN;
        }
        if (e == linux_h.EINVAL()) {
            return Status.MALFORMED;
        }
        if (e == linux_h.EBADFD()) {
            return Status.DEVICE_GONE;
        }
        if (e == linux_h.ENOBUFS() || e == linux_h.ENOMEM()) {
            return Status.NO_BUFFER_SPACE;
        }
        if (e == linux_h.EFAULT()) {
            return Status.BAD_ADDRESS;
        }
        if (e == linux_h.ECANCELED()) {
            return Status.CLOSED;
        }
        return Status.KERNEL_ERROR;
    }
}
