package dev.nettap.tool;

import dev.nettap.Tap;
import dev.nettap.TapHandle;
import dev.nettap.TapMode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The nettap launcher. {@code demo}: make a scratch network namespace with a TAP in it, answer the
 * kernel's ARP and ICMP echo from Java through the TAP while {@code ping} runs inside the namespace,
 * print every frame and the round-trip times, and remove everything on exit (Ctrl-C included).
 * {@code forward}: forward frames between two devices (see {@code Forward}).
 */
public final class Main {
    private Main() {}

    private static final byte[] DEMO_MAC = {0x02, 0x6e, 0x74, 0x61, 0x70, 0x02}; // locally administered
    private static final int KERNEL_IP = 0x0a_63_00_01; // 10.99.0.1, the kernel side
    private static final int JAVA_IP = 0x0a_63_00_02;   // 10.99.0.2, answered by Java

    /**
     * Entry point.
     *
     * @param args {@code demo [COUNT]} or {@code forward [OPTIONS] A B}
     */
    public static void main(String[] args) {
        String cmd = args.length == 0 ? "demo" : args[0];
        try {
            switch (cmd) {
                case "demo" -> System.exit(demo(args.length > 1 ? Integer.parseInt(args[1]) : 5));
                case "forward" -> System.exit(Forward.run(java.util.Arrays.copyOfRange(args, 1, args.length)));
                default -> {
                    System.err.println("usage: nettap demo [COUNT]");
                    System.err.println(Forward.USAGE);
                    System.exit(2);
                }
            }
        } catch (Exception e) {
            System.err.println("nettap " + cmd + ": " + e.getMessage());
            System.exit(1);
        }
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
                    tap.previousVnetHeaderSize(), Tap.VNET_HDR_SIZE);
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
