package dev.nettap;

import dev.nettap.internal.linux.ifreq;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Errno;
import dev.nettap.internal.sys.Sys;
import dev.nettap.internal.sys.ProcessCalls;
import dev.nettap.internal.sys.FileCalls;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Reads a TAP device's kernel counters, with or without privileges, in two steps: {@link #locate}
 * asks the queue's fd where its device is (a few {@code ioctl}s, while the fd is held open), and
 * {@link Location#read()} reads the counters afterwards without the fd, so reading them never
 * delays {@link Tap#close()}.
 *
 * <ul>
 * <li>With {@code CAP_NET_ADMIN} over the device's namespace, {@code TUNGETDEVNETNS} gives that
 *     namespace as an fd, and one long-lived daemon thread ({@code nettap-counters}, started on
 *     first use, never one per call) enters it, reads {@code /proc/thread-self/net/dev} and returns
 *     to its own namespace.</li>
 * <li>Without it ({@code EPERM}: a VMM that was handed the fd), the device is looked up in this
 *     process's own namespace, and trusted only if its hardware address (sysfs) equals the one
 *     {@code SIOCGIFHWADDR} reports through the fd, so a same-named device elsewhere is not taken
 *     for it. A TUN device has no hardware address: its counters are then not available.</li>
 * <li>A macvtap or ipvtap queue has no {@code TUNGETDEVNETNS} ({@code EINVAL}): its counters are
 *     read in the namespace it was opened in when the library knows it by path
 *     ({@link TapHandle#macvtapInNamespace}), else looked up in this process's own namespace by
 *     name and hardware address, as above.</li>
 * </ul>
 */
final class KernelCounters {
    private KernelCounters() {}

    private static final long NS_TIMEOUT_SECONDS = 5;

    /**
     * Where the device's counters are: a namespace fd (owned), or a name and MAC in our namespace
     * ({@code elsewhere} says why it was not looked up in its own), or nowhere ({@code unavailable}).
     * {@code macvtap}: the interface counts what its queues write as transmitted (see
     * {@link TapStatistics.Kernel}).
     */
    record Location(String name, int nsfd, byte[] mac, String elsewhere, String unavailable, boolean macvtap) {
        /** The counters; closes {@link #nsfd}. Never throws: a failure is an empty result with its reason. */
        Result read() {
            if (unavailable != null) {
                return new Result(Optional.empty(), "not available: " + unavailable);
            }
            if (nsfd >= 0) {
                return inNamespace(this); // the namespace thread closes nsfd when done with it
            }
            return inOwnNamespace(this);
        }
    }

    /** The counters, or empty, and where they came from or why not. */
    record Result(Optional<TapStatistics.Kernel> kernel, String source) {}

    /**
     * Asks the fd where its device is; call while the fd is known to be open.
     *
     * @param macvtap whether the queue is a macvtap/ipvtap character device (no {@code TUNGETDEVNETNS})
     * @param netns   the namespace file the queue was opened in, if the library knows it; else {@code null}
     */
    static Location locate(int tapFd, String ctx, boolean macvtap, Path netns) {
        MemorySegment err = Sys.errnoSlot();
        // The device may have been renamed since it was opened (and another took its old name): ask now.
        Iff iff = Iff.query(err, tapFd);
        if (iff == null) {
            return new Location(null, -1, null, null, "TUNGETIFF on " + ctx + " failed: " + Errno.name(Sys.errno(err)), false);
        }
        int nsfd = macvtap ? -1 : FileCalls.ioctl(err, tapFd, linux_h.TUNGETDEVNETNS(), 0L);
        if (nsfd >= 0) { // the kernel opens it close-on-exec (open_related_ns)
            return new Location(iff.name(), nsfd, null, null, null, false);
        }
        int e = macvtap ? 0 : Sys.errno(err);
        String elsewhere;
        if (!macvtap && e == linux_h.EPERM()) {
            elsewhere = "finding its namespace needs CAP_NET_ADMIN (TUNGETDEVNETNS: EPERM)";
        } else if (macvtap) { // the device kind comes from the queue's character device, not from an errno
            if (netns != null) {
                try (Arena arena = Arena.ofConfined()) {
                    int fd = FileCalls.open(err, arena.allocateFrom(netns.toString()), linux_h.O_RDONLY() | linux_h.O_CLOEXEC());
                    if (fd >= 0) {
                        return new Location(iff.name(), fd, null, null, null, true);
                    }
                    return new Location(null, -1, null, null, "open " + netns + " (the namespace " + ctx
                            + " was opened in): " + Errno.name(Sys.errno(err)), true);
                }
            }
            elsewhere = "its namespace is unknown (a macvtap queue opened by path or fd; TapHandle.macvtapInNamespace"
                    + " knows it)";
        } else {
            return new Location(null, -1, null, null, "TUNGETDEVNETNS on " + ctx + " failed: " + Errno.name(e), false);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ifr = ifreq.allocate(arena);
            byte[] n = iff.name().getBytes(StandardCharsets.UTF_8); // at most 15 bytes: a kernel name
            MemorySegment.copy(n, 0, ifreq.ifr_ifrn.ifrn_name(ifreq.ifr_ifrn(ifr)), ValueLayout.JAVA_BYTE, 0,
                    Math.min(15, n.length));
            // SAFETY: ifr is a 40-byte struct ifreq alive for the call; SIOCGIFHWADDR writes within it.
            if (FileCalls.ioctl(err, tapFd, linux_h.SIOCGIFHWADDR(), ifr) < 0) {
                return new Location(null, -1, null, null, "SIOCGIFHWADDR on " + ctx + " failed: "
                        + Errno.name(Sys.errno(err)) + ", and " + elsewhere, macvtap);
            }
            // struct sockaddr ifru_hwaddr: sa_family (2 bytes), then sa_data holding the address.
            byte[] mac = ifreq.ifr_ifru.ifru_hwaddr(ifreq.ifr_ifru(ifr)).asSlice(2, 6).toArray(ValueLayout.JAVA_BYTE);
            boolean none = true;
            for (byte b : mac) {
                none &= b == 0;
            }
            if (none) {
                return new Location(null, -1, null, null, ctx + " has no hardware address (TUN) to find it by, and "
                        + elsewhere, macvtap);
            }
            return new Location(iff.name(), -1, mac, elsewhere, null, macvtap);
        }
    }

    private static Result inOwnNamespace(Location at) {
        String why = "device \"" + at.name() + "\" is not in this process's network namespace, and "
                + at.elsewhere();
        // Asked through a socket of the calling thread's namespace, the one /proc/thread-self/net/dev
        // lists (sysfs shows the namespace it was mounted in, which may be another).
        byte[] here;
        try (IfaceIoctl io = new IfaceIoctl(at.name(), "device \"" + at.name() + "\" in this namespace")) {
            here = io.mac();
        } catch (TapException e) {
            return new Result(Optional.empty(), "not available: " + (e.errno() == linux_h.ENODEV() ? why : e.getMessage()));
        }
        if (!Arrays.equals(here, at.mac())) {
            return new Result(Optional.empty(), "not available: " + why + " (a device of that name here has another"
                    + " hardware address)");
        }
        return parse(at, "/proc/thread-self/net/dev", "this process's network namespace (device matched by"
                + " name and hardware address)");
    }

    /** The one thread that enters device namespaces; it goes back to its own after each read. */
    private static final class NamespaceThread {
        static final ExecutorService EXECUTOR = Executors.newSingleThreadExecutor(
                r -> Thread.ofPlatform().daemon().name("nettap-counters").unstarted(r));
    }

    private static Result inNamespace(Location at) {
        Future<Result> f;
        try {
            f = NamespaceThread.EXECUTOR.submit(() -> {
                try {
                    return inNamespaceThread(at);
                } finally {
                    FileCalls.close(Sys.errnoSlot(), at.nsfd());
                }
            });
        } catch (Throwable t) {
            FileCalls.close(Sys.errnoSlot(), at.nsfd());
            throw t;
        }
        try {
            return f.get(NS_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result(Optional.empty(), "not available: interrupted while reading");
        } catch (Exception e) {
            return new Result(Optional.empty(), "not available: " + e);
        }
    }

    /**
     * On the namespace thread: enter the device's namespace, read, come back. Its own namespace is
     * opened for the read and closed after it, so between reads the library holds no fd of it.
     */
    private static Result inNamespaceThread(Location at) {
        MemorySegment err = Sys.errnoSlot();
        int home;
        try (Arena arena = Arena.ofConfined()) {
            home = FileCalls.open(err, arena.allocateFrom("/proc/thread-self/ns/net"), linux_h.O_RDONLY() | linux_h.O_CLOEXEC());
        }
        if (home < 0) {
            return new Result(Optional.empty(), "not available: open /proc/thread-self/ns/net: " + Errno.name(Sys.errno(err)));
        }
        try {
            if (ProcessCalls.setns(err, at.nsfd(), linux_h.CLONE_NEWNET()) < 0) {
                return new Result(Optional.empty(), "not available: setns into the device's namespace: "
                        + Errno.name(Sys.errno(err)));
            }
            try {
                return parse(at, "/proc/thread-self/net/dev", "the device's network namespace");
            } finally {
                ProcessCalls.setns(err, home, linux_h.CLONE_NEWNET()); // back home: hold no namespace alive
            }
        } finally {
            FileCalls.close(err, home);
        }
    }

    private static Result parse(Location at, String file, String source) {
        String name = at.name();
        String text;
        try {
            text = Files.readString(Path.of(file));
        } catch (IOException e) {
            return new Result(Optional.empty(), "not available: reading " + file + ": " + e);
        }
        for (String line : text.split("\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).strip().equals(name)) {
                String[] f = line.substring(colon + 1).strip().split("\\s+");
                // receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes packets errs drop ...
                long[] rx = {Long.parseLong(f[1]), Long.parseLong(f[0]), Long.parseLong(f[3])};
                long[] tx = {Long.parseLong(f[9]), Long.parseLong(f[8]), Long.parseLong(f[11])};
                long[] written = at.macvtap() ? tx : rx; // the queues' side: what they wrote, what they read
                long[] toRead = at.macvtap() ? rx : tx;
                return new Result(Optional.of(new TapStatistics.Kernel(written[0], written[1], written[2], toRead[0],
                        toRead[1], toRead[2])), source);
            }
        }
        return new Result(Optional.empty(), "not available: device \"" + name + "\" is not listed in " + source
                + " (deleted?)");
    }
}
