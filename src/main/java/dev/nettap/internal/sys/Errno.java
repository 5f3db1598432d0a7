package dev.nettap.internal.sys;

import dev.nettap.internal.linux.linux_h;

/**
 * errno numbers to their symbolic names and texts. The numbers come from the generated bindings
 * (checked against this machine's headers by the drift test); the texts are glibc's.
 */
public final class Errno {
    private Errno() {}

    private static final String[] NAMES = new String[160];
    private static final String[] TEXTS = new String[160];

    private static void put(int errno, String name, String text) {
        if (errno > 0 && errno < NAMES.length && NAMES[errno] == null) { // EWOULDBLOCK == EAGAIN: first wins
            NAMES[errno] = name;
            TEXTS[errno] = text;
        }
    }

    static {
        put(linux_h.EPERM(), "EPERM", "Operation not permitted");
        put(linux_h.ENOENT(), "ENOENT", "No such file or directory");
        put(linux_h.ESRCH(), "ESRCH", "No such process");
        put(linux_h.EINTR(), "EINTR", "Interrupted system call");
        put(linux_h.EIO(), "EIO", "Input/output error");
        put(linux_h.ENXIO(), "ENXIO", "No such device or address");
        put(linux_h.EBADF(), "EBADF", "Bad file descriptor");
        put(linux_h.EAGAIN(), "EAGAIN", "Resource temporarily unavailable");
        put(linux_h.ENOMEM(), "ENOMEM", "Cannot allocate memory");
        put(linux_h.EACCES(), "EACCES", "Permission denied");
        put(linux_h.EFAULT(), "EFAULT", "Bad address");
        put(linux_h.EBUSY(), "EBUSY", "Device or resource busy");
        put(linux_h.EEXIST(), "EEXIST", "File exists");
        put(linux_h.ENODEV(), "ENODEV", "No such device");
        put(linux_h.ENOTDIR(), "ENOTDIR", "Not a directory");
        put(linux_h.EISDIR(), "EISDIR", "Is a directory");
        put(linux_h.EINVAL(), "EINVAL", "Invalid argument");
        put(linux_h.ENFILE(), "ENFILE", "Too many open files in system");
        put(linux_h.EMFILE(), "EMFILE", "Too many open files");
        put(linux_h.ENOTTY(), "ENOTTY", "Inappropriate ioctl for device");
        put(linux_h.ENOSPC(), "ENOSPC", "No space left on device");
        put(linux_h.EPIPE(), "EPIPE", "Broken pipe");
        put(linux_h.ERANGE(), "ERANGE", "Numerical result out of range");
        put(linux_h.ENAMETOOLONG(), "ENAMETOOLONG", "File name too long");
        put(linux_h.ENOSYS(), "ENOSYS", "Function not implemented");
        put(linux_h.ELOOP(), "ELOOP", "Too many levels of symbolic links");
        put(linux_h.EBADFD(), "EBADFD", "File descriptor in bad state");
        put(linux_h.ENOTSOCK(), "ENOTSOCK", "Socket operation on non-socket");
        put(linux_h.EMSGSIZE(), "EMSGSIZE", "Message too long");
        put(linux_h.EPROTONOSUPPORT(), "EPROTONOSUPPORT", "Protocol not supported");
        put(linux_h.EOPNOTSUPP(), "EOPNOTSUPP", "Operation not supported");
        put(linux_h.EAFNOSUPPORT(), "EAFNOSUPPORT", "Address family not supported by protocol");
        put(linux_h.EADDRINUSE(), "EADDRINUSE", "Address already in use");
        put(linux_h.EADDRNOTAVAIL(), "EADDRNOTAVAIL", "Cannot assign requested address");
        put(linux_h.ENETDOWN(), "ENETDOWN", "Network is down");
        put(linux_h.ENETUNREACH(), "ENETUNREACH", "Network is unreachable");
        put(linux_h.ECONNABORTED(), "ECONNABORTED", "Software caused connection abort");
        put(linux_h.ECONNRESET(), "ECONNRESET", "Connection reset by peer");
        put(linux_h.ENOBUFS(), "ENOBUFS", "No buffer space available");
        put(linux_h.EISCONN(), "EISCONN", "Transport endpoint is already connected");
        put(linux_h.ENOTCONN(), "ENOTCONN", "Transport endpoint is not connected");
        put(linux_h.ETIMEDOUT(), "ETIMEDOUT", "Connection timed out");
        put(linux_h.ECONNREFUSED(), "ECONNREFUSED", "Connection refused");
        put(linux_h.EHOSTUNREACH(), "EHOSTUNREACH", "No route to host");
        put(linux_h.EALREADY(), "EALREADY", "Operation already in progress");
        put(linux_h.EINPROGRESS(), "EINPROGRESS", "Operation now in progress");
        put(linux_h.EROFS(), "EROFS", "Read-only file system");
        put(linux_h.EOVERFLOW(), "EOVERFLOW", "Value too large for defined data type");
        put(linux_h.EXDEV(), "EXDEV", "Invalid cross-device link");
    }

    /** The symbolic name of {@code errno} ({@code "EPERM"}), or {@code "errno N"} when unknown. */
    public static String name(int errno) {
        String n = errno > 0 && errno < NAMES.length ? NAMES[errno] : null;
        return n != null ? n : "errno " + errno;
    }

    /** glibc's text for {@code errno}, or {@code "Unknown error N"}. */
    public static String text(int errno) {
        String t = errno > 0 && errno < TEXTS.length ? TEXTS[errno] : null;
        return t != null ? t : "Unknown error " + errno;
    }
}
