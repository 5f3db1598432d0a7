package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Sys;
import dev.nettap.internal.sys.SocketCalls;
import dev.nettap.internal.sys.PollCalls;
import dev.nettap.internal.sys.FileCalls;
import dev.nettap.tool.ScratchNamespace;
import dev.nettap.vnet.VirtioNetHdr;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.ReadPendingException;
import java.nio.channels.WritePendingException;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The {@link Tap} contract enforced against the real kernel: one reader and one writer, caller
 * memory kept alive under the kernel, every errno a status, waits of any length that honour
 * interrupts, and a poller that survives failures.
 */
@KernelAccess
@Timeout(180)
class TapContractKernelTest {
    private ScratchNamespace ns;
    private Arena arena;

    @BeforeEach
    void setUp() throws IOException {
        ns = ScratchNamespace.create("nettap-ct");
        TestBridge.quiet(ns); // no IPv6 chatter on the bridge
        arena = Arena.ofShared();
    }

    @AfterEach
    void tearDown() {
        try {
            arena.close();
        } finally {
            ns.close();
        }
    }

    private Tap open(String name) throws TapException {
        return Tap.open(TapHandle.createInNamespace(ns.path(), name, TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE));
    }

    /** Two TAPs in a bridge, ports forwarding: a broadcast written to the first is read from the second. */
    private Tap[] bridged(String a, String b) throws Exception {
        Tap ta = open(a);
        Tap tb = open(b);
        TestBridge.join(ns, List.of(a, b));
        return new Tap[] {ta, tb};
    }

    private static void broadcast(MemorySegment frame, int tag) {
        TestBridge.broadcast(frame, tag);
    }

    private MemorySegment hdr() {
        return arena.allocate(VirtioNetHdr.SIZE);
    }

    // ---- one reader, one writer ---------------------------------------------------------------

    @Test
    @SuppressWarnings("try") // closed inside the try on purpose: the waiter must see close()
    void aSecondConcurrentReaderOrWriterGetsAnImmediateClearException() throws Exception {
        try (Tap tap = open("ntc0")) { // link down: reads find nothing, writes get LINK_DOWN
            for (boolean reading : new boolean[] {true, false}) {
                AtomicBoolean stop = new AtomicBoolean();
                ConcurrentLinkedQueue<Object> odd = new ConcurrentLinkedQueue<>();
                AtomicLong pending = new AtomicLong();
                Runnable loop = () -> {
                    MemorySegment h = hdr();
                    MemorySegment f = arena.allocate(2048);
                    broadcast(f, 1);
                    while (!stop.get()) {
                        try {
                            long r = reading ? tap.read(h, f) : tap.write(h, f.asSlice(0, 60));
                            if (r != (reading ? Tap.WOULD_BLOCK : Tap.LINK_DOWN)) {
                                odd.add(r);
                            }
                        } catch (ReadPendingException | WritePendingException e) {
                            pending.incrementAndGet();
                            if (!e.getMessage().contains(reading ? "another thread is reading" : "another thread is writing")
                                    || reading != e instanceof ReadPendingException) {
                                odd.add(e);
                            }
                        } catch (Throwable t) {
                            odd.add(t);
                        }
                    }
                };
                Thread t1 = Thread.ofPlatform().start(loop);
                Thread t2 = Thread.ofPlatform().start(loop);
                long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (pending.get() == 0 && System.nanoTime() < end) { // until the two overlap once
                    Thread.sleep(5);
                }
                stop.set(true);
                t1.join(10_000);
                t2.join(10_000);
                assertTrue(pending.get() > 0, "two " + (reading ? "readers" : "writers") + " overlapped without an exception");
                assertTrue(odd.isEmpty(), "every other call returned its normal status: " + odd);
            }
            // The platform waiter's role, deterministically: one waits (forever), a second is refused.
            AtomicLong first = new AtomicLong(99);
            Thread waiter = Thread.ofPlatform().start(() -> first.set(tap.awaitReadable(Duration.ofSeconds(-1))));
            ReadPendingException refused = null;
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (refused == null && System.nanoTime() < end) {
                try {
                    tap.awaitReadable(Duration.ZERO);
                    Thread.sleep(5); // the waiter is not inside yet
                } catch (ReadPendingException e) {
                    refused = e;
                }
            }
            assertTrue(refused != null && refused.getMessage().contains("waiting to read"), String.valueOf(refused));
            assertEquals(Tap.TIMEOUT, tap.awaitWritable(Duration.ZERO), "the other direction is not blocked by it");
            tap.close();
            waiter.join(10_000);
            assertEquals(Tap.CLOSED, first.get());
        }
    }

