package dev.nettap;

import static org.junit.jupiter.api.Assertions.fail;

import dev.nettap.tool.ScratchNamespace;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.List;

/**
 * The bridge most kernel tests stand on: ports already in {@code ns} joined into {@code br0} (no
 * STP, no forward delay, no multicast snooping), every port up and forwarding, so a broadcast
 * written to one port's TAP is read from every other. The namespace owns everything made here.
 */
final class TestBridge {
    private static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private TestBridge() {
    }

    /** How long {@link #join} waits for each port to forward. */
    static final Duration FORWARDING_DEADLINE = Duration.ofSeconds(20);

    /** Makes {@code br0} in {@code ns}, joins {@code ports} and waits until each forwards ({@link #FORWARDING_DEADLINE}). */
    static void join(ScratchNamespace ns, List<String> ports) throws Exception {
        ns.ip("link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0", "mcast_snooping", "0");
        for (String port : ports) {
            ns.ip("link", "set", port, "master", "br0");
            ns.ip("link", "set", port, "up");
        }
        ns.ip("link", "set", "br0", "up");
        for (String port : ports) {
            awaitForwarding(ns, port, FORWARDING_DEADLINE);
        }
    }

    /** Polls the bridge port {@code port} in {@code ns} until it is forwarding; fails after {@code deadline}. */
    static void awaitForwarding(ScratchNamespace ns, String port, Duration deadline) throws IOException, InterruptedException {
        long end = System.nanoTime() + deadline.toNanos();
        String out;
        do {
            out = ns.ip("-d", "link", "show", "dev", port);
            if (out.contains("state forwarding")) {
                return;
            }
            Thread.sleep(20);
        } while (System.nanoTime() - end < 0);
        fail("bridge port " + port + " did not reach the forwarding state within " + deadline + ": " + out);
    }

    /** Turns IPv6 off in {@code ns}: no neighbour or MLD chatter on the bridge. */
    static void quiet(ScratchNamespace ns) throws IOException {
        for (String key : List.of("all", "default")) {
            ScratchNamespace.Result r = ns.exec("sysctl", "-w", "net.ipv6.conf." + key + ".disable_ipv6=1");
            if (r.exitCode() != 0) {
                fail("sysctl disable_ipv6 in " + ns.path() + ": " + r.output());
            }
        }
    }

    /** A 60-byte broadcast with a local ethertype (the bridge floods it; nothing answers), tagged at 14. */
    static void broadcast(MemorySegment frame, int tag) {
        frame.asSlice(0, 6).fill((byte) 0xff);
        frame.asSlice(6, 6).fill((byte) 2);
        frame.set(BE16, 12, (short) 0x88b5);
        frame.set(ValueLayout.JAVA_INT_UNALIGNED, 14, tag);
        frame.asSlice(18, 42).fill((byte) 0);
    }
}
