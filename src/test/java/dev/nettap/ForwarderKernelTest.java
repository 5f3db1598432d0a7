package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.tool.ScratchNamespace;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link Forwarder} against the kernel: two scratch namespaces, one TAP each, one forwarder (one
 * thread, both directions) or two one-way forwarders (a thread each), {@code ping} through them. It keeps running while the peer's link is down (frames it
 * cannot deliver are counted as dropped) and forwards again once the link is back; it reports a
 * deleted device as its outcome; {@link Forwarder#stop()}, an interrupt and a close end it.
 */
@KernelAccess
class ForwarderKernelTest {
    private ScratchNamespace a;
    private ScratchNamespace b;
    private Tap ta;
    private Tap tb;
    private final List<Thread> threads = new ArrayList<>();
    private Map<Integer, String> fdsBefore;

    @BeforeEach
    void twoNamespaces() throws IOException {
        a = ScratchNamespace.create("nettap-fw");
        b = ScratchNamespace.create("nettap-fw");
        fdsBefore = KernelFixtures.openFds(); // after the first temporary file (the JDK keeps its seed source open)
        for (ScratchNamespace ns : List.of(a, b)) {
            ns.ip("tuntap", "add", "dev", "fw0", "mode", "tap", "vnet_hdr");
            ns.ip("link", "set", "fw0", "up");
        }
        a.ip("addr", "add", "10.84.0.1/24", "dev", "fw0");
        b.ip("addr", "add", "10.84.0.2/24", "dev", "fw0");
        ta = Tap.open(TapHandle.createInNamespace(a.path(), "fw0", TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE));
        tb = Tap.open(TapHandle.createInNamespace(b.path(), "fw0", TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE));
    }

    @AfterEach
    void cleanUp() throws Exception {
        try {
            if (ta != null) {
                ta.close(); // wakes a waiting forwarder: it returns CLOSED
            }
            if (tb != null) {
                tb.close();
            }
            for (Thread t : threads) {
                t.join(10_000);
                assertTrue(!t.isAlive(), t + " still runs after its Taps were closed");
            }
        } finally {
            if (a != null) {
                a.close();
            }
            if (b != null) {
                b.close();
            }
        }
        KernelFixtures.assertNoLeakSettled(fdsBefore);
    }

    private CompletableFuture<Forwarder.Outcome> start(Forwarder f) {
        CompletableFuture<Forwarder.Outcome> outcome = new CompletableFuture<>();
        threads.add(Thread.ofPlatform().name("test-" + f).start(() -> {
            try {
                outcome.complete(f.forward());
            } catch (Throwable e) {
                outcome.completeExceptionally(e);
            }
        }));
        return outcome;
    }

    private boolean ping() throws IOException {
        return a.exec("ping", "-c", "2", "-i", "0.2", "-W", "2", "10.84.0.2").exitCode() == 0;
    }

    @Test
    void survivesThePeerLinkGoingDownAndUpAndReportsADeletedDevice() throws Exception {
        Forwarder f = new Forwarder(ta, tb);
        CompletableFuture<Forwarder.Outcome> done = start(f);
        assertTrue(ping(), "ping through the forwarder");
        assertTrue(f.aToB().frames() > 0 && f.bToA().frames() > 0, "frames counted both ways");

        b.ip("link", "set", "fw0", "down");
        assertTrue(!ping(), "ping with the peer's link down");
        assertTrue(f.aToB().dropped() > 0, "frames for a device whose link is down are counted as dropped");
        assertNull(f.outcome(), "the forwarder keeps running while the link is down");

        b.ip("link", "set", "fw0", "up");
        assertTrue(ping(), "ping once the link is back up");
        assertEquals(0, f.malformed() + f.errors());

        b.ip("link", "del", "fw0");
        assertEquals(Forwarder.Outcome.DEVICE_GONE, done.get(10, TimeUnit.SECONDS));
        assertSame(tb, f.gone(), "the deleted device is named");
    }

    @Test
    void stopEndsTheLoopPromptlyAndACloseToo() throws Exception {
        Forwarder f = new Forwarder(ta, tb);
        CompletableFuture<Forwarder.Outcome> done = start(f);
        assertTrue(ping(), "ping through the forwarder");
        f.stop(); // wakes the selector: no polling interval to wait out
        assertEquals(Forwarder.Outcome.STOPPED, done.get(10, TimeUnit.SECONDS));
        assertEquals(Forwarder.Outcome.STOPPED, f.outcome());
        assertThrows(IllegalStateException.class, f::forward, "a forwarder runs once");
        assertThrows(IllegalArgumentException.class, () -> new Forwarder(ta, ta));

        Forwarder g = new Forwarder(tb, ta); // the Taps are free again: a new forwarder may serve them
        CompletableFuture<Forwarder.Outcome> gDone = start(g);
        assertTrue(ping(), "ping through the second forwarder");
        tb.close(); // the loop waits in select: the close wakes it
        assertEquals(Forwarder.Outcome.CLOSED, gDone.get(10, TimeUnit.SECONDS));
        assertNull(g.gone());
    }

    @Test
    void anInterruptStopsTheLoopAndKeepsTheFlag() throws Exception {
        Forwarder f = new Forwarder(ta, tb);
        java.util.concurrent.atomic.AtomicBoolean flag = new java.util.concurrent.atomic.AtomicBoolean();
        CompletableFuture<Forwarder.Outcome> done = new CompletableFuture<>();
        Thread t = Thread.ofPlatform().start(() -> {
            done.complete(f.forward());
            flag.set(Thread.currentThread().isInterrupted());
        });
        threads.add(t);
        t.interrupt(); // before or during the select: either way the loop ends
        assertEquals(Forwarder.Outcome.STOPPED, done.get(10, TimeUnit.SECONDS));
        t.join(10_000);
        assertTrue(flag.get(), "the interrupt flag stays set");
    }

    @Test
    void twoOneWayForwardersCarryEachItsOwnDirectionAndBothSeeADeletedDevice() throws Exception {
        Forwarder there = Forwarder.oneWay(ta, tb);
        Forwarder back = Forwarder.oneWay(tb, ta);
        assertTrue(!there.bothWays() && new Forwarder(ta, tb).bothWays());
        CompletableFuture<Forwarder.Outcome> thereDone = start(there);
        CompletableFuture<Forwarder.Outcome> backDone = start(back);
        assertTrue(ping(), "ping through two one-way forwarders");
        assertTrue(there.aToB().frames() > 0 && back.aToB().frames() > 0, "each carried its own direction");
        assertEquals(0, there.bToA().frames() + back.bToA().frames(), "a one-way forwarder counts nothing backwards");
        assertEquals(0, there.malformed() + there.errors() + back.malformed() + back.errors());

        // No frame moves now (IPv6 off in both namespaces: no router solicitations, no MLD; no
        // neighbour entries: no ARP probe a few seconds after the ping), so the forwarder that only
        // writes tb learns of its deletion from the selector (tb is watched for that alone), not
        // from a failed write: it reads nothing from ta after the deletion.
        for (ScratchNamespace ns : List.of(a, b)) {
            TestBridge.quiet(ns);
            ns.ip("neigh", "flush", "all");
        }
        Thread.sleep(300); // let frames already on their way cross before the deletion
        long readBefore = ta.statistics().reads().frames();
        b.ip("link", "del", "fw0");
        assertEquals(Forwarder.Outcome.DEVICE_GONE, thereDone.get(10, TimeUnit.SECONDS));
        assertEquals(Forwarder.Outcome.DEVICE_GONE, backDone.get(10, TimeUnit.SECONDS));
        assertSame(tb, there.gone());
        assertSame(tb, back.gone());
        assertEquals(readBefore, ta.statistics().reads().frames(),
                "the write-only side read a frame after the deletion: this test no longer shows the selector's report");
    }

    @Test
    void aOneWayForwarderEndsWhenItsDestinationIsClosed() throws Exception {
        Forwarder there = Forwarder.oneWay(ta, tb);
        CompletableFuture<Forwarder.Outcome> done = start(there);
        // Wait until it selects (a ping's frames crossed), then close the Tap it only writes.
        a.exec("ping", "-c", "1", "-W", "1", "10.84.0.2"); // no reply: nothing forwards back
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (there.aToB().frames() == 0 && System.nanoTime() < end) {
            Thread.sleep(10);
        }
        assertTrue(there.aToB().frames() > 0, "the request crossed");
        tb.close();
        assertEquals(Forwarder.Outcome.CLOSED, done.get(10, TimeUnit.SECONDS));
    }
}
