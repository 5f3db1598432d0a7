package dev.nettap;

import dev.nettap.vnet.VirtioNetHdr;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.tool.EchoResponder;
import dev.nettap.tool.ScratchNamespace;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The zero-copy packet path, readiness and close under threads, against the real kernel. */
@KernelAccess
@Timeout(180)
class PacketPathKernelTest {
    private static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final byte[] MAC = {2, 0, 0, 0, 0, 2};
    private static final String PEER_MAC = "02:00:00:00:00:02";
    private ScratchNamespace ns;
    private Arena arena;

    @BeforeEach
    void setUp() throws IOException {
        ns = ScratchNamespace.create("nettap-pp");
        arena = Arena.ofShared();
    }

    @AfterEach
    void tearDown() {
        ns.close();
        arena.close();
    }

    private Tap open(String name) throws TapException {
        return Tap.open(TapHandle.createInNamespace(ns.path(), name, TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE));
    }

    /** Address 10.99.0.1/24 on {@code dev}, link up, and 10.99.0.2 resolved statically to {@link #MAC}. */
    private void up(String dev) throws IOException {
        ns.ip("addr", "add", "10.99.0.1/24", "dev", dev);
        ns.ip("link", "set", dev, "up");
        ns.ip("neigh", "replace", "10.99.0.2", "lladdr", PEER_MAC, "dev", dev, "nud", "permanent");
    }

    /** Makes the kernel send one IPv4 frame of {@code size} payload bytes to 10.99.0.2 (no reply expected). */
    private void kernelSends(int size) throws IOException {
        ns.exec("ping", "-c", "1", "-W", "1", "-s", Integer.toString(size), "10.99.0.2");
    }

    private MemorySegment hdr() {
        return arena.allocate(VirtioNetHdr.SIZE);
    }

    /** {@code count} virtio-net headers. */
    private MemorySegment[] hdrs(int count) {
        MemorySegment[] hdrs = new MemorySegment[count];
        for (int i = 0; i < count; i++) {
            hdrs[i] = hdr();
        }
        return hdrs;
    }

    /** {@code count} frame buffers of 2048 bytes each. */
    private MemorySegment[] frames(int count) {
        MemorySegment[] frames = new MemorySegment[count];
        for (int i = 0; i < count; i++) {
            frames[i] = arena.allocate(2048);
        }
        return frames;
    }

    /**
     * Reads batches of up to {@code hdrs.length} frames until {@code want} ICMP echo requests of 98
     * bytes have come, or 5 s have passed; every batch status must be a count. Returns how many came.
     */
    private static int readEchoRequests(Tap tap, MemorySegment[] hdrs, MemorySegment[] frames, long[] results, int want) {
        int icmp = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (icmp < want && System.nanoTime() < deadline) {
            tap.awaitReadable(Duration.ofMillis(200));
            int got = tap.readBatch(hdrs, frames, results, hdrs.length);
            assertTrue(got >= 0, "status " + got);
            for (int i = 0; i < got; i++) {
                if (results[i] == 98 && frames[i].get(ValueLayout.JAVA_BYTE, 23) == 1) { // 14 + 84, proto ICMP
                    icmp++;
                }
            }
        }
        return icmp;
    }

