package dev.nettap.tool;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A network namespace made for one run (demo or test) and removed by {@link #close()}: every
 * device, address and packet of that run lives inside it, never in the caller's namespace. Driven
 * by iproute2's {@code ip}, with a timeout on every command.
 */
public final class ScratchNamespace implements AutoCloseable {
    private static final AtomicInteger COUNTER = new AtomicInteger();
    private static final long TIMEOUT_SECONDS = 20;

    private final String name;
    private final java.util.Set<Process> running = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    private ScratchNamespace(String name) {
        this.name = name;
    }

    /**
     * Creates {@code /run/netns/PREFIX-PID-N} with its loopback up.
     *
     * @param prefix a short prefix naming the user (e.g. {@code nettap-demo})
     * @return the namespace
     * @throws IOException if {@code ip netns add} fails
     */
    public static ScratchNamespace create(String prefix) throws IOException {
        String name = prefix + "-" + ProcessHandle.current().pid() + "-" + COUNTER.incrementAndGet();
        run(List.of("ip", "netns", "add", name));
        ScratchNamespace ns = new ScratchNamespace(name);
        try {
            ns.ip("link", "set", "lo", "up");
        } catch (IOException | RuntimeException e) {
            ns.close();
            throw e;
        }
        return ns;
    }

    /** {@return the namespace's name, as {@code ip netns} knows it} */
    public String name() {
        return name;
    }

    /** {@return the namespace file, for {@code setns}} */
    public Path path() {
        return Path.of("/run/netns", name);
    }

    /**
     * Runs {@code ip -n NAME ARGS...} and returns its output.
     *
     * @param args the arguments after {@code ip -n NAME}
     * @return standard output and error
     * @throws IOException if it fails or times out
     */
    public String ip(String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("ip", "-n", name));
        cmd.addAll(Arrays.asList(args));
        return run(cmd);
    }

    /**
     * Runs a command inside the namespace ({@code ip netns exec NAME CMD...}).
     *
     * @param cmd the command and its arguments
     * @return its result; the caller checks the exit code
     * @throws IOException if it cannot start or times out
     */
    public Result exec(String... cmd) throws IOException {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", name));
        full.addAll(Arrays.asList(cmd));
        return runForResult(full, running);
    }

    /**
     * A finished command.
     *
     * @param exitCode its exit code
     * @param output   its standard output and error, interleaved
     */
    public record Result(int exitCode, String output) {}

    /** {@return whether a link of this name exists in the namespace} */
    public boolean hasLink(String link) throws IOException {
        return runForResult(List.of("ip", "-n", name, "link", "show", "dev", link)).exitCode() == 0;
    }

    /** Deletes the namespace and everything left in it; idempotent, never throws. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Process p : running) { // e.g. a ping still running when Ctrl-C arrived
            p.destroyForcibly();
        }
        try {
            runForResult(List.of("ip", "netns", "del", name));
        } catch (IOException e) {
            System.err.println("nettap: could not delete network namespace " + name + ": " + e.getMessage());
        }
    }

    static String run(List<String> cmd) throws IOException {
        Result r = runForResult(cmd);
        if (r.exitCode() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed with exit code " + r.exitCode() + ": " + r.output().strip());
        }
        return r.output();
    }

    static Result runForResult(List<String> cmd) throws IOException {
        return runForResult(cmd, null);
    }

    private static Result runForResult(List<String> cmd, java.util.Set<Process> running) throws IOException {
        // Output goes to a file, not a pipe, so a command that hangs cannot block us past the timeout.
        Path out = Files.createTempFile("nettap-cmd", ".out");
        Process p = null;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
            if (running != null) {
                running.add(p);
            }
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                throw new IOException(String.join(" ", cmd) + " did not finish within " + TIMEOUT_SECONDS + " s");
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + String.join(" ", cmd), e);
        } finally {
            if (p != null) {
                if (running != null) {
                    running.remove(p);
                }
                if (p.isAlive()) {
                    p.destroyForcibly();
                }
            }
            Files.deleteIfExists(out);
        }
    }

    /** {@return whether this process can make namespaces and TAPs: root, {@code /dev/net/tun}, {@code ip}} */
    public static boolean privileged() {
        return "root".equals(System.getProperty("user.name")) && Files.exists(Path.of("/dev/net/tun"));
    }
}
