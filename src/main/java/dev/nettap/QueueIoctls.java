package dev.nettap;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.FileCalls;
import dev.nettap.internal.sys.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The device-wide ioctls made on a queue fd ({@code TUNGETIFF}, and the int-valued ones such as
 * {@code TUNGETVNETHDRSZ}, {@code TUNGETFEATURES}, {@code TUNSETCARRIER}, {@code TUNSETSNDBUF}),
 * run on whichever queue of the device is open, with errors naming the device and fd.
 *
 * <p><b>Threads.</b> Stateless static helpers: safe from any thread; each call allocates its
 * argument in a confined arena of its own. Not a per-frame path.
 */
final class QueueIoctls {
    private QueueIoctls() {}

    /** The interface's name now, from {@code TUNGETIFF}; throws naming {@code TUNGETIFF} and the fd if it fails. */
    static String name(MemorySegment err, int fd) throws TapException {
        Iff iff = Iff.query(err, fd);
        if (iff == null) {
            throw TapException.syscall("TUNGETIFF", Sys.errno(err), "fd " + fd, null);
        }
        return iff.name();
    }

    /** {@return how errors name the device} */
    static String context(int fd) {
        Iff iff = Iff.query(Sys.errnoSlot(), fd);
        return "device \"" + (iff == null ? "?" : iff.name()) + "\" (fd " + fd + ")";
    }

    /** An int-valued read ioctl ({@code what} names it in errors) on an open queue of the device. */
    static int getInt(DeviceQueues queues, long request, String what) throws TapException {
        return queues.withQueue(fd -> {
            MemorySegment err = Sys.errnoSlot();
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment v = arena.allocate(ValueLayout.JAVA_INT);
                // SAFETY: v is a 4-byte int in this arena; the ioctl writes one int.
                if (FileCalls.ioctl(err, fd, request, v) < 0) {
                    throw TapException.syscall(what, Sys.errno(err), context(fd), null);
                }
                return v.get(ValueLayout.JAVA_INT, 0);
            }
        });
    }

    /**
     * An int-valued set ioctl on an open queue of the device; {@code EPERM} is named as needing
     * {@code CAP_NET_ADMIN}, {@code EINVAL}/{@code ENOTTY} get {@code hintOnEinval} (may be {@code null}).
     */
    static void setInt(DeviceQueues queues, long request, String what, int value, String hintOnEinval)
            throws TapException {
        queues.withQueue(fd -> {
            MemorySegment err = Sys.errnoSlot();
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment v = arena.allocateFrom(ValueLayout.JAVA_INT, value);
                // SAFETY: v is a 4-byte int in this arena; the ioctl reads one int.
                if (FileCalls.ioctl(err, fd, request, v) < 0) {
                    int e = Sys.errno(err);
                    throw TapException.syscall(what, e, context(fd),
                            e == linux_h.EPERM() ? "needs CAP_NET_ADMIN"
                                    : e == linux_h.EINVAL() || e == linux_h.ENOTTY() ? hintOnEinval : null);
                }
                return null;
            }
        });
    }
}
