package dev.nettap;

import dev.nettap.internal.sys.MountCalls;
import dev.nettap.internal.sys.FileCalls;
import dev.nettap.internal.linux.ifreq;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Errno;
import dev.nettap.internal.sys.Sys;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Opens a queue of a macvtap (or ipvtap) device: the character device behind the interface, not
 * the clone device. By path, the node is checked ({@code fstat} through an {@code O_PATH} fd, so
 * nothing is opened for real before it is known to be a character device other than the clone
 * device), opened, and asked {@code TUNGETIFF}; {@code TUNSETIFF} then sets
 * {@code IFF_TAP|IFF_NO_PI|IFF_VNET_HDR} (the only flags the driver accepts; it ignores names).
 *
 * <p>By name, the device number is read from {@code /sys/class/net/NAME/macvtap/tapN/dev} as the
 * device's own namespace shows it ({@link NetSysfs}); the node is {@code /dev/tapIFINDEX} when its
 * {@code st_rdev} matches (udev makes it for devices of the host namespace only, and
 * {@code /dev/tapN} of another namespace's device is another device or none), or else a private
 * node made with {@code mknod} in a fresh 0700 folder, opened, and unlinked at once. Without the
 * privilege to {@code mknod} ({@code CAP_MKNOD}) it waits up to {@link #UDEV_WAIT_MILLIS} ms for
 * udev to make the node.
 */
final class Macvtap {
    private Macvtap() {}

    static final long UDEV_WAIT_MILLIS = 2000;

    private record Info(long rdev, int ifindex, String kind) {}

    /**
     * An open, configured queue, for {@link TapHandle} to wrap (this class does not depend on it).
     *
     * @param fd     the queue's fd, owned by the receiver
     * @param origin how it was opened, for messages
     * @param name   the interface's name ({@code TUNGETIFF})
     * @param netns  the namespace it was looked up in, or {@code null} when opened by path
     */
    record Opened(int fd, String origin, String name, NetnsRef netns) {}

    static Opened byName(String ifname, NetnsRef ns) throws TapException {
        InterfaceNames.check(ifname);
        String ctx = "macvtap \"" + ifname + "\"" + ns.where();
        Info info = info(ifname, ns, ctx);
        String where = " (" + info.kind() + " \"" + ifname + "\", " + DeviceNode.format(info.rdev()) + ns.where() + ")";
        Path devNode = Path.of("/dev", "tap" + info.ifindex());
        if (matches(devNode, info.rdev())) {
            return byPath(devNode, info.rdev(), where, ns);
        }
        NoPrivateNode noNode;
        try {
            return privateNode(info, where, ns, ctx);
        } catch (NoPrivateNode e) {
            noNode = e;
        }
        long end = System.nanoTime() + UDEV_WAIT_MILLIS * 1_000_000;
        while (System.nanoTime() - end < 0) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            if (matches(devNode, info.rdev())) {
                return byPath(devNode, info.rdev(), where, ns);
            }
        }
        throw noNodeError(ctx, devNode, info.rdev(), noNode);
    }

    /**
     * Why no private node could be made: the system call and errno that failed (errno 0 when the
     * JDK reported the failure without one), and what was being done.
     */
    static final class NoPrivateNode extends Exception {
        private static final long serialVersionUID = 1L;
        final String syscall;
        final int errno;

        NoPrivateNode(String syscall, int errno, String detail) {
            super(detail, null, false, false);
            this.syscall = syscall;
            this.errno = errno;
        }
    }

    /** The final error of {@link #byName}: neither {@code /dev/tapN} nor a private node; names the real cause. */
    static TapException noNodeError(String ctx, Path devNode, long rdev, NoPrivateNode cause) {
        String why = cause.errno != 0 ? cause.syscall + " failed with " + Errno.name(cause.errno) + " ("
                + Errno.text(cause.errno) + ")" : cause.syscall + " failed";
        String hint = cause.syscall.equals("mknod") && (cause.errno == linux_h.EPERM())
                ? " (making a device node needs CAP_MKNOD)"
                : cause.syscall.equals("open") && cause.errno == linux_h.EACCES()
                ? " (the temporary folder's filesystem is probably mounted nodev)" : "";
        return new TapException(TapException.Kind.SYSCALL, cause.syscall, cause.errno, ctx,
                "no device node for " + ctx + ": " + devNode + " is missing or is another device (not "
                + DeviceNode.format(rdev) + "), and a private node could not be made: " + why + hint + ": "
                + cause.getMessage() + "; pass a node made for this device to TapHandle.macvtap(Path)");
    }

    /**
     * The character device number of the macvtap or ipvtap interface {@code ifname} as namespace
     * {@code ns} shows it (sysfs); throws {@code NOT_A_TAP} when that interface is not one.
     */
    static long charDevice(String ifname, NetnsRef ns, String ctx) throws TapException {
        return info(ifname, ns, ctx).rdev();
    }

    private static Info info(String ifname, NetnsRef ns, String ctx) throws TapException {
        return NetSysfs.read(ns, ifname, ctx, () -> {
            Path dir = NetSysfs.dir(ifname);
            for (String kind : new String[] {"macvtap", "ipvtap"}) {
                Path sub = dir.resolve(kind);
                if (!Files.isDirectory(sub)) {
                    continue;
                }
                try (DirectoryStream<Path> ds = Files.newDirectoryStream(sub, "tap*")) {
                    for (Path tap : ds) {
                        long rdev = DeviceNode.parse(NetSysfs.attribute(tap.resolve("dev"), ctx));
                        String idx = NetSysfs.attribute(dir.resolve("ifindex"), ctx);
                        if (rdev >= 0 && idx != null) {
                            return new Info(rdev, Integer.parseInt(idx), kind);
                        }
                    }
                } catch (IOException e) {
                    throw new TapException(TapException.Kind.SYSCALL, "read", 0, ctx, "listing " + sub + " failed: " + e);
                }
            }
            throw new TapException(TapException.Kind.NOT_A_TAP, null, 0, ctx, "\"" + ifname + "\"" + ns.where()
                    + " is not a macvtap or ipvtap interface (sysfs shows no macvtap/ or ipvtap/ character device)");
        });

    }

    /** Whether {@code node} is a character device with number {@code rdev} (checked without opening it). */
    private static boolean matches(Path node, long rdev) {
        MemorySegment err = Sys.errnoSlot();
        int fd;
        try (Arena arena = Arena.ofConfined()) {
            fd = FileCalls.open(err, arena.allocateFrom(node.toString()), linux_h.O_PATH() | linux_h.O_CLOEXEC());
        }
        if (fd < 0) {
            return false;
        }
        try {
            DeviceNode dn = DeviceNode.of(err, fd);
            return dn != null && dn.isCharDevice() && dn.rdev() == rdev;
        } finally {
            FileCalls.close(err, fd);
        }
    }

    /**
     * A private node for the device in a new 0700 folder; {@link NoPrivateNode} (naming the call
     * and errno) when none can be made or opened there, so the caller can fall back to udev.
     */
    private static Opened privateNode(Info info, String where, NetnsRef ns, String ctx)
            throws TapException, NoPrivateNode {
        Path dir;
        try {
            dir = Files.createTempDirectory("nettap-macvtap-");
        } catch (IOException | UnsupportedOperationException e) {
            throw new NoPrivateNode("createTempDirectory", 0, "making a folder in "
                    + System.getProperty("java.io.tmpdir") + ": " + e);
        }
        Path node = dir.resolve("tap" + info.ifindex());
        try {
            MemorySegment err = Sys.errnoSlot();
            int r;
            try (Arena arena = Arena.ofConfined()) {
                // SAFETY: the path is a NUL-terminated copy in this confined arena, alive for the call.
                r = MountCalls.mknod(err, arena.allocateFrom(node.toString()), linux_h.S_IFCHR() | 0600, info.rdev());
            }
            if (r < 0) {
                throw new NoPrivateNode("mknod", Sys.errno(err), "making " + node);
            }
            return byPath(node, info.rdev(), where, ns);
        } catch (TapException e) {
            if (e.errno() == linux_h.EACCES()) { // a nodev filesystem: fall back to /dev and udev
                throw new NoPrivateNode(e.syscall() == null ? "open" : e.syscall(), e.errno(), "opening " + node);
            }
            throw e;
        } finally {
            try {
                Files.deleteIfExists(node);
                Files.deleteIfExists(dir);
            } catch (IOException ignored) {
                // a leftover empty folder in the temp dir; nothing holds it
            }
        }
    }

    /**
     * Opens the macvtap node {@code node}: checked through {@code O_PATH} first, then opened
     * read-write, checked again on the open fd, queried and configured.
     *
     * @param rdev the device number it must have, or -1 for any macvtap/ipvtap character device
     */
    static Opened byPath(Path node, long rdev, String where, NetnsRef ns) throws TapException {
        String ctx = node + where;
        MemorySegment err = Sys.errnoSlot();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment path = arena.allocateFrom(node.toString());
            int probe = FileCalls.open(err, path, linux_h.O_PATH() | linux_h.O_CLOEXEC());
            if (probe < 0) {
                throw openError(Sys.errno(err), ctx);
            }
            DeviceNode seen;
            try {
                seen = DeviceNode.of(err, probe);
                if (seen == null) {
                    throw TapException.syscall("fstat", Sys.errno(err), ctx, null);
                }
            } finally {
                FileCalls.close(err, probe);
            }
            checkNode(seen, rdev, ctx);
            int fd = FileCalls.open(err, path, linux_h.O_RDWR() | linux_h.O_CLOEXEC() | linux_h.O_NONBLOCK());
            if (fd < 0) {
                throw openError(Sys.errno(err), ctx);
            }
            try {
                DeviceNode now = DeviceNode.of(err, fd);
                if (now == null) {
                    throw TapException.syscall("fstat", Sys.errno(err), ctx, null);
                }
                checkNode(now, seen.rdev(), ctx); // the path was not swapped between the two opens
                Iff iff = Iff.query(err, fd);
                if (iff == null) {
                    int e = Sys.errno(err);
                    throw TapException.syscall(TapException.Kind.NOT_A_TAP, "TUNGETIFF", e, ctx,
                            now.describe() + " is not a macvtap or ipvtap queue");
                }
                MemorySegment ifr = ifreq.allocate(arena);
                ifreq.ifr_ifru.ifru_flags(ifreq.ifr_ifru(ifr),
                        (short) (linux_h.IFF_TAP() | linux_h.IFF_NO_PI() | linux_h.IFF_VNET_HDR()));
                // SAFETY: ifr is a 40-byte struct ifreq in this arena; the driver reads its flags only.
                if (FileCalls.ioctl(err, fd, linux_h.TUNSETIFF(), ifr) < 0) {
                    int e = Sys.errno(err);
                    throw TapException.syscall(TapException.Kind.UNSUPPORTED_FLAGS, "TUNSETIFF", e, ctx,
                            "the queue refuses IFF_TAP|IFF_NO_PI|IFF_VNET_HDR");
                }
                return new Opened(fd, "macvtap " + node + " as \"" + iff.name() + "\"" + where, iff.name(), ns);
            } catch (TapException | RuntimeException | Error e) {
                FileCalls.close(err, fd);
                throw e;
            }
        }
    }

    private static void checkNode(DeviceNode dn, long rdev, String ctx) throws TapException {
        if (!dn.isTapCharDevice()) {
            throw new TapException(TapException.Kind.NOT_A_TAP, "fstat", 0, ctx, ctx + " is " + dn.describe()
                    + ", not a macvtap or ipvtap character device"
                    + (dn.isCharDevice() ? " (use TapHandle.create for TAP and TUN devices)" : ""));
        }
        if (rdev >= 0 && dn.rdev() != rdev) {
            throw new TapException(TapException.Kind.NOT_A_TAP, "fstat", 0, ctx, ctx + " is "
                    + dn.describe() + ", but the interface's character device is " + DeviceNode.format(rdev));
        }
    }

    private static TapException openError(int e, String ctx) {
        return TapException.syscall("open", e, ctx, e == linux_h.ENOENT() ? "no such node"
                : e == linux_h.ENODEV() || e == linux_h.ENXIO()
                ? "no device behind this node (a stale node, or a number no macvtap has now)"
                : e == linux_h.EACCES() || e == linux_h.EPERM()
                ? "needs read and write permission on the node (and a filesystem mounted without nodev)" : null);
    }
}
