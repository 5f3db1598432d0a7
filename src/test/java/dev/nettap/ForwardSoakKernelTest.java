package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.tool.ScratchNamespace;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Integrity soak: the kernel's own TCP carries 64 MiB of random bytes from one scratch namespace to
 * another through {@link Forwarder}s: one thread serving both directions, and two one-way
 * forwarders on a thread each (the two ways {@code nettap forward --threads} runs), with receive
 * offloads on (GSO super-frames with partial checksums pass through, header unchanged) and off.
 * The SHA-256 of what was sent and what arrived must be equal, the kernel's checksum-error counters
 * in both namespaces must not move, no frame may be refused as malformed, and no fd may leak.
 * {@code bench/soak} runs the same through the CLI with 1 GiB.
 */
@KernelAccess
class ForwardSoakKernelTest {
    private static final long BYTES = 64L << 20;
    private static final int PORT = 5201;
    private static final long DEADLINE_SECONDS = 180;

    /**
     * Opens once what the JDK keeps open after first use (the seed source behind temporary files,
     * the process launcher's plumbing, the socket machinery), so the fd check sees only our own.
     */
    @BeforeAll
    static void warmUpTheJdk() throws Exception {
        try (ScratchNamespace ns = ScratchNamespace.create("nettap-soak-warm")) {
            ServerSocketChannel server = InNamespace.call(ns.path(), () -> io(() -> {
                ServerSocketChannel s = ServerSocketChannel.open();
                s.bind(new InetSocketAddress("127.0.0.1", PORT));
                return s;
            }));
            try (server; SocketChannel client = InNamespace.call(ns.path(), () -> io(SocketChannel::open))) {
                Digests d = transfer(server, client, new InetSocketAddress("127.0.0.1", PORT), 1 << 20);
                assertArrayEquals(d.sent(), d.received(), "loopback transfer in the warm-up namespace");
            }
            csumErrors(ns);
        }
    }

    @ParameterizedTest(name = "offloads {0}, {1} thread(s)")
    @CsvSource({"true, 1", "false, 1", "true, 2", "false, 2"})
    void randomBytesOverTcpArriveIntactThroughTheForwarder(boolean offloads, int threads) throws Exception {
        Map<Integer, String> fdsBefore = KernelFixtures.openFds();
        List<AutoCloseable> cleanup = new ArrayList<>(); // closed in reverse order
        List<Thread> loops = new ArrayList<>();
        List<Forwarder> forwarders = new ArrayList<>();
        try {
            ScratchNamespace a = ScratchNamespace.create("nettap-soak");
            cleanup.add(a);
            ScratchNamespace b = ScratchNamespace.create("nettap-soak");
            cleanup.add(b);
            // As `ip tuntap add mode tap vnet_hdr` leaves a device a VMM is told to attach to.
            for (ScratchNamespace ns : List.of(a, b)) {
                ns.ip("tuntap", "add", "dev", "sk0", "mode", "tap", "vnet_hdr");
                ns.ip("link", "set", "sk0", "up");
            }
            a.ip("addr", "add", "10.78.0.1/24", "dev", "sk0");
            b.ip("addr", "add", "10.78.0.2/24", "dev", "sk0");
            long[] csumBefore = {csumErrors(a), csumErrors(b)};

            Tap ta = Tap.open(TapHandle.createInNamespace(a.path(), "sk0", TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE));
            cleanup.add(ta);
            Tap tb = Tap.open(TapHandle.createInNamespace(b.path(), "sk0", TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE));
            cleanup.add(tb);
            Set<Offload> set = offloads ? EnumSet.of(Offload.CSUM, Offload.TSO4, Offload.TSO6, Offload.TSO_ECN)
                    : EnumSet.noneOf(Offload.class);
            ta.setOffloads(set);
            tb.setOffloads(set);
            List<Forwarder> made = threads == 1 ? List.of(new Forwarder(ta, tb))
                    : List.of(Forwarder.oneWay(ta, tb), Forwarder.oneWay(tb, ta));
            for (Forwarder f : made) {
                forwarders.add(f);
                loops.add(Thread.ofPlatform().name("soak-" + f).start(f));
            }

            // Sockets are made inside their namespace (they stay there) and used from here.
            ServerSocketChannel server = InNamespace.call(b.path(), () -> io(() -> {
                ServerSocketChannel s = ServerSocketChannel.open();
                s.bind(new InetSocketAddress("10.78.0.2", PORT));
                return s;
            }));
            cleanup.add(server);
            SocketChannel client = InNamespace.call(a.path(), () -> io(SocketChannel::open));
            cleanup.add(client);

            Digests d = transfer(server, client, new InetSocketAddress("10.78.0.2", PORT), BYTES);
            byte[] sent = d.sent();
            byte[] got = d.received();
            HexFormat hex = HexFormat.of();
            assertArrayEquals(sent, got, () -> "SHA-256 sent " + hex.formatHex(sent) + ", received " + hex.formatHex(got));
            assertEquals(csumBefore[0], csumErrors(a), "TCP/UDP InCsumErrors in the sender's namespace moved");
            assertEquals(csumBefore[1], csumErrors(b), "TCP/UDP InCsumErrors in the receiver's namespace moved");
            for (Forwarder f : forwarders) {
                assertEquals(0, f.malformed(), () -> f + " had frames refused as malformed");
                assertEquals(null, f.outcome(), () -> f + " ended early: " + f.outcome());
            }
            assertTrue(forwarders.get(0).aToB().bytes() >= BYTES, "the sender's direction carried less than the payload");
            Forwarder.Direction back = threads == 1 ? forwarders.get(0).bToA() : forwarders.get(1).aToB();
            assertTrue(back.frames() > 0, "the receiver's ACKs crossed " + back);
            if (threads == 2) {
                assertEquals(0, forwarders.get(0).bToA().frames(), "a one-way forwarder moved frames backwards");
            }
            for (Forwarder f : forwarders) {
                assertEquals(0, f.errors(), () -> f + ": frames lost to other statuses");
            }
        } finally {
            forwarders.forEach(Forwarder::stop);
            for (Thread t : loops) {
                t.join(10_000);
            }
            for (int i = cleanup.size() - 1; i >= 0; i--) {
                try {
                    cleanup.get(i).close(); // namespaces last: they take the devices with them
                } catch (IOException e) {
                    System.err.println("cleanup: " + e);
                }
            }
        }
        for (Thread t : loops) {
            assertTrue(!t.isAlive(), t + " did not stop");
        }
        KernelFixtures.assertNoLeakSettled(fdsBefore);
    }

