package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.internal.linux.ifreq;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Sys;
import dev.nettap.internal.sys.FileCalls;
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

/** What the kernel tests share: the process's fd table, and raw TUNSETIFF without nettap's checks. */
final class KernelFixtures {
    private KernelFixtures() {}

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
