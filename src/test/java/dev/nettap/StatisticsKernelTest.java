package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Sys;
import dev.nettap.internal.sys.FileCalls;
import dev.nettap.tool.ScratchNamespace;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link Tap#statistics()} without privileges, for real: a child JVM run as {@code nobody} through
 * {@code setpriv} holds the queue as its inherited fd 3 (a privileged launcher handed it over), writes
 * frames and reads its statistics. Its own counters always work; the kernel's work where the device
 * is in the child's namespace, and say "not available" where it is not.
 */
@KernelAccess
@Timeout(180)
class StatisticsKernelTest {
    private static final int FRAMES = 25;
    private ScratchNamespace ns;
    private Path dir;

    @BeforeEach
    void setUp() throws IOException {
        ns = ScratchNamespace.create("nettap-st");
        // The child runs as nobody: /root and ~/.m2 are closed to it, so the classes go to a 0755 folder.
        dir = ScratchDirs.classesForAnyone("nettap-st");
    }

    @AfterEach
    void tearDown() throws IOException {
        try {
            ns.close();
        } finally {
            ScratchDirs.delete(dir);
        }
    }

    /** Runs the child as nobody (optionally inside the scratch namespace) with the queue as fd 3; its output. */
    private String runChild(String device, boolean inNamespace) throws Throwable {
        List<String> cmd = new ArrayList<>();
        if (inNamespace) {
            cmd.addAll(List.of("/usr/sbin/ip", "netns", "exec", ns.name()));
        }
        cmd.addAll(List.of("/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=dev.nettap", "-Xshare:auto", "-XX:TieredStopAtLevel=1",
                "-p", dir.resolve("classes").toString(), "--patch-module", "dev.nettap=" + dir.resolve("test-classes"),
                "-m", "dev.nettap/" + StatisticsChild.class.getName(), Integer.toString(FRAMES)));
        Path out = dir.resolve("child-" + inNamespace + ".out");
        int pid;
        try (TapHandle h = TapHandle.createInNamespace(ns.path(), device, TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE)) {
            ns.ip("link", "set", device, "up");
            int forChild = FileCalls.fcntl(Sys.errnoSlot(), h.fd(), linux_h.F_DUPFD_CLOEXEC(), 10);
            assertTrue(forChild >= 10);
            try {
                pid = Spawn.spawnWithFd3(cmd, forChild, out);
            } finally {
                FileCalls.close(Sys.errnoSlot(), forChild);
            }
        }
        int exit = Spawn.waitFor(pid, Duration.ofSeconds(90));
        String text = Files.readString(out);
        assertEquals(0, exit, text);
        assertTrue(text.contains("uid 65534"), "the child really ran unprivileged: " + text);
        return text;
    }

    private static String line(String text, String prefix) {
        return text.lines().filter(l -> l.startsWith(prefix)).findFirst().orElseThrow(() -> new AssertionError(prefix + " in " + text));
    }

    @Test
    void anUnprivilegedHolderReadsItsOwnCountersAndIsToldWhyNotTheKernels() throws Throwable {
        String text = runChild("nts0", false);
        assertEquals("written " + FRAMES, line(text, "written "));
        assertEquals("writes " + FRAMES + " " + (60 * FRAMES), line(text, "writes "), "counted by the library");
        String kernel = line(text, "kernel ");
        assertTrue(kernel.startsWith("kernel no not available: ") && kernel.contains("CAP_NET_ADMIN"), kernel);
    }

    @Test
    void anUnprivilegedHolderInTheDevicesNamespaceReadsTheKernelCounters() throws Throwable {
        String text = runChild("nts1", true);
        assertEquals("writes " + FRAMES + " " + (60 * FRAMES), line(text, "writes "));
        String kernel = line(text, "kernel ");
        assertTrue(kernel.startsWith("kernel yes") && kernel.contains("hardware address"), kernel);
        long rx = Long.parseLong(line(text, "rx ").substring(3));
        assertTrue(rx >= FRAMES, "the device received (at least) every frame the child wrote: " + text);
    }
}
