package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.tool.ScratchNamespace;
import dev.nettap.vnet.VirtioNetHdr;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link TapSelector}, and the length-taking frame calls, against the kernel. Readiness comes from
 * frames the test writes into a bridge of TAPs (IPv6 off: nothing else talks), non-readiness from
 * a TAP whose link is down. Waits that must end are bounded by the class timeout, never asserted
 * on by duration.
 */
@KernelAccess
@Timeout(180)
class TapSelectorKernelTest {
    private static final Duration FOREVER = ChronoUnit.FOREVER.getDuration();
    private ScratchNamespace ns;
    private Arena arena;
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @BeforeEach
    void setUp() throws IOException {
        ns = ScratchNamespace.create("nettap-sel");
        TestBridge.quiet(ns); // no IPv6 chatter on the bridge
        arena = Arena.ofShared();
    }

    @AfterEach
    void tearDown() throws Exception {
        try {
            for (int i = toClose.size() - 1; i >= 0; i--) {
                toClose.get(i).close();
            }
            arena.close();
        } finally {
            ns.close();
        }
    }

    private Tap open(String name) throws TapException {
        Tap t = Tap.open(TapHandle.createInNamespace(ns.path(), name, TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE));
        toClose.add(t);
        return t;
    }

    private TapSelector selector() throws TapException {
        TapSelector s = TapSelector.open();
        toClose.add(s);
        return s;
    }

    /** TAPs as ports of one bridge, all forwarding: a broadcast written to one is read from every other. */
    private Tap[] bridged(String... names) throws Exception {
        Tap[] taps = new Tap[names.length];
        for (int i = 0; i < names.length; i++) {
            taps[i] = open(names[i]);
        }
        TestBridge.join(ns, List.of(names));
        return taps;
    }

    private static void broadcast(MemorySegment frame, int tag) {
        TestBridge.broadcast(frame, tag);
    }

    private MemorySegment hdr() {
        return arena.allocate(VirtioNetHdr.SIZE);
    }