    // ---- memory kept alive --------------------------------------------------------------------

    @Test
    void arenasClosedByAnotherThreadDuringWritesAndReadsNeverFreeMemoryUnderTheKernel() throws Exception {
        Tap[] t = bridged("ntk0", "ntk1");
        try (Tap a = t[0]; Tap b = t[1]) {
            MemorySegment hdrA = hdr(), hdrB = hdr();
            ConcurrentLinkedQueue<Object> odd = new ConcurrentLinkedQueue<>();
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            int rounds = 0;
            while (System.nanoTime() < end) {
                rounds++;
                Arena tx = Arena.ofShared();
                Arena rx = Arena.ofShared();
                MemorySegment frame = tx.allocate(60);
                broadcast(frame, rounds);
                MemorySegment[] parts = {frame.asSlice(0, 14), tx.allocate(20), frame.asSlice(14, 26)};
                MemorySegment buf = rx.allocate(2048);
                MemorySegment[] bufs = {rx.allocate(14), rx.allocate(2048)};
                CountDownLatch go = new CountDownLatch(1);
                Thread closer = Thread.ofPlatform().start(() -> {
                    try {
                        go.await();
                    } catch (InterruptedException e) {
                        return;
                    }
                    for (Arena victim : new Arena[] {tx, rx}) {
                        while (true) { // a tight loop: refused while a call holds the arena
                            try {
                                victim.close();
                                break;
                            } catch (IllegalStateException busy) {
                                Thread.onSpinWait();
                            }
                        }
                    }
                });
                go.countDown();
                for (int i = 0; i < 200; i++) {
                    try {
                        long w = (i & 1) == 0 ? a.write(hdrA, frame) : a.write(hdrA, parts, 3);
                        if (w != 60) {
                            odd.add("write " + w);
                        }
                        long r = (i & 1) == 0 ? b.read(hdrB, buf) : b.read(hdrB, bufs, 2);
                        if (r != Tap.WOULD_BLOCK && r < 60) {
                            odd.add("read " + r);
                        }
                    } catch (IllegalArgumentException closed) {
                        if (!closed.getMessage().contains("closed")) {
                            odd.add(closed);
                        }
                    } catch (Throwable x) {
                        odd.add(x);
                    }
                }
                closer.join(10_000);
                assertFalse(closer.isAlive());
            }
            assertTrue(odd.isEmpty(), "only byte counts, WOULD_BLOCK or a 'closed' IllegalArgumentException: " + odd);
            // Still whole: a frame written now arrives intact.
            MemorySegment frame = arena.allocate(60), buf = arena.allocate(2048);
            broadcast(frame, 0x5a5a5a5a);
            drain(b, hdrB, buf);
            assertEquals(60, a.write(hdrA, frame));
            long end2 = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            long r;
            do {
                b.awaitReadable(Duration.ofMillis(100));
                r = b.read(hdrB, buf);
            } while (r == Tap.WOULD_BLOCK && System.nanoTime() < end2);
            assertEquals(60, r);
            assertEquals(0x5a5a5a5a, buf.get(ValueLayout.JAVA_INT_UNALIGNED, 14));
        }
    }

    private static void drain(Tap tap, MemorySegment hdr, MemorySegment buf) {
        for (int i = 0; i < 10_000 && tap.read(hdr, buf) != Tap.WOULD_BLOCK; i++) {
            // drop
        }
    }

    // ---- every errno a status -----------------------------------------------------------------

