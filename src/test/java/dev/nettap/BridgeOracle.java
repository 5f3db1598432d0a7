package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.tool.ScratchNamespace;
import dev.nettap.vnet.VirtioNetHdr;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * The kernel as the oracle for what a TAP write turns into: TAP A and TAP B in a Linux bridge
 * inside a scratch namespace, B with every receive offload off, so the bridge's transmit to B
 * segments GSO frames and completes partial checksums in software. {@code br_netfilter} is turned
 * off inside the namespace when it is loaded (it would trim padded frames and drop inconsistent
 * ones before B sees them). No IPv6 on the devices (no neighbour or MLD traffic), no STP, no
 * multicast snooping. Everything is removed by {@link #close()}.
 */
final class BridgeOracle implements AutoCloseable {
    static final Duration DEADLINE = Duration.ofSeconds(5);

    final ScratchNamespace ns;
    final Tap a;
    final Tap b;
    /** The creating thread's memory for the test's frames, closed by {@link #close()}. */
    final Arena arena = Arena.ofConfined();
    /** The virtio-net header a test builds for its writes to A. */
    final MemorySegment txHdr = arena.allocate(VirtioNetHdr.LAYOUT);
    final MemorySegment rxHdr = arena.allocate(VirtioNetHdr.LAYOUT);
    final MemorySegment rxBuf = arena.allocate(65_536);

    private BridgeOracle(ScratchNamespace ns, Tap a, Tap b) {
        this.ns = ns;
        this.a = a;
        this.b = b;
    }

    static BridgeOracle create() throws Exception {
        ScratchNamespace ns = ScratchNamespace.create("nettap-h");
        Tap a = null;
        Tap b = null;
        try {
            TestBridge.quiet(ns);
            a = Tap.open(TapHandle.createInNamespace(ns.path(), "hga0", TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE));
            b = Tap.open(TapHandle.createInNamespace(ns.path(), "hgb0", TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE));
            TestBridge.join(ns, List.of("hga0", "hgb0"));
            // br_netfilter, when loaded, has per-namespace switches; off here, whatever the host does.
            for (String family : List.of("iptables", "ip6tables", "arptables")) {
                ScratchNamespace.Result probe = ns.exec("test", "-e", "/proc/sys/net/bridge/bridge-nf-call-" + family);
                if (probe.exitCode() == 0) {
                    ScratchNamespace.Result r = ns.exec("sysctl", "-w", "net.bridge.bridge-nf-call-" + family + "=0");
                    assertEquals(0, r.exitCode(), r.output());
                }
            }
            BridgeOracle o = new BridgeOracle(ns, a, b);
            o.drain();
            return o;
        } catch (Throwable t) {
            if (a != null) {
                a.close();
            }
            if (b != null) {
                b.close();
            }
            ns.close();
            throw t;
        }
    }

    /** Reads and drops whatever B has queued now. */
    void drain() {
        for (int i = 0; i < 1000 && b.read(rxHdr, rxBuf) != Tap.WOULD_BLOCK; i++) {
            // drop
        }
    }

    /**
     * Reads B until {@code expected} frames matching {@code mine} arrived (bounded by
     * {@link #DEADLINE}), then keeps reading for {@code quiet} to catch extra ones; frames matching
     * {@code stray} (ours, but not this flow's) fail at once, others are skipped. Every frame must
     * come complete: no NEEDS_CSUM, no GSO. Returns copies.
     */
    List<byte[]> receive(Predicate<MemorySegment> mine, Predicate<MemorySegment> stray, int expected, Duration quiet,
                         String what) {
        List<byte[]> got = new ArrayList<>();
        long deadline = System.nanoTime() + DEADLINE.toNanos();
        long quietEnd = expected == 0 ? System.nanoTime() + quiet.toNanos() : Long.MAX_VALUE;
        int skipped = 0;
        while (true) {
            long now = System.nanoTime();
            long end = Math.min(deadline, quietEnd);
            if (now >= end) {
                break;
            }
            long n = b.read(rxHdr, rxBuf);
            if (n == Tap.WOULD_BLOCK) {
                b.awaitReadable(Duration.ofNanos(end - now));
                continue;
            }
            assertTrue(n >= 0, what + ": read status from B: " + n);
            MemorySegment frame = rxBuf.asSlice(0, n);
            if (!mine.test(frame)) {
                assertFalse(stray.test(frame), () -> what + ": a frame of another flow arrived");
                skipped++;
                continue;
            }
            assertFalse(VirtioNetHdr.hasFlag(rxHdr, VirtioNetHdr.Flag.NEEDS_CSUM), what + ": NEEDS_CSUM at B");
            assertEquals(VirtioNetHdr.GsoType.NONE, VirtioNetHdr.gsoType(rxHdr), what + ": GSO at B");
            got.add(frame.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            if (got.size() == expected) {
                quietEnd = System.nanoTime() + quiet.toNanos();
            }
        }
        if (got.size() != expected) {
            assertEquals(expected, got.size(), what + ": frames at B (" + skipped + " unrelated frames skipped, " + dropped() + ")");
        }
        return got;
    }

    /** The kernel's tx_dropped counters of A and B, for a failure message: a drop shows there. */
    String dropped() {
        return "tx_dropped: A " + kernelTxDropped(a) + ", B " + kernelTxDropped(b);
    }

    private static String kernelTxDropped(Tap t) {
        TapStatistics s = t.statistics();
        return s.kernel().map(k -> Long.toString(k.txDropped())).orElse("unreadable (" + s.kernelSource() + ")");
    }

    @Override
    public void close() {
        try {
            a.close();
            b.close();
            arena.close();
        } finally {
            ns.close();
        }
    }
}
