package dev.nettap;

import dev.nettap.internal.sys.MountCalls;
import dev.nettap.internal.sys.FileCalls;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Sys;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HexFormat;

/**
 * Reads {@code /sys/class/net/NAME/...} as the device's own network namespace shows it. Sysfs
 * lists the network devices of the namespace it was <em>mounted</em> from, not of the reader's, so
 * a process whose {@code /sys} belongs to another namespace (any process reading about a device
 * in a scratch or container namespace) would read another device of the same name, or none.
 *
 * <p>First, without any privilege: if {@code /sys/class/net/NAME} as mounted shows the same
 * interface index and MAC address (index alone for a TUN device, which has none) as the kernel reports for {@code NAME} through a socket of the
 * device's namespace, {@code /sys} is that namespace's and is read as it is. Otherwise a dedicated
 * platform thread enters the namespace, leaves the process's mount namespace
 * ({@code unshare(CLONE_NEWNS)}, every mount made private so nothing propagates back), mounts a
 * fresh read-only sysfs over {@code /sys} for itself alone, reads, and ends, taking its mount
 * namespace with it. That needs {@code CAP_SYS_ADMIN}, and an {@code EPERM} says so.
 */
final class NetSysfs {
    private NetSysfs() {}

    /**
     * Runs {@code action} where {@code /sys/class/net/ifname} is the device of namespace
     * {@code ns}; the action reads paths under {@link #dir(String)}.
     */
    static <T> T read(NetnsRef ns, String ifname, String ctx, InNamespace.Action<T> action) throws TapException {
        if (ns.isCaller()) {
            if (sysfsShows(ifname, ctx + ns.where())) {
                return action.run();
            }
            MemorySegment err = Sys.errnoSlot();
            int self;
            try (Arena arena = Arena.ofConfined()) {
                self = FileCalls.open(err, arena.allocateFrom("/proc/thread-self/ns/net"), linux_h.O_RDONLY() | linux_h.O_CLOEXEC());
            }
            if (self < 0) {
                throw TapException.syscall("open", Sys.errno(err), "/proc/thread-self/ns/net", null);
            }
            try {
                return InNamespace.call(self, "the caller's network namespace", () -> privateSysfs(ctx, action));
            } finally {
                FileCalls.close(err, self);
            }
        }
        return ns.call(() -> sysfsShows(ifname, ctx + ns.where()) ? action.run() : privateSysfs(ctx, action));
    }

    /** {@code /sys/class/net/NAME}. */
    static Path dir(String ifname) {
        return Path.of("/sys/class/net", ifname);
    }

    /** Reads one sysfs attribute, stripped; {@code null} if it does not exist. */
    static String attribute(Path file, String ctx) throws TapException {
        try {
            return Files.readString(file).strip();
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            throw new TapException(TapException.Kind.SYSCALL, "read", 0, ctx, "reading " + file + " for " + ctx
                    + " failed: " + e);
        }
    }

    /**
     * Whether the mounted {@code /sys} shows the interface {@code ifname} of the calling thread's
     * network namespace: same index, same MAC address. Throws {@code ENODEV} when the namespace
     * has no such interface.
     */
    private static boolean sysfsShows(String ifname, String ctx) throws TapException {
        int index;
        byte[] mac;
        try (IfaceIoctl io = new IfaceIoctl(ifname, ctx)) {
            index = io.index();
            mac = io.mac();
        }
        String sysIndex = attribute(dir(ifname).resolve("ifindex"), ctx);
        String sysMac = attribute(dir(ifname).resolve("address"), ctx);
        // A TUN device has no hardware address (sysfs shows it empty): the index alone must do.
        return sysIndex != null && sysIndex.equals(Integer.toString(index))
                && sysMac != null && (sysMac.isEmpty() || sysMac.equalsIgnoreCase(HexFormat.ofDelimiter(":").formatHex(mac)));
    }

    /** On a dedicated thread only: a private mount namespace with this network namespace's sysfs. */
    private static <T> T privateSysfs(String ctx, InNamespace.Action<T> action) throws TapException {
        MemorySegment err = Sys.errnoSlot();
        if (MountCalls.unshare(err, linux_h.CLONE_NEWNS()) < 0) {
            int e = Sys.errno(err);
            throw TapException.syscall("unshare(CLONE_NEWNS)", e, ctx, e == linux_h.EPERM()
                    ? "this process's /sys shows another network namespace, and mounting that namespace's sysfs needs CAP_SYS_ADMIN"
                    : null);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment root = arena.allocateFrom("/");
            MemorySegment sys = arena.allocateFrom("/sys");
            // Nothing this thread mounts may propagate to the mount namespace it came from.
            // SAFETY: every string is a NUL-terminated copy in this confined arena, alive for the
            // calls; NULL is what mount(2) takes for "no source / no type / no data".
            if (MountCalls.mount(err, MemorySegment.NULL, root, MemorySegment.NULL, linux_h.MS_REC() | linux_h.MS_PRIVATE()) < 0) {
                throw TapException.syscall("mount(/, MS_REC|MS_PRIVATE)", Sys.errno(err), ctx, null);
            }
            MemorySegment sysfs = arena.allocateFrom("sysfs");
            long flags = linux_h.MS_RDONLY() | linux_h.MS_NOSUID() | linux_h.MS_NODEV() | linux_h.MS_NOEXEC();
            if (MountCalls.mount(err, sysfs, sys, sysfs, flags) < 0) {
                int e = Sys.errno(err);
                throw TapException.syscall("mount(sysfs, /sys)", e, ctx,
                        e == linux_h.EPERM() ? "mounting a sysfs needs CAP_SYS_ADMIN" : null);
            }
        }
        return action.run(); // the thread ends after this; its mount namespace goes with it
    }
}