    /** The target fds registered in an epoll fd, from {@code /proc/self/fdinfo}. */
    private static List<Integer> registered(int epfd) throws IOException {
        List<Integer> fds = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/fdinfo/" + epfd))) {
            if (line.startsWith("tfd:")) {
                fds.add(Integer.parseInt(line.substring(4).trim().split("\\s+")[0]));
            }
        }
        return fds;
    }

    private static void drain(Tap tap, MemorySegment hdr, MemorySegment buf) {
        for (int i = 0; i < 1000 && tap.readLength(hdr, buf) >= 0; i++) {
            // discard
        }
    }

    // ---- readiness ----------------------------------------------------------------------------

    @Test
    void reportsWhichOfSeveralTapsAreReadableAndTimesOutOnNone() throws Exception {
        Tap[] t = bridged("nse0", "nse1", "nse2");
        Tap down = open("nse3"); // link down: never readable, never writable
        TapSelector sel = selector();
        int k0 = sel.register(t[0], TapSelector.READABLE);
        int k1 = sel.register(t[1], TapSelector.READABLE);
        int k2 = sel.register(t[2], TapSelector.READABLE);
        int kd = sel.register(down, TapSelector.READABLE | TapSelector.WRITABLE);
        assertEquals(4, List.of(k0, k1, k2, kd).stream().distinct().count(), "keys are distinct");
        assertSame(t[1], sel.tap(k1));
        assertThrows(IllegalArgumentException.class, () -> sel.register(t[1], TapSelector.READABLE), "twice");
        assertThrows(IllegalArgumentException.class, () -> sel.register(t[1], 4), "GONE is not an interest");

        MemorySegment h = hdr();
        MemorySegment f = arena.allocate(2048);
        for (Tap tap : t) {
            drain(tap, h, f);
        }
        broadcast(f, 7);
        assertEquals(60, t[0].write(h, f, 60), "a 60-byte frame written from a 2048-byte buffer by length");

        boolean seen1 = false, seen2 = false;
        for (int round = 0; round < 100 && !(seen1 && seen2); round++) {
            int n = sel.select(Duration.ofSeconds(10));
            assertTrue(n > 0, "a select with frames waiting returned " + Tap.describe(n));
            for (int i = 0; i < n; i++) {
                int key = sel.readyKey(i);
                assertTrue(key != kd, "the link-down TAP was reported ready: ops " + sel.readyOps(i));
                assertEquals(TapSelector.READABLE, sel.readyOps(i));
                if (key == k1 || key == k2) {
                    Tap r = sel.tap(key);
                    long len = r.readLength(h, f);
                    assertEquals(60, len, "the frame's length");
                    assertEquals(7, f.get(ValueLayout.JAVA_INT_UNALIGNED, 14));
                    seen1 |= key == k1;
                    seen2 |= key == k2;
                }
            }
        }
        assertTrue(seen1 && seen2, "both other ports were reported readable");
        assertThrows(IndexOutOfBoundsException.class, () -> sel.readyKey(TapSelector.MAX_READY));

        // Only the link-down TAP left: nothing is ready, and a timeout ends the wait.
        sel.cancel(k0);
        sel.cancel(k1);
        sel.cancel(k2);
        assertThrows(IllegalArgumentException.class, () -> sel.cancel(k0), "a cancelled key");
        assertNull(sel.tap(k0));
        assertEquals(0, sel.select(Duration.ofMillis(30)), "timeout");
        assertEquals(0, sel.select(Duration.ZERO), "no wait");

        // Writability: a link-up port is writable; interest can change without re-registering.
        int kw = sel.register(t[1], TapSelector.WRITABLE);
        int n = sel.select(Duration.ofSeconds(10));
        assertEquals(1, n, "only the link-up TAP is writable");
        assertEquals(kw, sel.readyKey(0));
        assertEquals(TapSelector.WRITABLE, sel.readyOps(0));
        assertTrue(sel.interest(kw, 0));
        assertEquals(0, sel.select(Duration.ofMillis(30)), "no interest: nothing reported");
        assertEquals(List.of(down.fd(), t[1].fd()).stream().sorted().toList(),
                registered(sel.epfd()).stream().filter(fd -> fd != wakeFdOf(sel)).sorted().toList());
    }

    /** The one registered fd that is not a Tap's: the selector's eventfd. */
    private static int wakeFdOf(TapSelector sel) {
        try {
            for (int fd : registered(sel.epfd())) {
                if (Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString().contains("eventfd")) {
                    return fd;
                }
            }
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        throw new AssertionError("the selector's eventfd is not registered");
    }

    @Test
    void aVirtualThreadSelectsWithoutBlockingInTheKernel() throws Exception {
        Tap[] t = bridged("nsv0", "nsv1");
        TapSelector sel = selector();
        int k1 = sel.register(t[1], TapSelector.READABLE);
        MemorySegment h = hdr();
        MemorySegment f = arena.allocate(2048);
        drain(t[1], h, f);
        CompletableFuture<Integer> got = new CompletableFuture<>();
        Thread v = Thread.ofVirtual().start(() -> {
            int n = sel.select(FOREVER);
            got.complete(n > 0 ? sel.readyKey(0) * 16 + sel.readyOps(0) : n);
        });
        awaitParked(v);
        broadcast(f, 9);
        assertEquals(60, t[0].write(h, f, 60));
        assertEquals(k1 * 16 + TapSelector.READABLE, got.get(30, TimeUnit.SECONDS));
        v.join();
    }

    private static void awaitParked(Thread t) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (t.getState() != Thread.State.WAITING && t.getState() != Thread.State.TIMED_WAITING) {
            assertTrue(System.nanoTime() < end, "the selecting thread never waited");
            Thread.sleep(5);
        }
    }

    /**
     * Returns once a platform thread is inside {@code select}, in (or entering) {@code epoll_wait}.
     * Read from its stack: selecting from this thread to probe would take the selecting role itself,
     * and on a slow machine the other thread would then be the one refused.
     */
    private static void awaitSelecting(TapSelector sel, Thread t) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!java.util.Arrays.stream(t.getStackTrace())
                .anyMatch(e -> e.getClassName().endsWith(".PollCalls") && e.getMethodName().equals("epollWait"))) {
            assertTrue(t.isAlive(), "the selecting thread ended before it waited");
            assertTrue(System.nanoTime() < end, "the selecting thread never selected");
            Thread.sleep(5);
        }
    }

    // ---- close, wakeup, interrupt ------------------------------------------------------------

    @Test
    void aMemberClosedDuringTheWaitLeavesTheSetBeforeItsFdCloses() throws Exception {
        Tap a = open("nsc0");
        Tap b = open("nsc1");
        TapSelector sel = selector();
        int ka = sel.register(a, TapSelector.READABLE);
        sel.register(b, TapSelector.READABLE);
        int fdA = a.fd();
        CompletableFuture<long[]> got = new CompletableFuture<>();
        Thread t = Thread.ofPlatform().start(() -> {
            int n = sel.select(FOREVER);
            got.complete(n > 0 ? new long[] {n, sel.readyKey(0), sel.readyOps(0)} : new long[] {n});
        });
        awaitSelecting(sel, t);
        a.close();
        long[] r = got.get(30, TimeUnit.SECONDS);
        assertEquals(3, r.length, "select returned " + Tap.describe(r[0]));
        assertEquals(1, r[0]);
        assertEquals(ka, r[1]);
        assertEquals(TapSelector.CLOSED, r[2]);
        assertNull(sel.tap(ka), "a reported close cancels the key");
        assertFalse(registered(sel.epfd()).contains(fdA), "the closed Tap's fd left the epoll set");

        // The fd number is free; a new Tap may get it, and must not be confused with the old one.
        Tap c = open("nsc2");
        int kc = sel.register(c, TapSelector.READABLE);
        assertEquals(0, sel.select(Duration.ofMillis(30)), "the new member (link down) is not ready");
        assertTrue(registered(sel.epfd()).contains(c.fd()));
        c.close();
        int n = sel.select(Duration.ofSeconds(10));
        assertEquals(1, n);
        assertEquals(kc, sel.readyKey(0));
        assertEquals(TapSelector.CLOSED, sel.readyOps(0));
        assertThrows(IllegalStateException.class, () -> sel.register(c, TapSelector.READABLE), "a closed Tap");
        t.join(10_000);
    }

    @Test
    void closingTheSelectorFromAnotherThreadWakesTheWaiterAndLeavesTheTapsOpen() throws Exception {
        Tap a = open("nsx0");
        for (boolean virtual : new boolean[] {false, true}) {
            TapSelector sel = TapSelector.open();
            sel.register(a, TapSelector.READABLE);
            AtomicLong result = new AtomicLong(99);
            Runnable body = () -> result.set(sel.select(FOREVER));
            Thread t = virtual ? Thread.ofVirtual().start(body) : Thread.ofPlatform().start(body);
            if (virtual) {
                awaitParked(t);
            } else {
                awaitSelecting(sel, t);
            }
            sel.close();
            t.join(30_000);
            assertFalse(t.isAlive(), "the waiter did not wake");
            assertEquals(Tap.CLOSED, result.get(), virtual ? "virtual" : "platform");
            assertFalse(sel.isOpen());
            assertThrows(IllegalStateException.class, () -> sel.select(Duration.ZERO));
            assertThrows(IllegalStateException.class, () -> sel.register(a, TapSelector.READABLE));
            sel.wakeup(); // no effect, no exception
            sel.close(); // idempotent
            assertFalse(a.isClosed(), "a selector never closes a Tap");
        }
        a.close(); // the closed selectors' hooks are gone: nothing to tell
    }

    @Test
    void wakeupEndsASelectAndAnEarlierWakeupTheNextOne() throws Exception {
        Tap a = open("nsw0");
        TapSelector sel = selector();
        sel.register(a, TapSelector.READABLE);
        sel.wakeup();
        assertEquals(0, sel.select(FOREVER), "a wakeup before the select ends it at once");
        AtomicLong result = new AtomicLong(99);
        Thread t = Thread.ofPlatform().start(() -> result.set(sel.select(FOREVER)));
        awaitSelecting(sel, t);
        sel.wakeup();
        t.join(30_000);
        assertFalse(t.isAlive());
        assertEquals(0, result.get());
        assertEquals(0, sel.select(Duration.ofMillis(20)), "the wakeup was consumed");
    }

    @Test
    void anInterruptEndsTheSelectWithInterruptedAndKeepsTheFlag() throws Exception {
        Tap a = open("nsi0");
        TapSelector sel = selector();
        sel.register(a, TapSelector.READABLE);
        for (boolean virtual : new boolean[] {false, true}) {
            AtomicLong result = new AtomicLong(99), early = new AtomicLong(99), after = new AtomicLong(99);
            AtomicBoolean flag = new AtomicBoolean();
            Runnable body = () -> {
                result.set(sel.select(FOREVER));
                flag.set(Thread.currentThread().isInterrupted());
                early.set(sel.select(Duration.ofSeconds(30))); // still interrupted: at once
                Thread.interrupted();
                after.set(sel.select(Duration.ofMillis(20))); // the next select works
            };
            Thread t = virtual ? Thread.ofVirtual().start(body) : Thread.ofPlatform().start(body);
            if (virtual) {
                awaitParked(t);
            } else {
                awaitSelecting(sel, t);
            }
            t.interrupt();
            t.join(30_000);
            assertFalse(t.isAlive(), "the selecting thread ignored the interrupt");
            String kind = virtual ? "virtual" : "platform";
            assertEquals(Tap.INTERRUPTED, result.get(), kind);
            assertTrue(flag.get(), "the interrupt flag stays set");
            assertEquals(Tap.INTERRUPTED, early.get(), kind);
            assertEquals(0, after.get(), kind);
        }
    }

    @Test
    void manyRegisterCancelAndCloseCyclesLeakNoFd() throws Exception {
        Tap a = open("nsl0");
        Map<Integer, String> before = KernelFixtures.openFds();
        TapSelector sel = TapSelector.open();
        for (int i = 0; i < 500; i++) {
            int k = sel.register(a, TapSelector.READABLE);
            sel.cancel(k);
        }
        assertEquals(1, registered(sel.epfd()).size(), "only the eventfd after every cancel");
        for (int i = 0; i < 30; i++) { // Taps closed while registered: each is reported and leaves the set
            Tap t = Tap.open(TapHandle.createInNamespace(ns.path(), "nsl1", TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE));
            int k = sel.register(t, TapSelector.READABLE);
            t.close();
            assertEquals(1, sel.select(Duration.ofSeconds(10)));
            assertEquals(k, sel.readyKey(0));
            assertEquals(TapSelector.CLOSED, sel.readyOps(0));
        }
        assertEquals(1, registered(sel.epfd()).size(), "only the eventfd after every member closed");
        sel.close();
        for (int i = 0; i < 200; i++) {
            try (TapSelector s = TapSelector.open()) {
                s.register(a, TapSelector.READABLE | TapSelector.WRITABLE);
            }
        }
        KernelFixtures.assertNoLeakSettled(before);
        assertFalse(a.isClosed());
    }

    // ---- lengths ------------------------------------------------------------------------------

    @Test
    void writeByLengthIsValidatedAndReadLengthGivesTheLengthOfAFullBuffer() throws Exception {
        Tap[] t = bridged("nsn0", "nsn1");
        MemorySegment h = hdr();
        MemorySegment f = arena.allocate(2048);
        drain(t[1], h, f);
        broadcast(f, 3);
        IllegalArgumentException neg = assertThrows(IllegalArgumentException.class, () -> t[0].write(h, f, -1));
        assertTrue(neg.getMessage().contains("length -1") && neg.getMessage().contains("2048"), neg.getMessage());
        IllegalArgumentException big = assertThrows(IllegalArgumentException.class, () -> t[0].write(h, f, 2049));
        assertTrue(big.getMessage().contains("length 2049"), big.getMessage());
        assertThrows(IllegalArgumentException.class, () -> t[0].write(h, MemorySegment.ofArray(new byte[60]), 60),
                "a heap segment");
        assertEquals(0, t[0].statistics().writes().frames(), "a refused call writes nothing");

        TapSelector sel = selector();
        sel.register(t[1], TapSelector.READABLE);
        MemorySegment exact = arena.allocate(60);
        for (boolean lengthCall : new boolean[] {true, false}) {
            assertEquals(60, t[0].write(h, f, 60));
            assertEquals(1, sel.select(Duration.ofSeconds(10)));
            long r = lengthCall ? t[1].readLength(h, exact) : t[1].read(h, exact);
            if (lengthCall) {
                assertEquals(60, r, "readLength: the length, also when it filled the buffer");
            } else {
                assertEquals(Tap.POSSIBLY_TRUNCATED, r, "read: the same full buffer is POSSIBLY_TRUNCATED");
            }
            assertEquals(3, exact.get(ValueLayout.JAVA_INT_UNALIGNED, 14));
        }
        assertEquals(2, t[1].statistics().reads().truncated(), "both full reads are counted");
        assertEquals(Tap.WOULD_BLOCK, t[1].readLength(h, exact));
        assertEquals(Tap.MALFORMED, t[0].write(h, f, 0), "a zero-length frame is the kernel's to refuse (EINVAL)");
    }

    @Test
    void aDeletedDeviceIsReportedGoneWhateverTheInterest() throws Exception {
        // Interest 0 (only GONE and CLOSED), WRITABLE only, READABLE: each must see the deletion.
        // tun's wake-up on deletion carries no EPOLLOUT, and epoll drops a wake-up that shares no
        // bit with the registered events: the selector registers EPOLLPRI for this.
        for (int interest : new int[] {0, TapSelector.WRITABLE, TapSelector.READABLE}) {
            String name = "nsg" + interest;
            Tap t = open(name);
            ns.ip("link", "set", name, "up");
            TapSelector sel = selector();
            int key = sel.register(t, interest);
            if (interest == TapSelector.WRITABLE) {
                // A TAP that is up is writable at once: take that report first, then wait for 0.
                sel.interest(key, 0);
            }
            assertEquals(0, sel.select(Duration.ofMillis(50)), "nothing to report before the deletion");
            ns.ip("link", "del", name);
            int n = sel.select(Duration.ofSeconds(10));
            assertEquals(1, n, "interest " + interest + ": the deletion was reported (" + Tap.describe(n) + ")");
            assertEquals(key, sel.readyKey(0));
            assertTrue((sel.readyOps(0) & TapSelector.GONE) != 0, "interest " + interest + ": ops " + sel.readyOps(0));
        }
    }
}
