package dev.nettap.tool;

import dev.nettap.Tap;
import dev.nettap.TapHandle;
import dev.nettap.TapMode;
import dev.nettap.vnet.VirtioNetHdr;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The nettap launcher. {@code demo}: make a scratch network namespace with a TAP in it, answer the
 * kernel's ARP and ICMP echo from Java through the TAP while {@code ping} runs inside the namespace,
 * print every frame and the round-trip times, and remove everything on exit (Ctrl-C included).
 */
public final class Main {
    private Main() {}

    private static final byte[] DEMO_MAC = {0x02, 0x6e, 0x74, 0x61, 0x70, 0x02}; // locally administered
    private static final int KERNEL_IP = 0x0a_63_00_01; // 10.99.0.1, the kernel side
    private static final int JAVA_IP = 0x0a_63_00_02;   // 10.99.0.2, answered by Java

    /** Most pings the demo sends. */
    static final int MAX_COUNT = 1000;
    /** Pings the demo sends when no count is given. */
    static final int DEFAULT_COUNT = 5;

    /** The text {@code --help} prints. */
    static final String USAGE = """
            usage: nettap demo [COUNT]
                   nettap forward [--offloads on|off] [--queues N] [--threads 1|2] [--engine readv|uring] A B
                   nettap --help
              demo [COUNT]  make a scratch network namespace with a TAP in it, answer the kernel's ARP
                            and ping from Java through the TAP, print every frame, remove everything
                            on exit; COUNT pings (1 to %d, default %d); needs root
              forward A B   forward frames between two TAP devices until Ctrl-C or a device goes;
                            A, B: NAME (attach, or create here), NETNS:NAME (inside /run/netns/NETNS
                            or a path), fd=N (an inherited queue fd); offloads on by default;
                            --queues N: N queue pairs; --threads 1: one thread per pair (default
                            with offloads on), 2: a thread per direction (default with offloads
                            off); --engine uring: every queue pair on one thread through io_uring
                            (readv/writev when unavailable)
              --help, -h    print this text
            """.formatted(MAX_COUNT, DEFAULT_COUNT);

    /** What the command line asks for. */
    sealed interface Command permits Help, Demo, Forwarding, Bad { }
    /** Print the usage. */
    record Help() implements Command { }
    /** Run the demo with {@code count} pings. */
    record Demo(int count) implements Command { }
    /** A bad command line: {@code message} is one line, for standard error. */
    record Bad(String message) implements Command { }
    /** Run {@code nettap forward} with the arguments after {@code forward}. */
    record Forwarding(List<String> args) implements Command { }

    /**
     * Reads the command line; never throws and never exits.
     *
     * @param args the arguments as given
     * @return what to do
     */
    static Command parse(String... args) {
        if (args.length == 0) return new Help();
        String cmd = args[0];
        switch (cmd) {
            case "--help", "-h", "help" -> {
                return args.length == 1 ? new Help() : new Bad("nettap " + cmd + ": unexpected argument " + quote(args[1]));
            }
            case "forward" -> {
                if (args.length > 1 && (args[1].equals("--help") || args[1].equals("-h"))) return new Help();
                return new Forwarding(List.of(args).subList(1, args.length));
            }
            case "demo" -> {
                if (args.length > 1 && (args[1].equals("--help") || args[1].equals("-h"))) return new Help();
                if (args.length > 2) return new Bad("nettap demo: unexpected argument " + quote(args[2]) + " (usage: nettap demo [COUNT])");
                if (args.length == 1) return new Demo(DEFAULT_COUNT);
                String c = args[1];
                int count = -1;
                if (c.matches("[0-9]{1,9}")) count = Integer.parseInt(c);
                if (count < 1 || count > MAX_COUNT) {
                    return new Bad("nettap demo: COUNT must be a whole number from 1 to " + MAX_COUNT + ", not " + quote(c));
                }
                return new Demo(count);
            }
            default -> {
                return new Bad("nettap: unknown command " + quote(cmd) + " (nettap --help lists the commands)");
            }
        }
    }

    private static String quote(String arg) {
        StringBuilder b = new StringBuilder("\"");
        // Control characters would break the one-line message: show them escaped.
        arg.codePoints().forEach(cp -> {
            if (Character.isISOControl(cp)) b.append(String.format("\\u%04x", cp));
            else b.appendCodePoint(cp);
        });
        return b.append('"').toString();
    }

