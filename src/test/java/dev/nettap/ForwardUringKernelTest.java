package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.internal.uring.UringProbe;
import dev.nettap.tool.ScratchNamespace;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code nettap forward --engine uring} end to end, in a child JVM as the launcher runs it: two
 * scratch namespaces with one TAP each, the kernel's ping from one to the other through the
 * forwarder, then SIGTERM and its summary. Run once on io_uring and once with the fallback forced
 * ({@code -Ddev.nettap.uring=off}), which must say so in one line and still forward.
 */
@KernelAccess
@Timeout(180)
class ForwardUringKernelTest {
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void pingCrossesNettapForwardEngineUring(boolean forceFallback) throws Exception {
        ScratchNamespace a = ScratchNamespace.create("nettap-fua");
        ScratchNamespace b = ScratchNamespace.create("nettap-fub");
        Path log = Files.createTempFile("nettap-forward-uring", ".log");
        Process p = null;
        try {
            for (ScratchNamespace n : List.of(a, b)) {
                n.ip("link", "set", "lo", "up");
                n.ip("tuntap", "add", "dev", "e0", "mode", "tap", "vnet_hdr");
                n.ip("link", "set", "e0", "up");
            }
            a.ip("addr", "add", "10.76.0.1/24", "dev", "e0");
            b.ip("addr", "add", "10.76.0.2/24", "dev", "e0");
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=dev.nettap"));
            if (forceFallback) {
                cmd.add("-D" + UringProbe.PROPERTY + "=off");
            }
            cmd.addAll(List.of("-p", Path.of("target", "classes") + File.pathSeparator + Path.of("target", "tool-classes"),
                    "-m", "dev.nettap.tool/dev.nettap.tool.Main", "forward", "--engine", "uring",
                    a.path() + ":e0", b.path() + ":e0"));
            p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!Files.readString(log).contains("ready") && p.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            String ready = Files.readString(log);
            assertTrue(ready.contains("ready"), ready);
            assertTrue(ready.contains(forceFallback ? "engine readv (io_uring unavailable)" : "engine io_uring"), ready);
            if (forceFallback) {
                assertTrue(ready.contains("io_uring engine not used (DISABLED"), "one line says why: " + ready);
            }
            ScratchNamespace.Result ping = a.exec("ping", "-c", "3", "-i", "0.2", "-W", "3", "10.76.0.2");
            assertEquals(0, ping.exitCode(), ping.output());
            assertTrue(ping.output().contains("3 received"), ping.output());
            p.destroy(); // SIGTERM: stop, summary, close
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "forward ended after SIGTERM");
            String all = Files.readString(log, StandardCharsets.UTF_8);
            assertTrue(all.contains("interrupted after") && all.contains("engine " + (forceFallback ? "READV" : "URING")), all);
            assertTrue(all.lines().filter(l -> l.contains("io_uring engine not used")).count() == (forceFallback ? 1 : 0), all);
        } finally {
            if (p != null) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
            Files.deleteIfExists(log);
            a.close();
            b.close();
        }
    }
}
