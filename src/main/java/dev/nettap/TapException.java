package dev.nettap;

import dev.nettap.internal.sys.Errno;
import java.io.IOException;

/**
 * A TAP operation failed: a system call returned an error, or a file descriptor is not what nettap
 * needs. The message names the syscall, the errno (number, name and text) and the device, path or
 * fd involved, for example
 * {@code TUNSETIFF on /dev/net/tun for "vm0" failed: EPERM (Operation not permitted) — needs
 * CAP_NET_ADMIN, or a device pre-created for this user}.
 *
 * <p>Conditions the kernel reports in normal packet flow (would block, link down, device gone) are
 * not exceptions: the packet calls of {@link Tap} return them as status codes.
 */
public class TapException extends IOException {
    private static final long serialVersionUID = 1L;

    /** What went wrong, for callers that branch on it. */
    public enum Kind {
        /** A system call failed; {@link #errno()} says how. */
        SYSCALL,
        /** The file descriptor is not a TAP/TUN queue (or not attached to a device). */
        NOT_A_TAP,
        /** The device is a TAP where a TUN was asked for, or the reverse. */
        WRONG_MODE,
        /**
         * The queue was opened without a flag nettap requires: {@code IFF_NO_PI} (no packet-information
         * prefix) or {@code IFF_VNET_HDR} (the virtio-net header).
         */
        UNSUPPORTED_FLAGS,
        /** The device's virtio-net header size could not be set to 12 bytes. */
        HEADER_SIZE,
        /** A path or fd given as a network namespace is not one ({@code setns} said {@code EINVAL}). */
        NOT_A_NAMESPACE,
        /** An {@code SCM_RIGHTS} exchange: the message carried no file descriptor. */
        NO_FDS,
        /** An {@code SCM_RIGHTS} exchange: the message carried more fds than asked for (all were closed). */
        TOO_MANY_FDS,
        /** An {@code SCM_RIGHTS} exchange: the control data was cut ({@code MSG_CTRUNC}; what arrived was closed). */
        TRUNCATED,
        /** An {@code SCM_RIGHTS} exchange: the peer closed the connection before sending a message. */
        PEER_CLOSED,
        /** An {@code SCM_RIGHTS} exchange: nothing arrived within the timeout. */
        TIMEOUT,
        /**
         * io_uring cannot be used here (absent, forbidden, an opcode or feature missing, or turned off
         * with {@code -Ddev.nettap.uring=off}); the message says which. Use the {@code readv}/{@code writev} path.
         */
        URING_UNAVAILABLE
    }

    /** What went wrong. */
    private final Kind kind;
    /** The system call or ioctl, or {@code null}. */
    private final String syscall;
    /** The errno, or 0. */
    private final int errno;
    /** The device, path or fd concerned. */
    private final String context;

    /**
     * An exception of any kind. Only nettap creates these (package-private): callers branch on
     * {@link #kind()} and read the other accessors.
     *
     * @param kind    what went wrong
     * @param syscall the system call or ioctl involved, or {@code null}
     * @param errno   the errno it reported, or 0
     * @param context the device, path or fd involved
     * @param message the complete message
     */
    TapException(Kind kind, String syscall, int errno, String context, String message) {
        super(message);
        this.kind = kind;
        this.syscall = syscall;
        this.errno = errno;
        this.context = context;
    }

    /**
     * A failed system call: the message reads {@code SYSCALL on CONTEXT failed: ENAME (text)} and
     * then {@code — hint} when a hint is given.
     *
     * @param syscall the system call or ioctl, e.g. {@code "TUNSETIFF"}
     * @param errno   the errno it reported
     * @param context the device, path or fd, e.g. {@code /dev/net/tun for "vm0"}
     * @param hint    what the error usually means here, or {@code null}
     * @return the exception, to throw
     */
    static TapException syscall(String syscall, int errno, String context, String hint) {
        return syscall(Kind.SYSCALL, syscall, errno, context, hint);
    }

    /** A failed system call that means {@code kind} (not a TAP, not a namespace, ...). */
    static TapException syscall(Kind kind, String syscall, int errno, String context, String hint) {
        return new TapException(kind, syscall, errno, context, describe(syscall, errno, context, hint));
    }

    /** The message of {@link #syscall(String, int, String, String)}, for errors of other types. */
    static String describe(String syscall, int errno, String context, String hint) {
        return syscall + " on " + context + " failed: " + Errno.name(errno) + " (" + Errno.text(errno) + ")"
                + (hint == null ? "" : " — " + hint);
    }

    /** {@return what went wrong} */
    public Kind kind() {
        return kind;
    }

    /** {@return the system call or ioctl that failed ({@code "TUNSETIFF"}), or {@code null}} */
    public String syscall() {
        return syscall;
    }

    /** {@return the errno reported, or 0 when no system call failed} */
    public int errno() {
        return errno;
    }

    /** {@return the symbolic errno ({@code "EPERM"}), or {@code null} when there is none} */
    public String errnoName() {
        return errno == 0 ? null : Errno.name(errno);
    }

    /** {@return the device, path or fd the failure concerns} */
    public String context() {
        return context;
    }
}
