package dev.nettap;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Sys;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads a TAP device's kernel counters. The device may live in any network namespace (and may have
 * moved since it was opened): {@code TUNGETDEVNETNS} gives its namespace as an fd, a short-lived
 * thread enters it and reads {@code /proc/thread-self/net/dev}, the per-namespace counter table.
 */
final class KernelCounters {
    private KernelCounters() {}

    static TapStatistics.Kernel read(int tapFd, String openName) throws TapException {
        MemorySegment err = Sys.errnoSlot();
        String ctx = "\"" + openName + "\" (fd " + tapFd + ")";
        // The device may have been renamed since it was opened (and another took its old name): ask now.
        Iff iff = Iff.query(err, tapFd);
        if (iff == null) {
            throw TapException.syscall("TUNGETIFF", Sys.errno(err), ctx, null);
        }
        String name = iff.name();
        int nsfd = Sys.ioctl(err, tapFd, linux_h.TUNGETDEVNETNS(), 0L);
        if (nsfd < 0) {
            int e = Sys.errno(err);
            throw TapException.syscall("TUNGETDEVNETNS", e, ctx,
                    e == linux_h.EPERM() ? "reading the device's namespace needs CAP_NET_ADMIN" : null);
        }
        try {
            return InNamespace.call(nsfd, "the network namespace of " + ctx, () -> parse(name, ctx));
        } finally {
            Sys.close(err, nsfd);
        }
    }

    private static TapStatistics.Kernel parse(String name, String ctx) throws TapException {
        String text;
        try {
            text = Files.readString(Path.of("/proc/thread-self/net/dev"));
        } catch (IOException e) {
            throw new TapException(TapException.Kind.SYSCALL, "read", 0, ctx,
                    "reading /proc/thread-self/net/dev for " + ctx + " failed: " + e.getMessage());
        }
        for (String line : text.split("\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).strip().equals(name)) {
                String[] f = line.substring(colon + 1).strip().split("\\s+");
                // receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes packets errs drop ...
                return new TapStatistics.Kernel(Long.parseLong(f[1]), Long.parseLong(f[0]), Long.parseLong(f[3]),
                        Long.parseLong(f[9]), Long.parseLong(f[8]), Long.parseLong(f[11]));
            }
        }
        throw new TapException(TapException.Kind.SYSCALL, "read", 0, ctx,
                "device " + ctx + " is not listed in its namespace's /proc/net/dev (deleted?)");
    }
}
