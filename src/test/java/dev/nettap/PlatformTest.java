package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Elsewhere than Linux: one clear UnsupportedOperationException, while dev.nettap.vnet still works. */
class PlatformTest {
    @Test
    void otherSystemsGetOneClearError() throws Exception {
        String javaHome = System.getProperty("java.home");
        Path classes = Path.of("target", "classes").toAbsolutePath();
        Path testClasses = Path.of("target", "test-classes").toAbsolutePath();
        Process p = new ProcessBuilder(Path.of(javaHome, "bin", "java").toString(), "-Dos.name=Mac OS X",
                "--enable-native-access=dev.nettap", "-p", classes.toString(), "--add-modules", "dev.nettap",
                "-cp", testClasses.toString(), "dev.nettap.probe.NonLinuxMain")
                .redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child JVM did not finish");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);
        List<String> lines = out.lines().toList();
        assertEquals("checksum " + (~(0x4500 + 20) & 0xffff), lines.get(0), out);
        String expected = "UnsupportedOperationException: nettap drives Linux TAP/TUN devices and runs on Linux x86-64 only;"
                + " this is Mac OS X";
        assertTrue(lines.get(1).startsWith("create " + expected), out);
        assertTrue(lines.get(2).startsWith("open " + expected), out);
    }
}