    @Test
    void enobufsAndEfaultAreCountedStatusesNotExceptions() throws Exception {
        Tap[] t = bridged("nte0", "nte1");
        try (Tap a = t[0]; Tap b = t[1]) {
            MemorySegment h = hdr();
            MemorySegment huge = arena.allocate(16 << 20);
            broadcast(huge, 1);
            assertEquals(Tap.NO_BUFFER_SPACE, a.write(h, huge), "a 16 MiB frame: ENOBUFS");
            // SAFETY (test): a native segment at an address nobody maps; only the kernel touches it,
            // and it reports EFAULT instead of reading.
            MemorySegment unmapped = MemorySegment.ofAddress(4096).reinterpret(60);
            assertEquals(Tap.BAD_ADDRESS, a.write(h, unmapped), "EFAULT on write");
            MemorySegment frame = arena.allocate(60);
            broadcast(frame, 2);
            MemorySegment buf = arena.allocate(2048);
            drain(b, h, buf);
            assertEquals(60, a.write(h, frame));
            assertEquals(Tap.READY, b.awaitReadable(Duration.ofSeconds(10)));
            // The kernel reports EFAULT on a read only for the header: a fault while copying the frame
            // itself is ignored (tun_put_user returns the full length).
            assertEquals(Tap.BAD_ADDRESS, b.read(MemorySegment.ofAddress(4096).reinterpret(VirtioNetHdr.SIZE), buf),
                    "EFAULT on read");
            TapStatistics st = a.statistics();
            assertEquals(1, st.writes().noBufferSpace());
            assertEquals(1, st.writes().badAddress());
            assertEquals(1, st.writes().frames());
            assertEquals(60, st.writes().bytes());
            assertEquals(1, b.statistics().reads().badAddress());
            assertTrue(Tap.describe(Tap.NO_BUFFER_SPACE).startsWith("NO_BUFFER_SPACE"));
        }
    }

    // ---- waits --------------------------------------------------------------------------------

    @Test
    void waitsTakeAnyDurationOnPlatformAndVirtualThreads() throws Exception {
        Tap tap = open("ntw0"); // link down: neither readable nor writable
        try {
            Duration forever = ChronoUnit.FOREVER.getDuration();
            Duration longest = Duration.ofSeconds(Long.MAX_VALUE, 999_999_999);
            AtomicLong[] results = {new AtomicLong(99), new AtomicLong(99), new AtomicLong(99), new AtomicLong(99)};
            AtomicReference<Throwable> thrown = new AtomicReference<>();
            Thread[] waiters = {
                Thread.ofPlatform().start(() -> run(thrown, () -> results[0].set(tap.awaitReadable(forever)))),
                Thread.ofPlatform().start(() -> run(thrown, () -> results[1].set(tap.awaitWritable(longest)))),
                Thread.ofVirtual().start(() -> run(thrown, () -> results[2].set(tap.awaitReadable(forever)))),
                Thread.ofVirtual().start(() -> run(thrown, () -> results[3].set(tap.awaitWritable(longest)))),
            };
            awaitInside(tap, waiters);
            tap.close();
            for (Thread w : waiters) {
                w.join(10_000);
                assertFalse(w.isAlive());
            }
            assertEquals(null, thrown.get());
            for (AtomicLong r : results) {
                assertEquals(Tap.CLOSED, r.get(), "FOREVER and Long.MAX_VALUE seconds wait until close");
            }
        } finally {
            tap.close();
        }
    }

