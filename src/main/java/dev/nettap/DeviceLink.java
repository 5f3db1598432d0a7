package dev.nettap;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.FileCalls;
import dev.nettap.internal.sys.Sys;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * Where a device's link settings (up/down, MTU, MAC address) are made: finds the device's network
 * namespace ({@code TUNGETDEVNETNS} for a tun device, else the namespace file the handle was opened
 * in, else the calling thread's) and runs an {@link IfaceIoctl} on a socket made there, after
 * proving, for a macvtap whose namespace is unknown, that the name there is this device.
 *
 * <p><b>Threads.</b> Thread-safe: the fields are final and each call makes its own namespace fd,
 * socket and arena, closed before it returns. No lock is held across a call (the registry's lock
 * only briefly, inside {@link DeviceQueues#withQueue}, to pick a queue).
 */
final class DeviceLink {
    /** An interface-ioctl action on a socket in the device's namespace. */
    @FunctionalInterface
    interface LinkCall<T> {
        T apply(IfaceIoctl io) throws TapException;
    }

    private final DeviceQueues queues;
    private final boolean charDevice; // macvtap / ipvtap
    private final NetnsRef netns;     // where the handle was opened, when known by path; else null

    DeviceLink(DeviceQueues queues, boolean charDevice, NetnsRef netns) {
        this.queues = queues;
        this.charDevice = charDevice;
        this.netns = netns;
    }

    /** {@return the namespace file the queues were opened in, when the library knows it by path; else {@code null}} */
    Path netnsPath() {
        return netns == null ? null : netns.path();
    }

    /** Runs {@code call} on an interface-ioctl socket in the device's namespace, for the device's current name. */
    <T> T call(LinkCall<T> call) throws TapException {
        return queues.withQueue(fd -> {
            MemorySegment err = Sys.errnoSlot();
            String name = QueueIoctls.name(err, fd);
            String ctx = "device \"" + name + "\" (fd " + fd + ")";
            int nsfd = charDevice ? -1 : FileCalls.ioctl(err, fd, linux_h.TUNGETDEVNETNS(), 0L);
            NetnsRef ns = nsfd >= 0 ? NetnsRef.ofFd(nsfd) : netns != null ? netns : NetnsRef.CALLER;
            try {
                return ns.call(() -> {
                    if (charDevice && netns == null) {
                        requireSameMacvtap(fd, name, ctx);
                    }
                    try (IfaceIoctl io = new IfaceIoctl(name, ctx + ns.where())) {
                        return call.apply(io);
                    }
                });
            } finally {
                if (nsfd >= 0) {
                    FileCalls.close(err, nsfd);
                }
            }
        });
    }

    /**
     * A macvtap opened by path (or fd) has no known namespace, so its name is looked up in the
     * caller's, where another interface may have the same name. Proven the same device when the
     * name there is a macvtap or ipvtap whose character device is the queue's (device numbers are
     * system-wide); otherwise refused, since the ioctls would act on another interface.
     */
    private static void requireSameMacvtap(int fd, String name, String ctx) throws TapException {
        MemorySegment err = Sys.errnoSlot();
        DeviceNode node = DeviceNode.of(err, fd);
        if (node == null) {
            throw TapException.syscall("fstat", Sys.errno(err), ctx, null);
        }
        String why;
        try {
            long rdev = Macvtap.charDevice(name, NetnsRef.CALLER, ctx);
            if (rdev == node.rdev()) {
                return;
            }
            why = "\"" + name + "\" there is character device " + DeviceNode.format(rdev);
        } catch (TapException e) {
            why = e.getMessage();
        }
        throw new TapException(TapException.Kind.NOT_A_TAP, null, 0, ctx, "cannot prove that interface \"" + name
                + "\" in the caller's network namespace is this queue's device " + DeviceNode.format(node.rdev())
                + " (" + why + "); call from a thread in the device's namespace, or open it with"
                + " TapHandle.macvtapInNamespace");
    }
}
