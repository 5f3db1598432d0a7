package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.tool.ScratchNamespace;
import dev.nettap.vnet.VirtioNetHdr;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The virtual-thread wait path allocates nothing per wake on nettap's side: a waiter parks in
 * {@link VirtualWait#await}, nettap's poller thread sees the fd ready and unparks it, the waiter
 * reads the frame and waits again, many times. Both threads' allocation is measured with
 * {@code ThreadMXBean#getThreadAllocatedBytes}, which cannot see a virtual thread's own allocation,
 * so the waiter here is a platform thread calling the very code a virtual thread runs
 * ({@code VirtualWait}, on the queue's fd): once warm, the poller and the waiter must each stay
 * under one byte per wake (no boxed key, no waiter object, no map entry per wake). What the JDK
 * itself allocates to unpark a <em>virtual</em> thread from a platform thread (its scheduler wraps
 * the continuation in a task, about 24&ndash;32 B; measured here before the change as the poller's
 * whole allocation) is the JDK's and outside this measurement. Runs in a JVM of its own
 * ({@link AllocationProbe}).
 */
@KernelAccess
@Tag(AllocationProbe.TAG)
@Timeout(180)
class VirtualWaitAllocationKernelTest {

    @Test
    void theWaitPathAllocatesNothingPerWake() throws Exception {
        try (ScratchNamespace ns = ScratchNamespace.create("nettap-vw"); Arena arena = Arena.ofShared()) {
            TestBridge.quiet(ns);
            try (Tap a = Tap.open(TapHandle.createInNamespace(ns.path(), "nvw0", TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE));
                 Tap b = Tap.open(TapHandle.createInNamespace(ns.path(), "nvw1", TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE))) {
                TestBridge.join(ns, List.of("nvw0", "nvw1"));
                MemorySegment hdr = arena.allocate(VirtioNetHdr.SIZE);
                MemorySegment frame = arena.allocate(64);
                TestBridge.broadcast(frame, 0);
                MemorySegment rxHdr = arena.allocate(VirtioNetHdr.SIZE);
                MemorySegment rx = arena.allocate(2048);
                while (b.readLength(rxHdr, rx) >= 0) {
                    // drain
                }

                // Ping-pong: the test sends one frame, the waiter waits for it, reads it, says so.
                Semaphore got = new Semaphore(0);
                AtomicLong waits = new AtomicLong();
                AtomicReference<Throwable> failure = new AtomicReference<>();
                VirtualWait vw = new VirtualWait(arena, b.fd(), "test waiter on nvw1");
                Thread waiter = Thread.ofPlatform().name("vw-waiter").start(() -> {
                    try {
                        while (true) {
                            long r = vw.await(true, Timeouts.FOREVER);
                            if (r == Tap.CLOSED) {
                                return;
                            }
                            if (r != Tap.READY) {
                                throw new AssertionError("wait: " + Tap.describe(r));
                            }
                            waits.incrementAndGet();
                            while (b.readLength(rxHdr, rx) >= 0) {
                                got.release();
                            }
                        }
                    } catch (Throwable t) {
                        failure.set(t);
                        got.release(1_000_000);
                    }
                });
                try {
                    pingPong(a, hdr, frame, got, 100); // starts the poller
                    Thread poller = Thread.getAllStackTraces().keySet().stream()
                            .filter(t -> t.getName().equals("nettap-poller")).findFirst().orElseThrow();
                    StringBuilder seen = new StringBuilder();
                    boolean steady = false;
                    for (int w = 0; w < 25 && !steady; w++) {
                        long waits0 = waits.get();
                        long p0 = AllocationProbe.allocatedBytes(poller);
                        long w0 = AllocationProbe.allocatedBytes(waiter);
                        pingPong(a, hdr, frame, got, 5_000);
                        long p = AllocationProbe.allocatedBytes(poller) - p0;
                        long wb = AllocationProbe.allocatedBytes(waiter) - w0;
                        long n = waits.get() - waits0;
                        seen.append("poller ").append(p).append(" B, waiter ").append(wb).append(" B over ")
                                .append(n).append(" wakes; ");
                        steady = n > 0 && p < n && wb < n;
                    }
                    if (failure.get() != null) {
                        throw new AssertionError("the waiter failed", failure.get());
                    }
                    assertTrue(steady, "the wait path never reached 0 B/wake: " + seen);
                } finally {
                    vw.close(); // the waiter returns CLOSED; before the Tap closes its fd
                    waiter.join(30_000);
                }
                assertEquals(false, waiter.isAlive());
            }
        }
    }

    private static void pingPong(Tap a, MemorySegment hdr, MemorySegment frame, Semaphore got, int frames)
            throws InterruptedException {
        for (int i = 0; i < frames; i++) {
            assertEquals(64, a.write(hdr, frame, 64));
            assertTrue(got.tryAcquire(30, TimeUnit.SECONDS), "the virtual waiter did not get frame " + i);
        }
    }
}