    /** Reads frames until one of the given ethertype arrives, or fails after 5 s. */
    private long readFrame(Tap tap, MemorySegment hdr, MemorySegment[] bufs, int count, int ethertype,
                           MemorySegment typeField, long typeOffset) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (System.nanoTime() < deadline) {
            long w = tap.awaitReadable(Duration.ofMillis(200));
            if (w != Tap.READY) {
                continue;
            }
            long n = tap.read(hdr, bufs, count);
            if (n == Tap.WOULD_BLOCK) {
                continue;
            }
            if (Short.toUnsignedInt(typeField.get(BE16, typeOffset)) == ethertype) {
                return n;
            }
        }
        throw new AssertionError("no frame of ethertype 0x" + Integer.toHexString(ethertype) + " within 5 s");
    }

    @Test
    void framesLandSplitAcrossTheCallersSegments() throws Exception {
        try (Tap tap = open("ntz0")) {
            ns.ip("addr", "add", "10.99.0.1/24", "dev", "ntz0");
            ns.ip("link", "set", "ntz0", "up");
            String kernelMac = ns.ip("link", "show", "ntz0").replaceAll("(?s).*link/ether (\\S+).*", "$1").strip();
            // Separate allocations, so only the kernel's scatter can have put the bytes where they are.
            MemorySegment dst = arena.allocate(6);
            MemorySegment srcAndType = arena.allocate(8);
            MemorySegment rest = arena.allocate(2048);
            MemorySegment[] bufs = {dst, srcAndType, rest};
            Thread pinger = Thread.ofPlatform().start(() -> {
                try {
                    kernelSends(56); // ARP first: nobody answers, the kernel asks again
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            try {
                long n = readFrame(tap, hdr(), bufs, 3, 0x0806, srcAndType, 6);
                assertEquals(42, n, "an ARP request is 42 bytes");
                assertArrayEquals(HexFormat.of().parseHex("ffffffffffff"), dst.toArray(ValueLayout.JAVA_BYTE));
                assertEquals(kernelMac, HexFormat.ofDelimiter(":").formatHex(srcAndType.asSlice(0, 6).toArray(ValueLayout.JAVA_BYTE)));
                assertEquals("0001080006040001", HexFormat.of().formatHex(rest.asSlice(0, 8).toArray(ValueLayout.JAVA_BYTE)));
                assertEquals(0x0a630002, rest.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN), 24),
                        "who-has 10.99.0.2");
            } finally {
                pinger.join(10_000);
            }
        }
    }

    @Test
    void scatterGatherEchoAnswersPing() throws Exception {
        try (Tap tap = open("ntg0"); EchoResponder responder = new EchoResponder(tap, MAC, 0x0a630002, true)) {
            ns.ip("addr", "add", "10.99.0.1/24", "dev", "ntg0");
            ns.ip("link", "set", "ntg0", "up");
            AtomicBoolean stop = new AtomicBoolean();
            Thread server = Thread.ofPlatform().start(() -> responder.run(stop::get, line -> { }));
            try {
                ScratchNamespace.Result ping = ns.exec("ping", "-c", "4", "-i", "0.2", "-W", "2", "-s", "1200", "10.99.0.2");
                assertEquals(0, ping.exitCode(), ping.output());
                assertTrue(ping.output().contains("4 received"), ping.output());
            } finally {
                stop.set(true);
                server.join(5_000);
            }
            assertEquals(4, responder.echoReplies(), "replies written from three segments each");
        }
    }

    @Test
    void aFrameLargerThanTheBuffersIsReportedPossiblyTruncated() throws Exception {
        try (Tap tap = open("ntt0")) {
            up("ntt0");
            MemorySegment small = arena.allocate(100);
            kernelSends(1000);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            long r = Tap.WOULD_BLOCK;
            MemorySegment hdr = hdr();
            while (System.nanoTime() < deadline && r != Tap.POSSIBLY_TRUNCATED) {
                tap.awaitReadable(Duration.ofMillis(200));
                r = tap.read(hdr, small);
            }
            assertEquals(Tap.POSSIBLY_TRUNCATED, r);
            assertEquals(0x0800, Short.toUnsignedInt(small.get(BE16, 12)), "the first 100 bytes of the IPv4 frame");
            assertTrue(tap.statistics().reads().truncated() >= 1);
        }
    }

    @Test
    void batchedDrainReadsEveryQueuedFrame() throws Exception {
        try (Tap tap = open("ntb0")) {
            up("ntb0");
            ns.exec("ping", "-c", "5", "-i", "0.002", "-W", "1", "10.99.0.2"); // five requests, queued
            int max = 16;
            MemorySegment[] hdrs = hdrs(max);
            MemorySegment[] frames = frames(max);
            long[] results = new long[max];
            assertEquals(5, readEchoRequests(tap, hdrs, frames, results, 5), "every echo request of 98 bytes");
        }
    }

    @Test
    void faultsLinkDownUpDeviceDeletedUnderReaderAndWriterMalformed() throws Exception {
        Tap tap = open("ntf0");
        try {
            MemorySegment hdr = hdr();
            MemorySegment frame = arena.allocate(60);
            frame.asSlice(0, 6).fill((byte) 0xff);
            frame.set(ValueLayout.JAVA_BYTE, 6, (byte) 2);
            frame.set(BE16, 12, (short) 0x88b5);
            assertEquals(Tap.LINK_DOWN, tap.write(hdr, frame));
            ns.ip("link", "set", "ntf0", "up");
            assertEquals(60, tap.write(hdr, frame));
            ns.ip("link", "set", "ntf0", "down");
            assertEquals(Tap.LINK_DOWN, tap.write(hdr, frame));
            ns.ip("link", "set", "ntf0", "up");
            assertEquals(60, tap.write(hdr, frame));
            MemorySegment runt = frame.asSlice(0, 13);
            assertEquals(Tap.MALFORMED, tap.write(hdr, runt));
            assertTrue(Tap.explainMalformed(TapMode.TAP, hdr, 13).contains("shorter than an Ethernet header"));
            TapStatistics st = tap.statistics();
            assertEquals(2, st.writes().linkDown());
            assertEquals(1, st.writes().malformed());
            assertTrue(st.kernel().orElseThrow().rxPackets() >= 2, "the kernel counted our frames: " + st);

            // A reader and a writer loop; the device is deleted under them: both see DEVICE_GONE, no hang.
            AtomicLong readerEnd = new AtomicLong(1), writerEnd = new AtomicLong(1);
            MemorySegment rhdr = hdr(), rbuf = arena.allocate(2048), whdr = hdr();
            CountDownLatch running = new CountDownLatch(2);
            Thread reader = Thread.ofPlatform().start(() -> {
                running.countDown();
                long r;
                do {
                    tap.awaitReadable(Duration.ofMillis(100));
                    r = tap.read(rhdr, rbuf);
                } while (r != Tap.DEVICE_GONE);
                readerEnd.set(r);
            });
            Thread writer = Thread.ofPlatform().start(() -> {
                running.countDown();
                long r;
                do {
                    r = tap.write(whdr, frame);
                } while (r != Tap.DEVICE_GONE);
                writerEnd.set(r);
            });
            assertTrue(running.await(5, TimeUnit.SECONDS));
            Thread.sleep(50);
            ns.ip("link", "del", "ntf0");
            reader.join(5_000);
            writer.join(5_000);
            assertFalse(reader.isAlive() || writer.isAlive(), "no hang after the device was deleted");
            assertEquals(Tap.DEVICE_GONE, readerEnd.get());
            assertEquals(Tap.DEVICE_GONE, writerEnd.get());
            TapStatistics gone = tap.statistics();
            assertTrue(gone.kernel().isEmpty() && gone.kernelSource().startsWith("not available"),
                    "no device, no kernel counters: " + gone);
            assertEquals(1, gone.reads().deviceGone(), "the reader's one DEVICE_GONE, counted");
            assertEquals(1, gone.writes().deviceGone(), "the writer's one DEVICE_GONE, counted");
        } finally {
            tap.close();
        }
        assertThrows(IllegalStateException.class, () -> tap.write(hdr(), arena.allocate(60)));
    }

    /** One round of close racing a waiter and a writer; returns the waiter's and writer's outcomes. */
    private static String[] closeRace(Tap tap, MemorySegment hdr, MemorySegment frame) throws InterruptedException {
        AtomicReference<String> waiter = new AtomicReference<>(), writer = new AtomicReference<>();
        CountDownLatch started = new CountDownLatch(2);
        Thread w = Thread.ofPlatform().start(() -> {
            started.countDown();
            try {
                waiter.set(Long.toString(tap.awaitReadable(Duration.ofSeconds(30))));
            } catch (IllegalStateException e) {
                waiter.set("closed-before");
            }
        });
        Thread x = Thread.ofPlatform().start(() -> {
            started.countDown();
            try {
                for (int i = 0; i < 10_000_000; i++) {
                    long r = tap.write(hdr, frame);
                    if (r < 0 && r != Tap.LINK_DOWN) {
                        writer.set("status " + r);
                        return;
                    }
                }
                writer.set("never closed");
            } catch (IllegalStateException e) {
                writer.set("closed");
            }
        });
        started.await();
        java.util.concurrent.locks.LockSupport.parkNanos(300_000); // most rounds: the waiter is in poll by now
        tap.close();
        w.join(5_000);
        x.join(5_000);
        if (w.isAlive() || x.isAlive()) {
            return new String[] {"hung", "hung"};
        }
        return new String[] {waiter.get(), writer.get()};
    }

    @Test
    void closeWhileWaitingAndWriting1000Rounds() throws Exception {
        ns.ip("tuntap", "add", "dev", "ntr0", "mode", "tap", "vnet_hdr"); // persistent: attach is cheap
        MemorySegment hdr = hdr();
        MemorySegment frame = arena.allocate(60);
        frame.asSlice(0, 6).fill((byte) 0xff);
        for (int i = 0; i < 3; i++) { // warm up: threads, JDK files opened lazily
            closeRace(open("ntr0"), hdr, frame);
        }
        var before = KernelFixtures.openFds();
        List<String> bad = new ArrayList<>();
        int wokenInWait = 0;
        for (int round = 0; round < 1000 && bad.size() < 5; round++) {
            Tap tap = open("ntr0");
            String[] out = closeRace(tap, hdr, frame);
            wokenInWait += out[0].equals(Long.toString(Tap.CLOSED)) ? 1 : 0;
            boolean waiterOk = out[0].equals(Long.toString(Tap.CLOSED)) || out[0].equals("closed-before");
            if (!waiterOk || !out[1].equals("closed")) {
                bad.add("round " + round + ": waiter " + out[0] + ", writer " + out[1]);
            }
        }
        assertEquals(List.of(), bad);
        assertTrue(wokenInWait >= 100, "close woke a waiter inside poll in only " + wokenInWait + " of 1000 rounds");
        KernelFixtures.assertNoLeak(before);
    }

    @Test
    @SuppressWarnings("try") // closing the Tap inside its try block is the point: close wakes the waiters
    void hundredVirtualThreadsWaitWithoutPinningAndCloseWakesThemAll() throws Exception {
        try (Tap tap = open("ntv0")) {
            up("ntv0");
            MemorySegment drainHdr = hdr(), drainBuf = arena.allocate(2048);
            while (tap.read(drainHdr, drainBuf) != Tap.WOULD_BLOCK) {
                // start from an empty queue
            }
            // 1) 100 virtual threads wait; a frame from the kernel wakes them all READY.
            List<Thread> threads = new ArrayList<>();
            AtomicLong ready = new AtomicLong();
            CountDownLatch started = new CountDownLatch(100);
            for (int i = 0; i < 100; i++) {
                threads.add(Thread.ofVirtual().start(() -> {
                    started.countDown();
                    if (tap.awaitReadable(Duration.ofSeconds(20)) == Tap.READY) {
                        ready.incrementAndGet();
                    }
                }));
            }
            assertTrue(started.await(5, TimeUnit.SECONDS));
            Thread.sleep(200); // let them all park
            // Carriers are not pinned: with 100 waiters parked, another virtual thread still runs.
            Thread probe = Thread.ofVirtual().start(() -> { });
            assertTrue(probe.join(Duration.ofSeconds(5)), "a virtual thread could not run: carriers pinned");
            kernelSends(56);
            for (Thread t : threads) {
                assertTrue(t.join(Duration.ofSeconds(10)), "a virtual waiter did not wake");
            }
            assertEquals(100, ready.get());

            // 2) 100 virtual threads wait forever; close() wakes every one with CLOSED. The link goes
            //    down first so the kernel sends nothing more (IPv6 neighbour discovery would wake them).
            ns.ip("link", "set", "ntv0", "down");
            while (tap.read(drainHdr, drainBuf) != Tap.WOULD_BLOCK) {
                // drain what woke them
            }
            threads.clear();
            AtomicLong closedCount = new AtomicLong();
            java.util.Queue<Long> other = new java.util.concurrent.ConcurrentLinkedQueue<>();
            CountDownLatch started2 = new CountDownLatch(100);
            for (int i = 0; i < 100; i++) {
                threads.add(Thread.ofVirtual().start(() -> {
                    started2.countDown();
                    try {
                        long r = tap.awaitReadable(Duration.ofSeconds(-1));
                        if (r == Tap.CLOSED) {
                            closedCount.incrementAndGet();
                        } else {
                            other.add(r);
                        }
                    } catch (IllegalStateException e) {
                        closedCount.incrementAndGet(); // closed before it began to wait: also defined
                    }
                }));
            }
            assertTrue(started2.await(5, TimeUnit.SECONDS));
            Thread.sleep(200);
            tap.close();
            for (Thread t : threads) {
                assertTrue(t.join(Duration.ofSeconds(5)), "close did not wake a virtual waiter");
            }
            assertEquals(100, closedCount.get(), "other results: " + other);
        }
    }

    @Test
    void closeWakesHundredVirtualWaitersWhileWriting1000Rounds() throws Exception {
        ns.ip("tuntap", "add", "dev", "ntq0", "mode", "tap", "vnet_hdr");
        MemorySegment hdr = hdr(), frame = arena.allocate(60);
        frame.asSlice(0, 6).fill((byte) 0xff);
        java.util.Map<Integer, String> before = null;
        List<String> bad = new ArrayList<>();
        for (int round = -3; round < 1000 && bad.size() < 5; round++) { // 3 warm-up rounds
            if (round == 0) {
                before = KernelFixtures.openFds();
            }
            Tap tap = open("ntq0");
            AtomicLong ok = new AtomicLong();
            List<Thread> waiters = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                waiters.add(Thread.ofVirtual().start(() -> {
                    try {
                        if (tap.awaitReadable(Duration.ofSeconds(-1)) == Tap.CLOSED) {
                            ok.incrementAndGet();
                        }
                    } catch (IllegalStateException e) {
                        ok.incrementAndGet(); // closed before it began to wait
                    }
                }));
            }
            AtomicReference<String> writer = new AtomicReference<>("running");
            Thread x = Thread.ofPlatform().start(() -> {
                try {
                    while (true) {
                        tap.write(hdr, frame); // link down: LINK_DOWN, until closed
                    }
                } catch (IllegalStateException e) {
                    writer.set("closed");
                }
            });
            java.util.concurrent.locks.LockSupport.parkNanos(500_000);
            tap.close();
            for (Thread t : waiters) {
                if (!t.join(Duration.ofSeconds(5))) {
                    bad.add("round " + round + ": a virtual waiter hung");
                    break;
                }
            }
            x.join(5_000);
            if (ok.get() != 100 || !writer.get().equals("closed")) {
                bad.add("round " + round + ": " + ok.get() + " waiters woke CLOSED, writer " + writer.get());
            }
        }
        assertEquals(List.of(), bad);
        KernelFixtures.assertNoLeak(before);
    }

    @Test
    void virtualWaitsReportReadyAtOnceTimeOutAndInterrupt() throws Exception {
        try (Tap tap = open("ntx0")) {
            up("ntx0");
            MemorySegment h = hdr(), buf = arena.allocate(2048);
            ns.ip("link", "set", "ntx0", "down"); // nothing more from the kernel
            while (tap.read(h, buf) != Tap.WOULD_BLOCK) {
                // empty queue
            }
            AtomicReference<List<Long>> got = new AtomicReference<>();
            Thread v = Thread.ofVirtual().start(() -> got.set(List.of(
                    tap.awaitReadable(Duration.ZERO),
                    tap.awaitReadable(Duration.ofMillis(50)),
                    tap.awaitWritable(Duration.ZERO))));
            assertTrue(v.join(Duration.ofSeconds(5)));
            assertEquals(List.of(Tap.TIMEOUT, Tap.TIMEOUT, Tap.TIMEOUT), got.get(),
                    "empty queue; a TAP whose link is down is not writable (the kernel's poll says so)");
            ns.ip("link", "set", "ntx0", "up");
            Thread u = Thread.ofVirtual().start(() -> got.set(List.of(tap.awaitWritable(Duration.ofSeconds(2)))));
            assertTrue(u.join(Duration.ofSeconds(5)));
            assertEquals(List.of(Tap.READY), got.get(), "link up: room to write");
            ns.ip("link", "set", "ntx0", "down");
            while (tap.read(h, buf) != Tap.WOULD_BLOCK) {
                // what the kernel sent while the link was up
            }

            AtomicLong interrupted = new AtomicLong();
            Thread w = Thread.ofVirtual().start(() -> interrupted.set(tap.awaitReadable(Duration.ofSeconds(-1))));
            Thread.sleep(100);
            w.interrupt();
            assertTrue(w.join(Duration.ofSeconds(5)), "an interrupted virtual waiter must return");
            assertEquals(Tap.INTERRUPTED, interrupted.get());

            ns.ip("link", "set", "ntx0", "up");
            kernelSends(56); // queues a frame (IPv6 or ARP or ICMP, whatever comes first)
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            AtomicLong zero = new AtomicLong();
            while (System.nanoTime() < deadline) {
                Thread z = Thread.ofVirtual().start(() -> zero.set(tap.awaitReadable(Duration.ZERO)));
                assertTrue(z.join(Duration.ofSeconds(5)));
                if (zero.get() == Tap.READY) {
                    break;
                }
                Thread.sleep(20);
            }
            assertEquals(Tap.READY, zero.get(), "a zero-timeout virtual wait sees a queued frame");
        }
    }

    /**
     * A bad segment in the middle of a batch or a scatter list is refused before anything moves:
     * the queued frames are all still there for the next, valid, call. (FramePath reads each slot
     * once and checks the very segment it hands to the kernel; see its comment.)
     */
    @Test
    void aBadSegmentInTheMiddleOfABatchOrScatterListIsRefusedBeforeAnythingIsRead() throws Exception {
        try (Tap tap = open("ntm0")) {
            up("ntm0");
            ns.exec("ping", "-c", "3", "-i", "0.002", "-W", "1", "10.99.0.2"); // three requests, queued
            int max = 8;
            MemorySegment[] hdrs = hdrs(max);
            MemorySegment[] frames = frames(max);
            long[] results = new long[max];
            MemorySegment good = frames[1];
            frames[1] = MemorySegment.ofArray(new byte[2048]);
            assertThrows(IllegalArgumentException.class, () -> tap.readBatch(hdrs, frames, results, max));
            frames[1] = good.asReadOnly();
            assertThrows(IllegalArgumentException.class, () -> tap.readBatch(hdrs, frames, results, max));
            frames[1] = good;
            MemorySegment goodHdr = hdrs[1];
            hdrs[1] = arena.allocate(2);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> tap.readBatch(hdrs, frames, results, max));
            assertTrue(e.getMessage().contains("exactly"), e.getMessage());
            hdrs[1] = goodHdr;

            MemorySegment[] bufs = {arena.allocate(1024), MemorySegment.ofArray(new byte[1024]), arena.allocate(1024)};
            assertThrows(IllegalArgumentException.class, () -> tap.read(hdr(), bufs, bufs.length));
            bufs[1] = arena.allocate(1024).asReadOnly();
            assertThrows(IllegalArgumentException.class, () -> tap.read(hdr(), bufs, bufs.length));
            assertEquals(0, tap.statistics().reads().frames(), "nothing was read");

            MemorySegment[] out = {arena.allocate(14), MemorySegment.ofArray(new byte[46])};
            assertThrows(IllegalArgumentException.class, () -> tap.write(hdr(), out, out.length));
            assertEquals(0, tap.statistics().writes().frames(), "nothing was written");

            assertEquals(3, readEchoRequests(tap, hdrs, frames, results, 3),
                    "every queued echo request is still there after the refused calls");
        }
    }

    @Test
    void segmentsTheKernelCannotSafelyUseAreRefused() throws Exception {
        try (Tap tap = open("nty0")) {
            MemorySegment h = hdr();
            Arena closedArena = Arena.ofConfined();
            MemorySegment dead = closedArena.allocate(64);
            closedArena.close();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> tap.write(h, dead));
            assertTrue(e.getMessage().contains("closed arena"), e.getMessage());
            MemorySegment ro = arena.allocate(64).asReadOnly();
            assertEquals(Tap.LINK_DOWN, tap.write(h, ro), "a read-only frame may be written");
            e = assertThrows(IllegalArgumentException.class, () -> tap.read(h, ro));
            assertTrue(e.getMessage().contains("read-only"), e.getMessage());
            AtomicReference<MemorySegment> confined = new AtomicReference<>();
            Arena other = Arena.ofConfined(); // confined to this thread
            confined.set(other.allocate(64));
            AtomicReference<Throwable> fromOtherThread = new AtomicReference<>();
            Thread t = Thread.ofPlatform().start(() -> {
                try {
                    tap.read(h, confined.get());
                } catch (Throwable x) {
                    fromOtherThread.set(x);
                }
            });
            t.join(5_000);
            other.close();
            assertTrue(fromOtherThread.get() instanceof IllegalArgumentException
                    && fromOtherThread.get().getMessage().contains("another thread"), String.valueOf(fromOtherThread.get()));
            MemorySegment[] many = new MemorySegment[Tap.MAX_SEGMENTS + 1];
            java.util.Arrays.fill(many, arena.allocate(8));
            assertThrows(IllegalArgumentException.class, () -> tap.write(h, many, many.length));
        }
    }

    @Test
    void statisticsFollowARenamedDevice() throws Exception {
        try (Tap tap = open("ntn0")) {
            ns.ip("link", "set", "ntn0", "name", "ntn1");
            ns.ip("link", "set", "ntn1", "up");
            MemorySegment h = hdr(), frame = arena.allocate(60);
            frame.asSlice(0, 6).fill((byte) 0xff);
            long before = tap.statistics().kernel().orElseThrow().rxPackets();
            for (int i = 0; i < 10; i++) {
                assertEquals(60, tap.write(h, frame));
            }
            assertEquals(before + 10, tap.statistics().kernel().orElseThrow().rxPackets(), "counters of the renamed device");
        }
    }

    @Test
    void thousandOpenUseCloseCyclesLeakNothing() throws Exception {
        ns.ip("tuntap", "add", "dev", "ntu0", "mode", "tap", "vnet_hdr");
        ns.ip("link", "set", "ntu0", "up");
        MemorySegment hdr = hdr(), frame = arena.allocate(60), buf = arena.allocate(2048);
        frame.asSlice(0, 6).fill((byte) 0xff);
        for (int i = 0; i < 3; i++) { // warm up lazily created JDK resources
            try (Tap t = open("ntu0")) {
                t.write(hdr, frame);
            }
        }
        var before = KernelFixtures.openFds();
        for (int i = 0; i < 1000; i++) {
            try (Tap t = open("ntu0")) {
                assertEquals(60, t.write(hdr, frame));
                long r = t.read(hdr, buf);
                assertTrue(r >= 0 || r == Tap.WOULD_BLOCK, "read " + r);
                assertEquals(Tap.TIMEOUT, t.awaitWritable(Duration.ZERO) == Tap.READY ? Tap.TIMEOUT : Tap.READY,
                        "a TAP with room is writable");
            }
        }
        KernelFixtures.assertNoLeak(before);
    }
}
