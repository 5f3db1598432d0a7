package dev.nettap;

import dev.nettap.internal.sys.MountCalls;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.linux.stat;
import dev.nettap.internal.sys.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * What an fd or a device node is, from {@code fstat}: its file type and, for a character device,
 * its device number ({@code st_rdev}, glibc's {@code makedev} encoding). The TUN clone device is
 * {@code 10:200}; a macvtap or ipvtap queue is a character device of a dynamically allocated major.
 *
 * @param mode the {@code st_mode}
 * @param rdev the {@code st_rdev}
 */
record DeviceNode(int mode, long rdev) {
    /** The TUN/TAP clone device, {@code /dev/net/tun}: misc major 10, minor 200. */
    static final long TUN_CLONE = makedev(10, 200);

    /** {@code fstat(fd)}; {@code null} with the errno in {@code err} when it fails. */
    static DeviceNode of(MemorySegment err, int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = stat.allocate(arena);
            // SAFETY: st is a struct stat (144 bytes) in this arena, alive for the call.
            if (MountCalls.fstat(err, fd, st) < 0) {
                return null;
            }
            return new DeviceNode(stat.st_mode(st), stat.st_rdev(st));
        }
    }

    boolean isCharDevice() {
        return (mode & linux_h.S_IFMT()) == linux_h.S_IFCHR();
    }

    /** A character device other than the clone device: a macvtap or ipvtap queue (or something else entirely). */
    boolean isTapCharDevice() {
        return isCharDevice() && rdev != TUN_CLONE;
    }

    static long makedev(long major, long minor) {
        return ((major & 0xfffff000L) << 32) | ((major & 0xfffL) << 8) | ((minor & 0xffffff00L) << 12) | (minor & 0xffL);
    }

    static long major(long dev) {
        return ((dev >>> 32) & 0xfffff000L) | ((dev >>> 8) & 0xfffL);
    }

    static long minor(long dev) {
        return ((dev >>> 12) & 0xffffff00L) | (dev & 0xffL);
    }

    static String format(long dev) {
        return major(dev) + ":" + minor(dev);
    }

    /** Parses sysfs's {@code MAJOR:MINOR}; -1 if malformed. */
    static long parse(String s) {
        int colon = s == null ? -1 : s.indexOf(':');
        if (colon <= 0) {
            return -1;
        }
        try {
            return makedev(Long.parseLong(s.substring(0, colon)), Long.parseLong(s.substring(colon + 1)));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** How messages describe it. */
    String describe() {
        if (isCharDevice()) {
            return rdev == TUN_CLONE ? "the TUN clone device (10:200)" : "character device " + format(rdev);
        }
        int t = mode & linux_h.S_IFMT();
        return t == linux_h.S_IFREG() ? "a regular file" : t == linux_h.S_IFIFO() ? "a pipe"
                : t == linux_h.S_IFSOCK() ? "a socket" : "not a character device (mode 0" + Integer.toOctalString(mode) + ")";
    }
}