    /** SHA-256 of what was sent and of what arrived. */
    private record Digests(byte[] sent, byte[] received) {}

    /** Connects {@code client} to {@code server} at {@code to} and sends {@code bytes} random bytes. */
    private static Digests transfer(ServerSocketChannel server, SocketChannel client, InetSocketAddress to, long bytes)
            throws Exception {
        CompletableFuture<byte[]> received = CompletableFuture.supplyAsync(() -> io(() -> receive(server, bytes)),
                command -> Thread.ofPlatform().name("soak-receiver").start(command));
        client.connect(to);
        byte[] sent = send(client, bytes);
        client.shutdownOutput();
        return new Digests(sent, received.get(DEADLINE_SECONDS, TimeUnit.SECONDS));
    }

    /** Sends {@code bytes} seeded random bytes; returns their SHA-256. */
    private static byte[] send(SocketChannel ch, long bytes) throws Exception {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        SplittableRandom rnd = new SplittableRandom(0x5eed_cafeL);
        ByteBuffer buf = ByteBuffer.allocate(1 << 16);
        long left = bytes;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(DEADLINE_SECONDS);
        while (left > 0) {
            buf.clear();
            int n = (int) Math.min(buf.capacity(), left);
            for (int i = 0; i < n; i += 8) {
                buf.putLong(i, rnd.nextLong());
            }
            buf.limit(n);
            sha.update(buf.array(), 0, n);
            while (buf.hasRemaining()) {
                ch.write(buf);
                assertTrue(System.nanoTime() < deadline, "sending took longer than " + DEADLINE_SECONDS + " s");
            }
            left -= n;
        }
        return sha.digest();
    }

    /** Accepts one connection, reads it to its end; returns the SHA-256 of what arrived. */
    private static byte[] receive(ServerSocketChannel server, long bytes) throws IOException {
        try (SocketChannel ch = server.accept()) {
            ch.socket().setSoTimeout((int) TimeUnit.SECONDS.toMillis(DEADLINE_SECONDS));
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            ByteBuffer buf = ByteBuffer.allocate(1 << 16);
            long total = 0;
            int n;
            while ((n = ch.read(buf.clear())) >= 0) {
                sha.update(buf.array(), 0, n);
                total += n;
            }
            if (total != bytes) {
                throw new IOException("received " + total + " bytes, sent " + bytes);
            }
            return sha.digest();
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /** TCP InCsumErrors + UDP InCsumErrors from the namespace's {@code /proc/net/snmp}. */
    private static long csumErrors(ScratchNamespace ns) throws IOException {
        ScratchNamespace.Result r = ns.exec("cat", "/proc/net/snmp");
        assertEquals(0, r.exitCode(), r.output());
        long sum = 0;
        int found = 0;
        List<String> lines = r.output().lines().toList();
        for (int i = 0; i + 1 < lines.size(); i++) {
            String head = lines.get(i);
            String values = lines.get(i + 1);
            if ((head.startsWith("Tcp:") && values.startsWith("Tcp:")) || (head.startsWith("Udp:") && values.startsWith("Udp:"))) {
                List<String> keys = List.of(head.split("\\s+"));
                int k = keys.indexOf("InCsumErrors");
                assertTrue(k > 0, () -> "no InCsumErrors in " + head);
                sum += Long.parseLong(values.split("\\s+")[k]);
                found++;
            }
        }
        assertEquals(2, found, () -> "Tcp and Udp lines in /proc/net/snmp: " + r.output());
        return sum;
    }

    private interface IoAction<T> {
        T run() throws IOException;
    }

    private static <T> T io(IoAction<T> action) {
        try {
            return action.run();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
