package dev.nettap.internal.uring;

import dev.nettap.internal.sys.Errno;
import java.io.IOException;

/**
 * An io_uring set-up or control call failed. The message names the call, the errno (name and text)
 * and what was being done; {@link #errno()} gives the number for callers that branch on it (the
 * probe does: {@code ENOSYS} absent, {@code EPERM} forbidden).
 */
public final class UringException extends IOException {
    private static final long serialVersionUID = 1L;

    /** The errno, or 0 when the failure is not a system call's. */
    private final int errno;

    UringException(String call, int errno, String context) {
        super(call + " failed: " + Errno.name(errno) + " (" + Errno.text(errno) + ")"
                + (context == null ? "" : " — " + context));
        this.errno = errno;
    }

    UringException(String message) {
        super(message);
        this.errno = 0;
    }

    /** {@return the errno the call reported, or 0} */
    public int errno() {
        return errno;
    }
}