    /**
     * Runs a parsed command line: usage on standard output (exit status 0), a bad argument as one line
     * on standard error (2), the demo's own status otherwise (0 success, 1 failure).
     *
     * @param command what {@link #parse} returned
     * @param out     standard output
     * @param err     standard error
     * @return the exit status
     */
    static int run(Command command, PrintStream out, PrintStream err) {
        return switch (command) {
            case Help h -> {
                out.print(USAGE);
                yield 0;
            }
            case Bad b -> {
                err.println(b.message());
                yield 2;
            }
            case Forwarding f -> {
                try {
                    yield Forward.run(f.args().toArray(String[]::new));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    err.println("nettap forward: interrupted");
                    yield 1;
                }
            }
            case Demo d -> {
                try {
                    yield demo(d.count());
                } catch (IOException | RuntimeException e) {
                    err.println("nettap demo: " + e.getMessage());
                    yield 1;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    err.println("nettap demo: interrupted");
                    yield 1;
                }
            }
        };
    }

    /**
     * Entry point: {@code nettap demo [COUNT]}, {@code nettap --help}; no argument prints the usage.
     *
     * @param args the command line
     */
    public static void main(String[] args) {
        System.exit(run(parse(args), System.out, System.err));
    }

    static int demo(int count) throws IOException, InterruptedException {
        if (!ScratchNamespace.privileged()) {
            System.err.println("nettap demo needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and /dev/net/tun"
                    + " to make a scratch network namespace and a TAP: run it as root, e.g. sudo ./nettap demo");
            return 1;
        }
        ScratchNamespace ns = ScratchNamespace.create("nettap-demo");
        AtomicBoolean stop = new AtomicBoolean();
        List<AutoCloseable> cleanup = new ArrayList<>();
        Thread hook = new Thread(() -> {
            stop.set(true);
            closeAll(cleanup);
            ns.close();
        }, "nettap-demo-cleanup");
        Runtime.getRuntime().addShutdownHook(hook); // Ctrl-C: close the TAP, delete the namespace
        try {
            // The TAP is created inside the namespace (the queue is opened there), so no device,
            // address or frame ever appears in the caller's namespace.
            Tap tap = Tap.open(TapHandle.createInNamespace(ns.path(), "demo%d", TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE));
            cleanup.add(tap);
            System.out.printf("namespace %s: TAP %s (virtio-net header %d -> %d bytes)%n", ns.name(), tap.name(),
                    tap.previousVnetHeaderSize(), VirtioNetHdr.SIZE);
            ns.ip("addr", "add", "10.99.0.1/24", "dev", tap.name());
            ns.ip("link", "set", tap.name(), "up");
            System.out.printf("kernel side %s on %s; Java answers for %s (%s)%n", EchoResponder.ip(KERNEL_IP),
                    tap.name(), EchoResponder.ip(JAVA_IP), EchoResponder.mac(java.lang.foreign.MemorySegment.ofArray(DEMO_MAC), 0));
            EchoResponder responder = new EchoResponder(tap, DEMO_MAC, JAVA_IP);
            cleanup.add(responder); // after the TAP: the TAP closes first, so no read is in flight on these buffers
            Thread server = Thread.ofPlatform().name("nettap-demo-responder").start(() ->
                    responder.run(stop::get, line -> System.out.println("  frame: " + line)));
            ScratchNamespace.Result ping = ns.exec("ping", "-c", Integer.toString(count), "-i", "0.2", "-W", "2",
                    EchoResponder.ip(JAVA_IP));
            stop.set(true);
            server.join(5_000);
            System.out.println();
            Matcher m = Pattern.compile("icmp_seq=(\\d+) ttl=(\\d+) time=([0-9.]+ ms)").matcher(ping.output());
            int replies = 0;
            while (m.find()) {
                replies++;
                System.out.printf("ping: reply icmp_seq=%s time=%s%n", m.group(1), m.group(3));
            }
            ping.output().lines().filter(l -> l.contains("packets transmitted") || l.startsWith("rtt"))
                    .forEach(l -> System.out.println("ping: " + l));
            System.out.printf("Java answered %d ARP and %d ICMP echo requests; ping got %d of %d replies%n",
                    responder.arpReplies(), responder.echoReplies(), replies, count);
            return ping.exitCode() == 0 && replies == count ? 0 : 1;
        } finally {
            stop.set(true);
            closeAll(cleanup);
            ns.close();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running already and cleans up too
            }
        }
    }

    private static void closeAll(List<AutoCloseable> resources) {
        synchronized (resources) {
            for (AutoCloseable c : resources) {
                try {
                    c.close();
                } catch (Exception e) {
                    System.err.println("nettap: cleanup: " + e.getMessage());
                }
            }
            resources.clear();
        }
    }
}
