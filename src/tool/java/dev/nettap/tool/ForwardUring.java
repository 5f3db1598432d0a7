package dev.nettap.tool;

import dev.nettap.Offload;
import dev.nettap.Tap;
import dev.nettap.UringForwarder;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * {@code nettap forward --engine uring}: the queues {@link Forward} opened, forwarded by one
 * {@link UringForwarder} (one thread, one io_uring for every queue pair; the {@code readv}/
 * {@code writev} path with one log line when io_uring cannot be used). Same output lines and exit
 * codes as {@link Forward}: {@code ready}, a status line at most once a second, a summary on exit;
 * 3 when a device disappears. The caller closes the queues after {@link #run} returns.
 */
final class ForwardUring {
    private final PrintStream out;
    private final UringForwarder forwarder;
    private final long startNanos = System.nanoTime();
    private boolean finished; // guarded by this

    private ForwardUring(PrintStream out, UringForwarder forwarder) {
        this.out = out;
        this.forwarder = forwarder;
    }

    static int run(PrintStream out, String a, String b, List<Tap> qa, List<Tap> qb, Set<Offload> set)
            throws InterruptedException {
        ForwardUring f = new ForwardUring(out, new UringForwarder(qa, qb, 64));
        Thread worker = Thread.ofPlatform().name("nettap-forward-uring").start(f.forwarder);
        Thread hook = new Thread(() -> f.finish("interrupted", worker), "nettap-forward-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        while (f.forwarder.engine() == null && worker.isAlive()) {
            Thread.sleep(5);
        }
        out.printf("nettap forward: ready: %s (%s) <-> %s (%s), %d queue pair%s, offloads %s, engine %s%n", a, qa.get(0).name(),
                b, qb.get(0).name(), qa.size(), qa.size() == 1 ? "" : "s", set.isEmpty() ? "off" : set,
                f.forwarder.engine() == UringForwarder.Engine.URING ? "io_uring" : "readv (io_uring unavailable)");
        out.flush();
        long lastFrames = 0;
        long lastBytes = 0;
        long lastNanos = System.nanoTime();
        while (worker.isAlive()) {
            worker.join(1000);
            long now = System.nanoTime();
            long frames = f.forwarder.frames();
            long bytes = f.forwarder.bytes();
            if (frames != lastFrames) {
                double secs = (now - lastNanos) / 1e9;
                out.printf(Locale.ROOT, "nettap forward: %.0f frames/s, %.3f Gbit/s, drops %d, malformed %d%n",
                        (frames - lastFrames) / secs, (bytes - lastBytes) * 8 / secs / 1e9, f.forwarder.dropped(),
                        f.forwarder.malformed());
                out.flush();
            }
            lastFrames = frames;
            lastBytes = bytes;
            lastNanos = now;
        }
        UringForwarder.Outcome o = f.forwarder.outcome();
        int exit = o == UringForwarder.Outcome.DEVICE_GONE ? Forward.EXIT_DEVICE_GONE : o == UringForwarder.Outcome.STOPPED ? 0 : 1;
        if (exit == Forward.EXIT_DEVICE_GONE) {
            System.err.printf("nettap forward: a device of %s <-> %s disappeared; stopping%n", a, b);
        } else if (o == null) {
            System.err.println("nettap forward: the io_uring forwarder failed; stopping");
            exit = 1;
        }
        f.finish(exit == 0 ? "stopped" : exit == Forward.EXIT_DEVICE_GONE ? "device gone" : "failed", worker);
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook runs already; it found everything finished
        }
        return exit;
    }

    /** Stops the forwarder, waits for its thread, prints the summary; once. */
    private void finish(String why, Thread worker) {
        synchronized (this) {
            if (finished) {
                return;
            }
            finished = true;
        }
        forwarder.stop();
        try {
            worker.join(2 * UringForwarder.POLL_INTERVAL.toMillis() + 6000); // close may wait for cancellations
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        double secs = (System.nanoTime() - startNanos) / 1e9;
        out.printf(Locale.ROOT, "nettap forward: %s after %.1f s: %d frames, %d bytes (%.3f Gbit/s average), drops %d, malformed %d, "
                        + "engine %s%n", why, secs, forwarder.frames(), forwarder.bytes(), forwarder.bytes() * 8 / secs / 1e9,
                forwarder.dropped(), forwarder.malformed(), forwarder.engine());
        out.flush();
    }
}
