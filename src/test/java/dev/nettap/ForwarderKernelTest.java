package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
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
 * {@link Forwarder} against the kernel: two scratch namespaces, one TAP each, a forwarder per
 * direction, {@code ping} through them. It keeps running while the peer's link is down (frames it
 * cannot deliver are counted as dropped) and forwards again once the link is back; it reports a
 * deleted device as its outcome; {@link Forwarder#stop()} and a close end it.
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
        Forwarder ab = new Forwarder(ta, tb);
        Forwarder ba = new Forwarder(tb, ta);
        CompletableFuture<Forwarder.Outcome> abDone = start(ab);
        CompletableFuture<Forwarder.Outcome> baDone = start(ba);
        assertTrue(ping(), "ping through the forwarders");
        assertTrue(ab.frames() > 0 && ba.frames() > 0, "frames counted both ways");

        b.ip("link", "set", "fw0", "down");
        assertTrue(!ping(), "ping with the peer's link down");
        assertTrue(ab.dropped() > 0, "frames for a device whose link is down are counted as dropped");
        assertNull(ab.outcome(), "the forwarder keeps running while the link is down");
        assertNull(ba.outcome());

        b.ip("link", "set", "fw0", "up");
        assertTrue(ping(), "ping once the link is back up");
        assertEquals(0, ab.malformed() + ba.malformed());

        b.ip("link", "del", "fw0");
        assertEquals(Forwarder.Outcome.DESTINATION_GONE, abDone.get(10, TimeUnit.SECONDS));
        assertEquals(Forwarder.Outcome.SOURCE_GONE, baDone.get(10, TimeUnit.SECONDS));
    }

    @Test
    void stopEndsTheLoopAndACloseToo() throws Exception {
        Forwarder ab = new Forwarder(ta, tb);
        Forwarder ba = new Forwarder(tb, ta);
        CompletableFuture<Forwarder.Outcome> abDone = start(ab);
        CompletableFuture<Forwarder.Outcome> baDone = start(ba);
        ab.stop();
        assertEquals(Forwarder.Outcome.STOPPED, abDone.get(10, TimeUnit.SECONDS));
        assertEquals(Forwarder.Outcome.STOPPED, ab.outcome());
        assertThrows(IllegalStateException.class, ab::forward, "a forwarder runs once");
        tb.close(); // the reader of tb is waiting in awaitReadable: the close wakes it
        assertEquals(Forwarder.Outcome.CLOSED, baDone.get(10, TimeUnit.SECONDS));
        assertThrows(IllegalArgumentException.class, () -> new Forwarder(ta, ta));
    }
}
