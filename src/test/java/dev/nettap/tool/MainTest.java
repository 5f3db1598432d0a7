package dev.nettap.tool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The launcher's command line: usage, help, and a one-line message with status 2 for every bad argument. */
class MainTest {

    /** What a run printed and returned. */
    private record Outcome(int status, String out, String err) { }

    private static Outcome run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int status;
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
             PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            status = Main.run(Main.parse(args), o, e);
        }
        return new Outcome(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static void assertUsage(Outcome o) {
        assertEquals(0, o.status());
        assertEquals(Main.USAGE, o.out());
        assertTrue(o.out().startsWith("usage: nettap demo [COUNT]\n"), o.out());
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
    }

    @Test
    void demoCounts() {
        assertEquals(new Main.Demo(Main.DEFAULT_COUNT), Main.parse("demo"));
        assertEquals(new Main.Demo(1), Main.parse("demo", "1"));
        assertEquals(new Main.Demo(Main.MAX_COUNT), Main.parse("demo", Integer.toString(Main.MAX_COUNT)));
        assertEquals(new Main.Demo(7), Main.parse("demo", "007"));
    }

    @Test
    void everyBadArgumentIsOneLineAndStatus2() {
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
        assertBad("nettap: unknown command \"forward\" (nettap --help lists the commands)", "forward");
        assertBad("nettap: unknown command \"--verbose\" (nettap --help lists the commands)", "--verbose");
        assertBad("nettap --help: unexpected argument \"demo\"", "--help", "demo");
    }

    /** The real entry point exits with those statuses (System.exit, as the launcher script sees them). */
    @Test
    void mainExitsWithTheStatus() throws IOException, InterruptedException {
        Path classes = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().getPath());
        assertTrue(Files.isDirectory(classes) || Files.isRegularFile(classes), classes.toString());
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        assertEquals(0, exec(java, classes, List.of()));
        assertEquals(0, exec(java, classes, List.of("--help")));
        assertEquals(2, exec(java, classes, List.of("demo", "extra")));
        assertEquals(2, exec(java, classes, List.of("demo", "-3")));
    }

    private static int exec(String java, Path classes, List<String> args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp", classes.toString(),
                Main.class.getName()));
        cmd.addAll(args);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "timed out: " + cmd);
            return p.exitValue();
        } finally {
            p.destroyForcibly();
        }
    }
}
