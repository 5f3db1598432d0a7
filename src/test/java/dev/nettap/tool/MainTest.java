package dev.nettap.tool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The launcher's command line: usage, help, and a one-line message with status 2 for every bad
 * argument. The CLI is its own module ({@code dev.nettap.tool}, compiled into
 * {@code target/tool-classes}), not part of the library the tests are patched into, so each case
 * runs the real entry point in a child JVM, as the launcher script does.
 */
class MainTest {
    private static final Path LIBRARY = Path.of("target", "classes");
    private static final Path TOOL = Path.of("target", "tool-classes");

    /** What a run printed and returned. */
    private record Outcome(int status, String out, String err) { }

    private static Outcome run(String... args) {
        assertTrue(Files.isDirectory(LIBRARY) && Files.isDirectory(TOOL), "compiled modules in " + LIBRARY + " and " + TOOL);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=dev.nettap", "-p",
                LIBRARY + File.pathSeparator + TOOL, "-m", "dev.nettap.tool/dev.nettap.tool.Main"));
        cmd.addAll(List.of(args));
        try {
            Path out = Files.createTempFile("nettap-main", ".out");
            Path err = Files.createTempFile("nettap-main", ".err");
            try {
                Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
                try {
                    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "timed out: " + cmd);
                } finally {
                    p.destroyForcibly();
                }
                return new Outcome(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                        Files.readString(err, StandardCharsets.UTF_8));
            } finally {
                Files.deleteIfExists(out);
                Files.deleteIfExists(err);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private static void assertUsage(Outcome o) {
        assertEquals(0, o.status(), o.err());
        assertTrue(o.out().startsWith("usage: nettap demo [COUNT]\n"), o.out());
        assertTrue(o.out().contains("nettap forward [--offloads on|off] [--queues N] [--threads 1|2] [--engine readv|uring] A B"), o.out());
        assertTrue(o.out().contains("--help, -h"), o.out());
        assertEquals("", o.err());
    }

    private static void assertBad(String expected, String... args) {
        Outcome o = run(args);
        assertEquals(2, o.status(), String.join(" ", args));
        assertEquals("", o.out());
        assertEquals(expected + System.lineSeparator(), o.err());
        assertEquals(1, o.err().lines().count(), "one line: " + o.err());
    }

    @Test
    void noArgumentAndHelpPrintTheUsage() {
        assertUsage(run());
        assertUsage(run("--help"));
        assertUsage(run("-h"));
        assertUsage(run("help"));
        assertUsage(run("demo", "--help"));
        assertUsage(run("forward", "--help"));
    }

    @Test
    void everyBadDemoArgumentIsOneLineAndStatus2() {
        String range = "nettap demo: COUNT must be a whole number from 1 to 1000, not ";
        assertBad(range + "\"extra\"", "demo", "extra");
        assertBad(range + "\"0\"", "demo", "0");
        assertBad(range + "\"-3\"", "demo", "-3");
        assertBad(range + "\"1001\"", "demo", "1001");
        assertBad(range + "\"99999999999999999999\"", "demo", "99999999999999999999");
        assertBad(range + "\"\"", "demo", "");
        assertBad(range + "\" 5\"", "demo", " 5");
        assertBad(range + "\"2.5\"", "demo", "2.5");
        assertBad(range + "\"1\\u000a2\"", "demo", "1\n2");
        assertBad("nettap demo: unexpected argument \"3\" (usage: nettap demo [COUNT])", "demo", "2", "3");
        assertBad("nettap: unknown command \"--verbose\" (nettap --help lists the commands)", "--verbose");
        assertBad("nettap --help: unexpected argument \"demo\"", "--help", "demo");
    }

    @Test
    void everyBadForwardArgumentIsOneLineAndStatus2() {
        String usage = " (usage: nettap forward [--offloads on|off] [--queues N] [--threads 1|2] [--engine readv|uring] A B)";
        assertBad("nettap forward: forward needs two devices, got 0" + usage, "forward");
        assertBad("nettap forward: forward needs two devices, got 3" + usage, "forward", "a", "b", "c");
        assertBad("nettap forward: --offloads takes on or off, not 'maybe'" + usage, "forward", "--offloads", "maybe", "a", "b");
        assertBad("nettap forward: --queues needs a value" + usage, "forward", "a", "b", "--queues");
        assertBad("nettap forward: --queues takes a number, not 'x'" + usage, "forward", "--queues", "x", "a", "b");
        assertBad("nettap forward: unknown option --fast" + usage, "forward", "--fast", "a", "b");
        assertBad("nettap forward: --engine takes readv or uring, not 'dpdk'" + usage, "forward", "--engine", "dpdk", "a", "b");
        assertBad("nettap forward: --engine needs a value" + usage, "forward", "a", "b", "--engine");
        assertBad("nettap forward: --threads takes 1 (both directions on one thread) or 2 (one per direction), not '4'" + usage,
                "forward", "--threads", "4", "a", "b");
        assertBad("nettap forward: --threads needs a value" + usage, "forward", "a", "b", "--threads");
        assertBad("nettap forward: --threads is for the readv engine; --engine uring runs every queue pair on one thread" + usage,
                "forward", "--threads", "2", "--engine", "uring", "a", "b");
    }
}
