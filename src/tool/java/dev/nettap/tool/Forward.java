package dev.nettap.tool;

import dev.nettap.Forwarder;
import dev.nettap.Offload;
import dev.nettap.Tap;
import dev.nettap.TapException;
import dev.nettap.TapHandle;
import dev.nettap.TapMode;
import dev.nettap.TapStatistics;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * {@code nettap forward [--offloads on|off] [--queues N] [--threads 1|2] [--engine readv|uring] A B}:
 * forwards every frame between two devices, virtio-net header unchanged: with the readv engine (the
 * default), per queue pair either one {@link Forwarder} serving both directions through a
 * {@link dev.nettap.TapSelector} ({@code --threads 1}, the default with offloads on: super-frames
 * are few, one thread keeps up with the C forwarder's two and uses less CPU than two would) or two
 * one-way {@code Forwarder}s on a platform thread each ({@code --threads 2}, the default with
 * offloads off: every 1500-byte frame costs two system calls, and each direction needs a core, as
 * in the C forwarder); with {@code --engine uring}, one io_uring loop
 * ({@link dev.nettap.UringForwarder}). {@code BENCHMARKS.md} has both measured.
 *
 * <p>A device is {@code NAME} (attach to it in this network namespace, or create it),
 * {@code NETNS:NAME} (the same inside the network namespace {@code /run/netns/NETNS}, or NETNS as an
 * absolute path) or {@code fd=N} (adopt an inherited queue fd; one queue only). Prints one line
 * with {@code ready} once both are open, a status line at most once a second while frames move, a
 * summary on exit (Ctrl-C, SIGTERM, or a device gone). Exit codes: 1 when a device cannot be
 * opened, 2 for bad usage, 3 when a device disappears; after Ctrl-C or SIGTERM the JVM's own 130 or
 * 143, once the summary is printed.
 */
final class Forward {
    static final String USAGE = "usage: nettap forward [--offloads on|off] [--queues N] [--threads 1|2] [--engine readv|uring] A B\n"
            + "  A, B: NAME (attach or create here), NETNS:NAME (inside /run/netns/NETNS or a path), fd=N (inherited fd)";
    static final int EXIT_DEVICE_GONE = 3;

    private final PrintStream out;
    private final List<Forwarder> forwarders = new ArrayList<>();
    /** A forwarder whose thread ended with an exception instead of an outcome. */
    private final java.util.Map<Forwarder, Throwable> failures = new java.util.concurrent.ConcurrentHashMap<>();
    private final List<String> labels = new ArrayList<>(); // "A <-> B, queue q", per forwarder
    private final List<String[]> directionLabels = new ArrayList<>(); // "A -> B, queue q" and back, per forwarder
    private final List<Thread> threads = new ArrayList<>();
    private final List<Tap> taps = new ArrayList<>();
    private final long startNanos = System.nanoTime();
    private boolean finished; // guarded by this
    private long kernelDropsAtStart;
    private final long[] lastKernelDrops = new long[2]; // per device, guarded by this

    private Forward(PrintStream out) {
        this.out = out;
    }

    /** Parses {@code args} (after {@code forward}), runs, and returns the exit code. */
    static int run(String[] args) throws InterruptedException {
        boolean offloads = true;
        int queues = 1;
        int threads = 0; // 0: by the offloads (see the class comment)
        String engine = "readv";
        List<String> devices = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if ((a.equals("--offloads") || a.equals("--queues") || a.equals("--threads") || a.equals("--engine"))
                    && i + 1 == args.length) {
                return usage(a + " needs a value");
            }
            switch (a) {
                case "--offloads" -> {
                    String v = args[++i];
                    if (!v.equals("on") && !v.equals("off")) {
                        return usage("--offloads takes on or off, not '" + v + "'");
                    }
                    offloads = v.equals("on");
                }
                case "--queues" -> {
                    try {
                        queues = Integer.parseInt(args[++i]);
                    } catch (NumberFormatException e) {
                        return usage("--queues takes a number, not '" + args[i] + "'");
                    }
                    if (queues < 1 || queues > TapHandle.MAX_QUEUES) {
                        return usage("--queues takes 1 to " + TapHandle.MAX_QUEUES + ", not " + queues);
                    }
                }
                case "--threads" -> {
                    String v = args[++i];
                    if (!v.equals("1") && !v.equals("2")) {
                        return usage("--threads takes 1 (both directions on one thread) or 2 (one per direction), not '" + v + "'");
                    }
                    threads = Integer.parseInt(v);
                }
                case "--engine" -> { // io_uring: ForwardUring (issue 14)
                    engine = args[++i];
                    if (!engine.equals("readv") && !engine.equals("uring")) {
                        return usage("--engine takes readv or uring, not '" + engine + "'");
                    }
                }
                default -> {
                    if (a.startsWith("-")) {
                        return usage("unknown option " + a);
                    }
                    devices.add(a);
                }
            }
        }
        if (devices.size() != 2) {
            return usage("forward needs two devices, got " + devices.size());
        }
        if (queues > 1 && devices.stream().anyMatch(d -> d.startsWith("fd="))) {
            return usage("fd=N gives one queue; --queues " + queues + " needs devices by name");
        }
        if (threads != 0 && engine.equals("uring")) {
            return usage("--threads is for the readv engine; --engine uring runs every queue pair on one thread");
        }
        if (threads == 0) {
            threads = offloads ? 1 : 2;
        }
        return new Forward(System.out).forward(devices.get(0), devices.get(1), queues, threads, offloads, engine);
    }

    private static int usage(String why) {
        // One line, like every bad argument of the launcher (nettap --help has the whole text).
        System.err.println("nettap forward: " + why + " (" + USAGE.lines().findFirst().orElseThrow() + ")");
        return 2;
    }

    private int forward(String a, String b, int queues, int threads, boolean offloads, String engine)
            throws InterruptedException {
        List<Tap> qa;
        List<Tap> qb;
        Set<Offload> set;
        try {
            qa = open(a, queues);
            qb = open(b, queues);
            set = offloads ? offloadsFor(qa.get(0), qb.get(0)) : EnumSet.noneOf(Offload.class);
            for (Tap t : taps) {
                t.setOffloads(set);
            }
        } catch (TapException | IllegalArgumentException e) {
            System.err.println("nettap forward: " + e.getMessage());
            closeTaps();
            return 1;
        }
        if (engine.equals("uring")) {
            try {
                return ForwardUring.run(out, a, b, qa, qb, set);
            } finally {
                closeTaps();
            }
        }
        for (int q = 0; q < queues; q++) {
            if (threads == 1) {
                start(new Forwarder(qa.get(q), qb.get(q)), a, b, q);
            } else {
                start(Forwarder.oneWay(qa.get(q), qb.get(q)), a, b, q);
                start(Forwarder.oneWay(qb.get(q), qa.get(q)), b, a, q);
            }
        }
        kernelDropsAtStart = kernelDrops();
        Thread hook = new Thread(() -> finish("interrupted"), "nettap-forward-shutdown");
        Runtime.getRuntime().addShutdownHook(hook); // Ctrl-C, SIGTERM: stop, summarise, close
        out.printf("nettap forward: ready: %s (%s) <-> %s (%s), %d queue pair%s, %s, offloads %s%n", a, qa.get(0).name(), b,
                qb.get(0).name(), queues, queues == 1 ? "" : "s", threads == 1 ? "one thread per pair" : "one thread per direction",
                set.isEmpty() ? "off" : set);
        out.flush();
        int exit = watch(a, b);
        finish(exit == 0 ? "stopped" : "device gone");
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook runs already; it found everything finished
        }
        return exit;
    }

    /** Opens {@code queues} queues of the device {@code spec} names. */
    private List<Tap> open(String spec, int queues) throws TapException {
        List<TapHandle> handles;
        if (spec.startsWith("fd=")) {
            int fd;
            try {
                fd = Integer.parseInt(spec.substring(3));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("device " + spec + ": fd=N takes a number");
            }
            handles = List.of(TapHandle.ofInheritedFd(fd, TapMode.TAP));
        } else {
            int colon = spec.lastIndexOf(':');
            String name = colon < 0 ? spec : spec.substring(colon + 1);
            if (colon < 0) {
                boolean exists = Files.exists(Path.of("/sys/class/net", name));
                out.printf("nettap forward: %s %s%n", exists ? "attaching to" : "creating", name);
                handles = queues == 1 ? List.of(TapHandle.create(name))
                        : TapHandle.createQueues(name, queues, TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE);
            } else {
                String ns = spec.substring(0, colon);
                Path netns = ns.startsWith("/") ? Path.of(ns) : Path.of("/run/netns", ns);
                out.printf("nettap forward: opening %s in network namespace %s%n", name, netns);
                handles = queues == 1
                        ? List.of(TapHandle.createInNamespace(netns, name, TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE))
                        : TapHandle.createQueuesInNamespace(netns, name, queues, TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE);
            }
        }
        List<Tap> opened = new ArrayList<>();
        try {
            for (TapHandle h : handles) {
                Tap t = Tap.open(h);
                opened.add(t);
                taps.add(t);
            }
        } finally {
            for (TapHandle h : handles) {
                h.close(); // the ones not opened yet (opened ones are empty)
            }
        }
        return opened;
    }

    /** Checksum and TSO, plus USO where both kernels accept it. */
    private static Set<Offload> offloadsFor(Tap a, Tap b) throws TapException {
        Set<Offload> set = EnumSet.of(Offload.CSUM, Offload.TSO4, Offload.TSO6, Offload.TSO_ECN);
        Set<Offload> pa = a.probeOffloads();
        Set<Offload> pb = b.probeOffloads();
        if (pa.contains(Offload.USO4) && pa.contains(Offload.USO6) && pb.contains(Offload.USO4) && pb.contains(Offload.USO6)) {
            set.add(Offload.USO4);
            set.add(Offload.USO6);
        }
        return set;
    }

    /** Starts {@code f} on a platform thread of its own; {@code a} and {@code b} name its Taps' devices. */
    private void start(Forwarder f, String a, String b, int queue) {
        forwarders.add(f);
        labels.add(a + (f.bothWays() ? " <-> " : " -> ") + b + ", queue " + queue);
        directionLabels.add(f.bothWays()
                ? new String[] {a + " -> " + b + ", queue " + queue, b + " -> " + a + ", queue " + queue}
                : new String[] {a + " -> " + b + ", queue " + queue});
        threads.add(Thread.ofPlatform().name("nettap-forward-" + f.a().name() + "-" + queue).start(() -> {
            try {
                f.run();
            } catch (RuntimeException | Error e) { // no outcome then: watch() must not wait for one
                failures.put(f, e);
            }
        }));
    }

    /** Prints a status line at most once a second until a forwarder ends; returns the exit code. */
    private int watch(String a, String b) throws InterruptedException {
        long lastFrames = 0;
        long lastBytes = 0;
        long lastNanos = System.nanoTime();
        while (true) {
            Thread.sleep(1000);
            synchronized (this) {
                if (finished) {
                    return 0;
                }
            }
            for (Forwarder f : forwarders) {
                Forwarder.Outcome o = f.outcome();
                if (o == Forwarder.Outcome.DEVICE_GONE) {
                    Tap gone = f.gone();
                    String spec = taps.indexOf(gone) < taps.size() / 2 ? a : b;
                    System.err.printf("nettap forward: device %s (%s) disappeared; stopping%n", spec, gone.name());
                    return EXIT_DEVICE_GONE;
                } else if (o != null) {
                    System.err.printf("nettap forward: %s ended (%s); stopping%n", labels.get(forwarders.indexOf(f)), o);
                    return 1;
                }
                Throwable failed = failures.get(f);
                if (failed != null) {
                    System.err.printf("nettap forward: %s failed (%s); stopping%n", labels.get(forwarders.indexOf(f)), failed);
                    return 1;
                }
            }
            long now = System.nanoTime();
            long frames = sum(Forwarder::frames);
            long bytes = sum(Forwarder::bytes);
            if (frames != lastFrames) {
                double secs = (now - lastNanos) / 1e9;
                out.printf(Locale.ROOT, "nettap forward: %.0f frames/s, %.3f Gbit/s, drops %d, malformed %d%n",
                        (frames - lastFrames) / secs, (bytes - lastBytes) * 8 / secs / 1e9, drops(),
                        sum(Forwarder::malformed));
                out.flush();
            }
            lastFrames = frames;
            lastBytes = bytes;
            lastNanos = now;
        }
    }

    private long sum(java.util.function.ToLongFunction<Forwarder> counter) {
        long s = 0;
        for (Forwarder f : forwarders) {
            s += counter.applyAsLong(f);
        }
        return s;
    }

    /** Our refusals plus what the kernels dropped on both devices since we started. */
    private long drops() {
        return sum(Forwarder::dropped) + kernelDrops() - kernelDropsAtStart;
    }

    /** What the kernels dropped on both devices (per device: queue 0 reports them all). */
    private synchronized long kernelDrops() {
        Tap[] devices = {taps.get(0), taps.get(taps.size() / 2)};
        for (int i = 0; i < devices.length; i++) {
            int d = i;
            try {
                // Not available (gone, or not readable from here): keep the last counts read.
                devices[d].statistics().kernel().ifPresent(k -> lastKernelDrops[d] = k.rxDropped() + k.txDropped());
            } catch (IllegalStateException e) {
                // the device is closing: its counters went with it; keep the last ones read
            }
        }
        return lastKernelDrops[0] + lastKernelDrops[1];
    }

    /** Stops every forwarder, prints the summary, closes the devices; once. */
    private void finish(String why) {
        synchronized (this) {
            if (finished) {
                return;
            }
            finished = true;
        }
        forwarders.forEach(Forwarder::stop);
        for (Thread t : threads) {
            try {
                t.join(2000); // stop() wakes each loop at once
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        double secs = (System.nanoTime() - startNanos) / 1e9;
        long drops = drops();
        out.printf(Locale.ROOT, "nettap forward: %s after %.1f s: %d frames, %d bytes (%.3f Gbit/s average), drops %d, malformed %d%n",
                why, secs, sum(Forwarder::frames), sum(Forwarder::bytes), sum(Forwarder::bytes) * 8 / secs / 1e9, drops,
                sum(Forwarder::malformed));
        for (int i = 0; i < forwarders.size(); i++) {
            Forwarder f = forwarders.get(i);
            Forwarder.Direction[] dirs = {f.aToB(), f.bToA()};
            for (int d = 0; d < directionLabels.get(i).length; d++) {
                Forwarder.Direction dir = dirs[d];
                out.printf("  %s: %d frames, %d bytes, drops %d, malformed %d, %s%s%n", directionLabels.get(i)[d], dir.frames(),
                        dir.bytes(), dir.dropped(), dir.malformed(), f.outcome() == null ? "still running" : f.outcome(),
                        dir.errors() == 0 ? "" : ", errors " + dir.errors() + " (last " + Tap.describe(dir.lastError()) + ")");
            }
        }
        out.flush();
        closeTaps();
    }

    private void closeTaps() {
        for (Tap t : taps) {
            t.close();
        }
    }
}
