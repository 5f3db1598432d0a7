package dev.nettap;

import dev.nettap.internal.sys.FileCalls;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Sys;
import java.lang.foreign.MemorySegment;

/**
 * Tells whether a queue's device really has {@code IFF_NO_PI}, which {@code TUNGETIFF} alone cannot,
 * without touching the device. The tun driver ORs {@code IFF_NOFILTER} (0x1000) into the flags it
 * reports whenever no socket filter is attached to the queue, and {@code IFF_NOFILTER == IFF_NO_PI};
 * so bit 0x1000 is set for every unfiltered queue, with or without a packet-information prefix
 * (checked on 6.18: a TAP set up with plain {@code IFF_TAP} reports 0x1002).
 *
 * <p>The truth is the device's own flags, which sysfs shows as {@code /sys/class/net/NAME/tun_flags}
 * in the device's network namespace: read-only, no filter attached, nobody else's queue touched.
 * <ul>
 * <li>A macvtap or ipvtap queue (a character device other than the clone device) needs nothing:
 *     that driver reports its own flags without the alias and accepts only {@code IFF_NO_PI}.</li>
 * <li>A tun queue whose holder has {@code CAP_NET_ADMIN}: {@code TUNGETDEVNETNS} names the
 *     namespace and {@link NetSysfs} reads {@code tun_flags} there.</li>
 * <li>Without it: {@code tun_flags} is read from this process's {@code /sys} when that shows the
 *     same interface (same index and MAC address) as the calling thread's namespace, as it does for
 *     a VMM that runs in the device's namespace.</li>
 * <li>Otherwise (an unprivileged process holding a queue of another namespace's device) nothing
 *     can tell without touching the device: the reported bit is taken at its word, and a device set
 *     up without {@code IFF_NO_PI} would show as malformed frames. This limit is documented on
 *     {@link Tap#open(TapHandle)}.</li>
 * </ul>
 */
final class NoPiCheck {
    private NoPiCheck() {}

    /**
     * The queue's flags with bit 0x1000 meaning {@code IFF_NO_PI} only, given what
     * {@code TUNGETIFF} reported ({@code iff}); {@code known} is where the handle says the device
     * was opened, or {@code null}.
     */
    static int trueFlags(MemorySegment err, int fd, Iff iff, NetnsRef known, String ctx) {
        int reported = iff.flags();
        if ((reported & linux_h.IFF_NO_PI()) == 0) {
            return reported; // a filter is attached, and the device has no IFF_NO_PI either
        }
        DeviceNode node = DeviceNode.of(err, fd);
        if (node != null && node.isTapCharDevice()) {
            return reported; // macvtap / ipvtap: no alias, IFF_NO_PI always
        }
        Integer device = tunFlags(err, fd, iff.name(), known, ctx);
        if (device == null) {
            System.getLogger("dev.nettap").log(System.Logger.Level.DEBUG,
                    "{0}: tun_flags not readable from here; taking IFF_NO_PI as TUNGETIFF reports it", ctx);
            return reported;
        }
        return (reported & ~linux_h.IFF_NO_PI()) | (device & linux_h.IFF_NO_PI());
    }

    /** The device's {@code tun_flags}, or {@code null} when no side-effect-free way reaches them. */
    private static Integer tunFlags(MemorySegment err, int fd, String name, NetnsRef known, String ctx) {
        NetnsRef ns;
        int nsfd = FileCalls.ioctl(err, fd, linux_h.TUNGETDEVNETNS(), 0L);
        if (nsfd >= 0) {
            ns = NetnsRef.ofFd(nsfd);
        } else {
            ns = known != null ? known : NetnsRef.CALLER;
        }
        try {
            String text = NetSysfs.read(ns, name, ctx,
                    () -> NetSysfs.attribute(NetSysfs.dir(name).resolve("tun_flags"), ctx));
            if (text == null || !text.startsWith("0x")) {
                return null;
            }
            return Integer.parseUnsignedInt(text.substring(2), 16);
        } catch (TapException | RuntimeException e) {
            System.getLogger("dev.nettap").log(System.Logger.Level.DEBUG, "{0}: reading tun_flags failed: {1}",
                    ctx, e.getMessage());
            return null;
        } finally {
            if (nsfd >= 0) {
                FileCalls.close(err, nsfd);
            }
        }
    }
}