    /**
     * Returns once the two platform waiters hold their roles (a probe of each direction is refused)
     * and the two virtual ones are parked.
     */
    private static void awaitInside(Tap tap, Thread[] waiters) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        boolean readIn = false, writeIn = false;
        while (!(readIn && writeIn && parked(waiters[2]) && parked(waiters[3]))) {
            assertTrue(System.nanoTime() < end, "the waiters never got inside");
            try {
                tap.awaitReadable(Duration.ZERO);
            } catch (ReadPendingException e) {
                readIn = true;
            }
            try {
                tap.awaitWritable(Duration.ZERO);
            } catch (WritePendingException e) {
                writeIn = true;
            }
            Thread.sleep(5);
        }
    }

    private static boolean parked(Thread t) {
        return t.getState() == Thread.State.WAITING || t.getState() == Thread.State.TIMED_WAITING;
    }

    private static void run(AtomicReference<Throwable> thrown, Runnable r) {
        try {
            r.run();
        } catch (Throwable t) {
            thrown.set(t);
        }
    }

    @Test
    void interruptedWaitsReturnInterruptedOnPlatformAndVirtualThreads() throws Exception {
        try (Tap tap = open("nti0")) {
            for (boolean virtual : new boolean[] {false, true}) {
                AtomicLong result = new AtomicLong(99), after = new AtomicLong(99), early = new AtomicLong(99);
                AtomicBoolean flag = new AtomicBoolean();
                CountDownLatch inside = new CountDownLatch(1);
                Runnable body = () -> {
                    inside.countDown();
                    result.set(tap.awaitReadable(Duration.ofSeconds(-1)));
                    flag.set(Thread.currentThread().isInterrupted());
                    early.set(tap.awaitReadable(Duration.ofSeconds(30))); // still interrupted: at once
                    Thread.interrupted();
                    after.set(tap.awaitReadable(Duration.ofMillis(20))); // the next wait works
                };
                Thread t = virtual ? Thread.ofVirtual().start(body) : Thread.ofPlatform().start(body);
                assertTrue(inside.await(10, TimeUnit.SECONDS));
                t.interrupt(); // before or during the wait: either way the wait reports it
                t.join(10_000);
                assertFalse(t.isAlive(), (virtual ? "virtual" : "platform") + " waiter ignored the interrupt");
                assertEquals(Tap.INTERRUPTED, result.get(), virtual ? "virtual" : "platform");
                assertTrue(flag.get(), "the interrupt flag stays set");
                assertEquals(Tap.INTERRUPTED, early.get());
                assertEquals(Tap.TIMEOUT, after.get());
            }
        }
    }

    // ---- the poller survives ------------------------------------------------------------------

    /** A poller target on an eventfd of its own: arms once, then runs {@code onFire} on the poller thread. */
    private static final class Injected implements Poller.Target {
        final CountDownLatch fired = new CountDownLatch(1);
        final Runnable onFire;

        Injected(Runnable onFire) {
            this.onFire = onFire;
        }

        @Override
        public void fired(int events) {
            fired.countDown();
            onFire.run();
        }

        @Override
        public void pollerFailed() {
        }

        /** Registers {@code efd} with {@code p}, arms it for reading and makes it readable. */
        void trigger(Poller p, int efd, Arena arena) throws TapException {
            long key = Poller.newKey();
            p.register(efd, key, this, "injected eventfd " + efd);
            assertTrue(p.arm(efd, Poller.event(arena, linux_h.EPOLLIN() | linux_h.EPOLLONESHOT(), key),
                    Sys.newErrnoSlot(arena)));
            assertEquals(8, FileCalls.write(Sys.errnoSlot(), efd, arena.allocateFrom(ValueLayout.JAVA_LONG, 1L), 8));
        }
    }

    /** Starts a virtual thread waiting (bounded) to read {@code tap}, and returns once it is parked. */
    private static Thread parkedReader(Tap tap, AtomicLong result) throws InterruptedException {
        Thread t = Thread.ofVirtual().start(() -> result.set(tap.awaitReadable(Duration.ofSeconds(60))));
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (t.getState() != Thread.State.WAITING && t.getState() != Thread.State.TIMED_WAITING) {
            assertTrue(System.nanoTime() < end && t.isAlive(), "the virtual reader never parked");
            Thread.sleep(5);
        }
        return t;
    }

    /**
     * A dead poller's late {@code epoll_ctl} can land in its successor's set (the epfd number is
     * reused): a later register of that fd must take the entry over, not fail with EEXIST forever.
     */
    @Test
    void registerTakesOverAnFdAlreadyInThePollersSet() throws Exception {
        MemorySegment err = Sys.errnoSlot();
        int efd = PollCalls.eventfd(err, 0, linux_h.EFD_CLOEXEC() | linux_h.EFD_NONBLOCK());
        assertTrue(efd >= 0, "eventfd errno " + Sys.errno(err));
        Poller p = Poller.get();
        Injected target = new Injected(() -> { });
        long key = Poller.newKey();
        try (Arena arena = Arena.ofConfined()) {
            // The stale entry: added with a key no target has, disarmed, as a late register would.
            assertEquals(0, PollCalls.epollCtl(err, p.epfd(), linux_h.EPOLL_CTL_ADD(), efd,
                    Poller.event(arena, linux_h.EPOLLONESHOT(), Poller.newKey())));
            p.register(efd, key, target, "eventfd " + efd + " already in the set"); // EEXIST before the fix
            assertTrue(p.arm(efd, Poller.event(arena, linux_h.EPOLLIN() | linux_h.EPOLLONESHOT(), key),
                    Sys.newErrnoSlot(arena)));
            assertEquals(8, FileCalls.write(err, efd, arena.allocateFrom(ValueLayout.JAVA_LONG, 1L), 8));
            assertTrue(target.fired.await(30, TimeUnit.SECONDS), "the event reached the target under the new key");
        } finally {
            p.deregister(efd, key);
            FileCalls.close(err, efd);
        }
    }

    @Test
    void thePollerSurvivesAThrowingWakeUpAndAFailedEpollWait() throws Exception {
        Tap[] t = bridged("ntp0", "ntp1");
        MemorySegment err = Sys.errnoSlot();
        int efd1 = PollCalls.eventfd(err, 0, linux_h.EFD_CLOEXEC() | linux_h.EFD_NONBLOCK());
        int efd2 = PollCalls.eventfd(err, 0, linux_h.EFD_CLOEXEC() | linux_h.EFD_NONBLOCK());
        try (Tap a = t[0]; Tap b = t[1]) {
            MemorySegment h = hdr(), frame = arena.allocate(60), buf = arena.allocate(2048);
            broadcast(frame, 7);
            drain(b, h, buf);

            // 1. A wake-up that throws: the poller goes on serving everyone else.
            AtomicLong first = new AtomicLong(99);
            Thread reader = parkedReader(b, first);
            Poller p = Poller.get();
            Injected boom = new Injected(() -> {
                throw new OutOfMemoryError("injected");
            });
            boom.trigger(p, efd1, arena);
            assertTrue(boom.fired.await(10, TimeUnit.SECONDS));
            assertEquals(60, a.write(h, frame));
            reader.join(30_000);
            assertEquals(Tap.READY, first.get(), "woken by the poller after another target's wake-up threw");
            assertFalse(p.isDead());
            assertSame(p, Poller.get());
            drain(b, h, buf);

            // 2. epoll_wait itself fails (its fd is closed under it): waiters get WAIT_FAILED, not a hang.
            AtomicLong second = new AtomicLong(99);
            reader = parkedReader(b, second);
            Injected breaker = new Injected(() -> FileCalls.close(Sys.errnoSlot(), p.epfd()));
            breaker.trigger(p, efd2, arena);
            reader.join(30_000);
            assertFalse(reader.isAlive());
            assertEquals(Tap.WAIT_FAILED, second.get());
            assertTrue(p.isDead());

            // 3. The next wait works, through a new poller.
            AtomicLong third = new AtomicLong(99);
            reader = parkedReader(b, third);
            assertEquals(60, a.write(h, frame));
            reader.join(30_000);
            assertEquals(Tap.READY, third.get());
            assertNotSame(p, Poller.get());
        } finally {
            FileCalls.close(err, efd1);
            FileCalls.close(err, efd2);
        }
    }

    // ---- FdPassing ----------------------------------------------------------------------------

    @Test
    void sendToAListenerThatNeverAcceptsReturnsWithinItsTimeout() throws Exception {
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("nettap-ct");
        java.nio.file.Path path = dir.resolve("never.sock");
        MemorySegment err = Sys.errnoSlot();
        int listener = -1;
        java.util.List<Integer> clients = new java.util.ArrayList<>();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment addr = dev.nettap.internal.linux.sockaddr_un.allocate(a);
            dev.nettap.internal.linux.sockaddr_un.sun_family(addr, (short) linux_h.AF_UNIX());
            byte[] p = path.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
            MemorySegment.copy(p, 0, dev.nettap.internal.linux.sockaddr_un.sun_path(addr), ValueLayout.JAVA_BYTE, 0, p.length);
            int len = (int) dev.nettap.internal.linux.sockaddr_un.sizeof();
            listener = SocketCalls.socket(err, linux_h.AF_UNIX(), linux_h.SOCK_STREAM() | linux_h.SOCK_CLOEXEC(), 0);
            assertEquals(0, SocketCalls.bind(err, listener, addr, len));
            assertEquals(0, SocketCalls.listen(err, listener, 0));
            for (int i = 0; i < 64; i++) { // fill the backlog: the next connect would block
                int c = SocketCalls.socket(err, linux_h.AF_UNIX(), linux_h.SOCK_STREAM() | linux_h.SOCK_CLOEXEC() | linux_h.SOCK_NONBLOCK(), 0);
                clients.add(c);
                if (SocketCalls.connect(err, c, addr, len) < 0) {
                    assertEquals(linux_h.EAGAIN(), Sys.errno(err));
                    break;
                }
            }
            Map<Integer, String> before = KernelFixtures.openFds();
            long start = System.nanoTime();
            TapException e = assertThrows(TapException.class,
                    () -> FdPassing.send(path, "x", Duration.ofMillis(300), clients.get(0)));
            long took = System.nanoTime() - start;
            assertEquals(TapException.Kind.TIMEOUT, e.kind(), e.getMessage());
            assertTrue(e.getMessage().contains(path.toString()), e.getMessage());
            assertTrue(took >= TimeUnit.MILLISECONDS.toNanos(300), "not before its timeout");
            assertTrue(took < TimeUnit.SECONDS.toNanos(60), "returned (bounded generously for a loaded machine)");
            KernelFixtures.assertNoLeak(before);
        } finally {
            for (int c : clients) {
                FileCalls.close(err, c);
            }
            if (listener >= 0) {
                FileCalls.close(err, listener);
            }
            java.nio.file.Files.deleteIfExists(path);
            java.nio.file.Files.deleteIfExists(dir);
        }
    }

    @Test
    void receiveClosesEveryFdOnAnyThrowable() throws Exception {
        MemorySegment err = Sys.errnoSlot();
        try (Arena a = Arena.ofConfined()) {
            for (Throwable injected : new Throwable[] {new OutOfMemoryError("injected"), new IllegalStateException("injected")}) {
                MemorySegment sv = a.allocate(ValueLayout.JAVA_INT, 2);
                assertEquals(0, SocketCalls.socketpair(err, linux_h.AF_UNIX(), linux_h.SOCK_STREAM() | linux_h.SOCK_CLOEXEC(), 0, sv));
                int s0 = sv.getAtIndex(ValueLayout.JAVA_INT, 0), s1 = sv.getAtIndex(ValueLayout.JAVA_INT, 1);
                int[] files = new int[3];
                for (int i = 0; i < 3; i++) {
                    files[i] = FileCalls.open(err, a.allocateFrom("/dev/null"), linux_h.O_RDWR() | linux_h.O_CLOEXEC());
                }
                try {
                    Map<Integer, String> before = KernelFixtures.openFds();
                    FdPassing.send(s0, "three", files);
                    AtomicLong calls = new AtomicLong();
                    Throwable got = assertThrows(Throwable.class, () -> FdPassing.receive(s1, 3,
                            System.nanoTime() + TimeUnit.SECONDS.toNanos(5), "socket fd " + s1, FdPassing.MAX_FDS,
                            (fd, origin) -> {
                                if (calls.incrementAndGet() == 2) {
                                    if (injected instanceof Error e) {
                                        throw e;
                                    }
                                    throw (RuntimeException) injected;
                                }
                                return TapHandle.adopt(fd, origin, null);
                            }));
                    assertSame(injected, got);
                    KernelFixtures.assertNoLeak(before); // the adopted one, the failed one and the third: all closed
                } finally {
                    for (int f : files) {
                        FileCalls.close(err, f);
                    }
                    FileCalls.close(err, s0);
                    FileCalls.close(err, s1);
                }
            }
        }
    }
}
