package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.internal.linux.ifreq;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Sys;
import dev.nettap.internal.sys.FileCalls;
import dev.nettap.tool.ScratchNamespace;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * What the kernel tests share: a device with a silent peer and UDP flows to it, the process's fd
 * table, and raw TUNSETIFF without nettap's checks.
 */
final class KernelFixtures {
    private KernelFixtures() {}

    /**
     * {@code net}.1/24 on {@code dev} in {@code ns}, link up, and {@code net}.2 resolved statically to
     * a MAC nobody answers for: the kernel sends to {@code net}.2 through {@code dev} at once.
     */
    static void upWithSilentPeer(ScratchNamespace ns, String dev, String net) throws IOException {
        ns.ip("addr", "add", net + ".1/24", "dev", dev);
        ns.ip("link", "set", dev, "up");
        ns.ip("neigh", "replace", net + ".2", "lladdr", "02:00:00:00:00:02", "dev", dev, "nud", "permanent");
    }

    /**
     * A veth pair in {@code ns}, {@code kernelSide} (with {@code cidr}) and {@code lower}, and the
     * macvtap {@code macvtap} (MAC 02:00:00:00:01:02, bridge mode) on {@code lower}; all three up.
     */
    static void macvtapOverVeth(ScratchNamespace ns, String kernelSide, String cidr, String lower, String macvtap)
            throws IOException {
        ns.ip("link", "add", kernelSide, "type", "veth", "peer", "name", lower);
        ns.ip("addr", "add", cidr, "dev", kernelSide);
        ns.ip("link", "add", "link", lower, "name", macvtap, "address", "02:00:00:00:01:02", "type", "macvtap",
                "mode", "bridge");
        for (String l : new String[] {kernelSide, lower, macvtap}) {
            ns.ip("link", "set", l, "up");
        }
    }

    /** The kernel of {@code ns} sends one UDP datagram to each of the 64 ports 20000-20063 of {@code ip}: 64 flows. */
    static void sendUdpFlows(ScratchNamespace ns, String ip) throws IOException {
        ScratchNamespace.Result r = ns.exec("bash", "-c", "for p in $(seq 20000 20063); do echo x > /dev/udp/" + ip + "/$p; done");
        assertEquals(0, r.exitCode(), r.output());
    }

    /**
     * This process's fd table from {@code /proc/self/fd}: number to what it points at. A leak shows
     * as an entry that was not there before; fds the JVM closes meanwhile on its own are no leak.
     */
    static Map<Integer, String> openFds() throws IOException {
        Map<Integer, String> table = new TreeMap<>();
        try (DirectoryStream<Path> d = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
            for (Path p : d) {
                try {
                    table.put(Integer.parseInt(p.getFileName().toString()), Files.readSymbolicLink(p).toString());
                } catch (NoSuchFileException gone) {
                    // the directory stream's own fd, or one closed while listing
                }
            }
        }
        table.values().removeIf(target -> target.equals("/proc/" + ProcessHandle.current().pid() + "/fd"));
        return table; // without the listing's own directory fd
    }

    static void assertNoLeak(Map<Integer, String> before) throws IOException {
        Map<Integer, String> after = openFds();
        after.entrySet().removeIf(e -> e.getValue().equals(before.get(e.getKey())));
        assertTrue(after.isEmpty(), () -> "fds leaked (in /proc/self/fd now, not before): " + after);
    }

    /**
     * As {@link #assertNoLeak}, allowing the JDK up to 2 s to close fds of its own: after a child
     * process ({@code ip}, {@code ping}) exits, a pipe of its launch is sometimes still open in this
     * process for a moment (its other end already closed). A leak stays and fails.
     */
    static void assertNoLeakSettled(Map<Integer, String> before) throws IOException, InterruptedException {
        for (int attempt = 0; ; attempt++) {
            try {
                assertNoLeak(before);
                return;
            } catch (AssertionError e) {
                if (attempt == 10) {
                    throw e;
                }
                Thread.sleep(200);
            }
        }
    }

    /**
     * A raw {@code open(clone device)} + {@code TUNSETIFF} with these name bytes and flags, made
     * inside {@code netns}: the new fd, or minus the errno of the failed {@code TUNSETIFF}.
     */
    static int rawSetIff(Path netns, byte[] name, int flags) throws TapException {
        return InNamespace.call(netns, () -> {
            MemorySegment err = Sys.errnoSlot();
            try (Arena arena = Arena.ofConfined()) {
                int fd = FileCalls.open(err, arena.allocateFrom(TapHandle.DEFAULT_CLONE_DEVICE.toString()),
                        linux_h.O_RDWR() | linux_h.O_CLOEXEC());
                assertTrue(fd >= 0, "open /dev/net/tun");
                MemorySegment ifr = ifreq.allocate(arena);
                MemorySegment.copy(name, 0, ifreq.ifr_ifrn.ifrn_name(ifreq.ifr_ifrn(ifr)), ValueLayout.JAVA_BYTE, 0, name.length);
                ifreq.ifr_ifru.ifru_flags(ifreq.ifr_ifru(ifr), (short) flags);
                if (FileCalls.ioctl(err, fd, linux_h.TUNSETIFF(), ifr) < 0) {
                    int e = Sys.errno(err);
                    FileCalls.close(err, fd);
                    return -e;
                }
                return fd;
            }
        });
    }
}
