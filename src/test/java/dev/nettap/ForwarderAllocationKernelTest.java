package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.tool.ScratchNamespace;
import dev.nettap.vnet.VirtioNetHdr;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The forwarding loop allocates nothing per frame: the forwarder thread's allocated bytes over
 * many frames (after a warm-up) stay below one byte per frame, i.e. no object per frame, no slice,
 * no boxing, no waiter. A count of bytes, not a timing: load does not change it. Runs in a JVM of
 * its own ({@link AllocationProbe}).
 */
@KernelAccess
@Tag(AllocationProbe.TAG)
@Timeout(180)
class ForwarderAllocationKernelTest {

    @Test
    void theForwardingLoopAllocatesNothingPerFrame() throws Exception {
        try (ScratchNamespace ns = ScratchNamespace.create("nettap-fa"); Arena arena = Arena.ofShared()) {
            TestBridge.quiet(ns);
            try (Tap in = open(ns, "nfa0"); Tap mid = open(ns, "nfa1"); Tap out = open(ns, "nfa2")) {
                TestBridge.join(ns, List.of("nfa0", "nfa1"));
                ns.ip("link", "set", "nfa2", "up"); // not bridged: its stack drops the local ethertype
                Forwarder fw = new Forwarder(mid, out);
                Thread loop = Thread.ofPlatform().name("alloc-forwarder").start(fw);
                try {
                    MemorySegment h = arena.allocate(VirtioNetHdr.SIZE);
                    MemorySegment f = arena.allocate(2048);
                    TestBridge.broadcast(f, 1);
                    // The JIT needs some 50 000 to 100 000 frames here (more on a loaded machine)
                    // before the interpreter's and C1's allocations are gone: measure windows of
                    // 20 000 frames until one shows the compiled loop's steady state. A loop that
                    // allocated anything per frame (a slice: 40 B, a boxed long: 16 B, a waiter)
                    // would show it in every window.
                    StringBuilder seen = new StringBuilder();
                    boolean steady = false;
                    for (int w = 0; w < 25 && !steady; w++) {
                        long frames0 = fw.aToB().frames();
                        long bytes0 = AllocationProbe.allocatedBytes(loop);
                        push(in, h, f, fw, 20_000);
                        long allocated = AllocationProbe.allocatedBytes(loop) - bytes0;
                        long frames = fw.aToB().frames() - frames0;
                        seen.append(allocated).append(" B/").append(frames).append(" frames; ");
                        steady = allocated < frames; // under one byte per frame: no object per frame
                    }
                    assertTrue(steady, "the forwarder thread never reached 0 B/frame: " + seen);
                    assertEquals(0, fw.errors() + fw.malformed());
                } finally {
                    fw.stop();
                    loop.join(10_000);
                }
                assertEquals(false, loop.isAlive(), "the forwarder stopped");
            }
        }
    }

    private static Tap open(ScratchNamespace ns, String name) throws TapException {
        return Tap.open(TapHandle.createInNamespace(ns.path(), name, TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE));
    }

    /** Writes broadcasts into {@code in} until the forwarder has moved {@code count} more frames. */
    private static void push(Tap in, MemorySegment h, MemorySegment f, Forwarder fw, long count) throws InterruptedException {
        long target = fw.aToB().frames() + count;
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (fw.aToB().frames() < target) {
            assertTrue(System.nanoTime() < end, "the forwarder stalled at " + fw.aToB().frames());
            assertNull(fw.outcome(), "the forwarder ended");
            for (int i = 0; i < 32; i++) {
                in.write(h, f, 60);
            }
            Thread.yield(); // let the forwarder drain: the bridge's queue drops what it cannot hold
        }
    }
}
