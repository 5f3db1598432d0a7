package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.uring.IoUring;
import dev.nettap.internal.uring.UringProbe;
import dev.nettap.tool.ScratchNamespace;
import dev.nettap.vnet.VirtioNetHdr;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The public io_uring TAP path ({@link TapRing}, {@link UringForwarder}) against real TAPs in scratch
 * namespaces: the kernel's ping answered through the ring in both read modes, batching across two
 * devices, the kernel's TCP through the ring forwarder (SHA-256), a CQ that overflows, close with
 * requests in flight (1,000 rounds), a member closed under the ring, GSO super-frames with offloads
 * on, opcode probing and the forced fallback.
 */
@KernelAccess
@Timeout(300)
class TapRingKernelTest {
    static final byte[] MAC = UringKernelTest.MAC;
    static final int KERNEL_IP = UringKernelTest.KERNEL_IP;
    static final int PEER_IP = UringKernelTest.PEER_IP;
    private ScratchNamespace ns;

    @BeforeEach
    void setUp() throws IOException {
        ns = ScratchNamespace.create("nettap-tr");
        TestBridge.quiet(ns); // no IPv6 chatter on the devices made from here on
    }

    @AfterEach
    void tearDown() {
        ns.close();
    }

    Tap open(ScratchNamespace in, String name) throws TapException {
        return Tap.open(TapHandle.createInNamespace(in.path(), name, TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE));
    }

    void up(ScratchNamespace in, String dev, String cidr) throws IOException {
        in.ip("addr", "add", cidr, "dev", dev);
        in.ip("link", "set", dev, "up");
    }

    Thread ping(ScratchNamespace in, String to, int count, AtomicReference<ScratchNamespace.Result> result) {
        return Thread.ofPlatform().start(() -> {
            try {
                result.set(in.exec("ping", "-c", Integer.toString(count), "-i", "0.2", "-W", "3", to));
            } catch (IOException e) {
                result.set(new ScratchNamespace.Result(-1, e.toString()));
            }
        });
    }

    @Test
    void autoPicksMultishotExactlyWhereTheProbeFindsIt() throws Exception {
        assertTrue(TapRing.unavailableReason().isEmpty(), "io_uring is usable on this kernel: " + TapRing.unavailableReason());
        boolean multishot = UringProbe.probe().supports(linux_h.IORING_OP_READ_MULTISHOT());
        assertEquals(multishot, TapRing.multishotSupported());
        assertTrue(multishot, "6.7+ kernel (" + System.getProperty("os.version") + ") has IORING_OP_READ_MULTISHOT");
        try (Tap tap = open(ns, "trp0");
             TapRing ring = TapRing.open(List.of(tap), TapRing.Config.defaults(1, 4, 2048))) {
            assertEquals(TapRing.ReadMode.MULTISHOT, ring.readMode());
        }
        try (Tap tap = open(ns, "trp1");
             TapRing ring = TapRing.open(List.of(tap), TapRing.Config.defaults(1, 4, 2048).withReadMode(TapRing.ReadMode.READV))) {
            assertEquals(TapRing.ReadMode.READV, ring.readMode());
        }
    }

    @ParameterizedTest
    @EnumSource(value = TapRing.ReadMode.class, names = {"MULTISHOT", "READV"})
    void pingAnsweredThroughTheRing(TapRing.ReadMode mode) throws Exception {
        try (Tap tap = open(ns, "trn0")) {
            up(ns, "trn0", "10.98.0.1/24");
            RingCompletions out = new RingCompletions(32);
            AtomicReference<ScratchNamespace.Result> result = new AtomicReference<>();
            int echoes = 0, arps = 0, reads = 0;
            try (TapRing ring = TapRing.open(List.of(tap), TapRing.Config.defaults(1, 8, 2048).withReadMode(mode))) {
                assertEquals(mode, ring.readMode());
                MemorySegment tx = ring.txMemory();
                // MULTISHOT: header and frame back to back (one WRITE); READV: apart (one WRITEV)
                long frameAt = mode == TapRing.ReadMode.MULTISHOT ? VirtioNetHdr.SIZE : 1024;
                int slot = 0;
                RingFrames.Kind[] kind = new RingFrames.Kind[1];
                Thread pinger = ping(ns, "10.98.0.2", 3, result);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                try {
                    while (pinger.isAlive() && System.nanoTime() < deadline) {
                        int n = ring.await(out, UringKernelTest.NANOS_100MS);
                        for (int i = 0; i < n; i++) {
                            assertEquals(0, out.member(i));
                            if (out.isRead(i)) {
                                long len = out.status(i);
                                int b = out.buffer(i);
                                assertTrue(len > 0 && b >= 0, "read " + Tap.describe(len));
                                reads++;
                                MemorySegment hdr = tx.asSlice(slot * 4096L, VirtioNetHdr.SIZE);
                                hdr.fill((byte) 0);
                                MemorySegment frame = tx.asSlice(slot * 4096L + frameAt, 2048);
                                int r = RingFrames.reply(ring.rxFrame(b), (int) len, frame, MAC, PEER_IP, kind);
                                ring.release(b);
                                if (r > 0) {
                                    assertTrue(ring.submitWrite(0, hdr, frame, r, (long) kind[0].ordinal() << 16 | r));
                                    slot = (slot + 1) % 8;
                                }
                            } else {
                                long ud = out.userData(i);
                                assertEquals(ud & 0xffff, out.status(i), "a write reports the frame's length, header excluded");
                                if ((ud >>> 16) == RingFrames.Kind.ECHO.ordinal()) {
                                    echoes++;
                                } else {
                                    arps++;
                                }
                            }
                        }
                    }
                } finally {
                    pinger.join(10_000);
                }
            }
            ScratchNamespace.Result r = result.get();
            assertEquals(0, r.exitCode(), r.output());
            assertTrue(r.output().contains("3 received"), r.output());
            assertEquals(3, echoes, "echo replies written through the ring");
            assertTrue(arps >= 1 && reads >= 4, "ARP answered, " + reads + " frames read");
        }
    }

    @Test
    void oneSubmitCarriesWritesToTwoDevicesAndOneAwaitReapsBoth() throws Exception {
        try (Tap a = open(ns, "tra0"); Tap b = open(ns, "trb0")) {
            up(ns, "tra0", "10.98.0.1/24");
            up(ns, "trb0", "10.97.0.1/24");
            int peerB = 0x0a_61_00_02, kernelB = 0x0a_61_00_01;
            long rxA = rxCount(a), rxB = rxCount(b);
            int perDevice = 8;
            RingCompletions out = new RingCompletions(64);
            int writes = 0, repliesA = 0, repliesB = 0;
            try (TapRing ring = TapRing.open(List.of(a, b), TapRing.Config.defaults(2, 32, 2048))) {
                MemorySegment tx = ring.txMemory();
                MemorySegment hdrA = tx.asSlice(0, VirtioNetHdr.SIZE), hdrB = tx.asSlice(128, VirtioNetHdr.SIZE);
                MemorySegment reqA = tx.asSlice(VirtioNetHdr.SIZE, 64), reqB = tx.asSlice(128 + VirtioNetHdr.SIZE, 64);
                int len = RingFrames.arpRequest(reqA, MAC, PEER_IP, KERNEL_IP);
                RingFrames.arpRequest(reqB, MAC, peerB, kernelB);
                for (int i = 0; i < perDevice; i++) {
                    assertTrue(ring.submitWrite(0, hdrA, reqA, len, 1000 + i));
                    assertTrue(ring.submitWrite(1, hdrB, reqB, len, 2000 + i));
                }
                assertEquals(2 * perDevice, ring.submit(), "one io_uring_enter takes the writes for both devices");
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while ((writes < 2 * perDevice || repliesA == 0 || repliesB == 0) && System.nanoTime() < deadline) {
                    int n = ring.await(out, UringKernelTest.NANOS_100MS);
                    for (int i = 0; i < n; i++) {
                        if (!out.isRead(i)) {
                            assertEquals(len, out.status(i));
                            assertEquals(out.member(i) == 0 ? 1000 : 2000, out.userData(i) / 1000 * 1000);
                            writes++;
                            continue;
                        }
                        int buf = out.buffer(i);
                        long got = out.status(i);
                        if (out.member(i) == 0 && RingFrames.isArpReply(ring.rxFrame(buf), (int) got, KERNEL_IP, PEER_IP)) {
                            repliesA++;
                        }
                        if (out.member(i) == 1 && RingFrames.isArpReply(ring.rxFrame(buf), (int) got, kernelB, peerB)) {
                            repliesB++;
                        }
                        ring.release(buf);
                    }
                }
            }
            assertEquals(2 * perDevice, writes, "every write completed with the frame's length");
            assertTrue(repliesA > 0 && repliesB > 0, "the kernel answered on both devices: " + repliesA + ", " + repliesB);
            assertEquals(perDevice, rxCount(a) - rxA, "the kernel took every frame written to tra0");
            assertEquals(perDevice, rxCount(b) - rxB, "... and to trb0");
        }
    }

    private static long rxCount(Tap t) {
        TapStatistics.Kernel k = t.statistics().kernel().orElseThrow();
        return k.rxPackets() + k.rxDropped();
    }

    @Test
    void completionsBeyondTheCqAreKeptAndEachReapedOnce() throws Exception {
        try (Tap tap = open(ns, "tro0")) {
            up(ns, "tro0", "10.98.0.1/24");
            // 4 buffers + 1 member + wake-up fit 8 entries; the CQ is 16; 3 x 8 writes overflow it
            TapRing.Config c = TapRing.Config.defaults(1, 4, 2048).withEntries(8);
            int rounds = 3, batch = 8, total = rounds * batch;
            try (TapRing ring = TapRing.open(List.of(tap), c)) {
                MemorySegment tx = ring.txMemory();
                MemorySegment hdr = tx.asSlice(0, VirtioNetHdr.SIZE), req = tx.asSlice(VirtioNetHdr.SIZE, 64);
                int len = RingFrames.arpRequest(req, MAC, 0x0a_62_00_63, KERNEL_IP); // nobody answers for .99
                for (int r = 0; r < rounds; r++) {
                    for (int i = 0; i < batch; i++) {
                        assertTrue(ring.submitWrite(0, hdr, req, len, r * batch + i));
                    }
                    assertFalse(ring.submitWrite(0, hdr, req, len, 999), "the SQ is full: nothing queued");
                    assertEquals(batch, ring.submit());
                }
                assertTrue(ring.cqOverflowed(), "the kernel holds completions the CQ had no room for");
                RingCompletions out = new RingCompletions(5); // smaller than the backlog: several awaits
                boolean[] seen = new boolean[total];
                int reaped = 0;
                for (int attempt = 0; attempt < 100 && reaped < total; attempt++) {
                    int n = ring.await(out, UringKernelTest.NANOS_100MS);
                    for (int i = 0; i < n; i++) {
                        if (out.isRead(i)) {
                            ring.release(out.buffer(i));
                            continue;
                        }
                        int ud = (int) out.userData(i);
                        assertFalse(seen[ud], "completion " + ud + " reaped twice");
                        seen[ud] = true;
                        assertEquals(len, out.status(i));
                        reaped++;
                    }
                }
                assertEquals(total, reaped, "every write's completion arrived, the overflowed ones too");
                assertFalse(ring.cqOverflowed());
            }
        }
    }

    @Test
    void closeWithRequestsInFlightLeavesNoFdNoMappingNoMemory() throws Exception {
        try (Tap tap = open(ns, "trc0")) { // link down: reads stay armed, writes fail with LINK_DOWN
            round(tap, 0); // warm-up: lazily initialised JDK state is not growth
            round(tap, 1);
            java.util.Map<Integer, String> fds = KernelFixtures.openFds();
            long maps = uringMappings();
            long live = IoUring.liveRings();
            for (int r = 0; r < 1000; r++) {
                round(tap, r);
            }
            KernelFixtures.assertNoLeak(fds);
            assertEquals(maps, uringMappings(), "io_uring mappings left in /proc/self/maps");
            assertEquals(live, IoUring.liveRings(), "rings whose memory was not freed");
        }
    }

    private static void round(Tap tap, int r) throws Exception {
        TapRing.ReadMode mode = r % 2 == 0 ? TapRing.ReadMode.MULTISHOT : TapRing.ReadMode.READV;
        TapRing ring = TapRing.open(List.of(tap), TapRing.Config.defaults(1, 4, 2048).withReadMode(mode));
        try {
            MemorySegment tx = ring.txMemory();
            MemorySegment hdr = tx.asSlice(0, VirtioNetHdr.SIZE), req = tx.asSlice(VirtioNetHdr.SIZE, 64);
            int len = RingFrames.arpRequest(req, MAC, PEER_IP, KERNEL_IP);
            assertTrue(ring.submitWrite(0, hdr, req, len, 1));
            assertTrue(ring.submitWrite(0, hdr, req, len, 2)); // queued, maybe never submitted: close drops it
            if (r % 3 == 0) {
                ring.submit();
            }
            assertTrue(ring.inFlight() >= 1, "reads armed: " + ring.inFlight());
        } finally {
            ring.close();
        }
        assertTrue(ring.isClosed());
        assertThrows(IllegalStateException.class, ring::txMemory);
        ring.wakeup(); // after close: nothing happens
    }

    private static long uringMappings() throws IOException {
        try (var lines = java.nio.file.Files.lines(java.nio.file.Path.of("/proc/self/maps"))) {
            return lines.filter(l -> l.contains("io_uring")).count();
        }
    }

    @Test
    void aMemberClosedUnderTheRingStaysAttachedUntilTheRingCloses() throws Exception {
        Tap tap = open(ns, "trm0");
        up(ns, "trm0", "10.98.0.1/24");
        TapRing ring = TapRing.open(List.of(tap), TapRing.Config.defaults(1, 4, 2048));
        try {
            tap.close();
            assertThrows(IllegalStateException.class, tap::fd);
            assertTrue(ns.hasLink("trm0"), "the ring's reference keeps the queue (and the device) alive");
            MemorySegment tx = ring.txMemory();
            MemorySegment hdr = tx.asSlice(0, VirtioNetHdr.SIZE), req = tx.asSlice(VirtioNetHdr.SIZE, 64);
            int len = RingFrames.arpRequest(req, MAC, PEER_IP, KERNEL_IP);
            assertTrue(ring.submitWrite(0, hdr, req, len, 7));
            RingCompletions out = new RingCompletions(8);
            boolean written = false, answered = false;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!(written && answered) && System.nanoTime() < deadline) {
                int n = ring.await(out, UringKernelTest.NANOS_100MS);
                for (int i = 0; i < n; i++) {
                    if (out.isRead(i)) {
                        answered |= RingFrames.isArpReply(ring.rxFrame(out.buffer(i)), (int) out.status(i), KERNEL_IP, PEER_IP);
                        ring.release(out.buffer(i));
                    } else {
                        assertEquals(len, out.status(i));
                        written = true;
                    }
                }
            }
            assertTrue(written && answered, "the closed Tap's queue still carries frames both ways through the ring");
        } finally {
            ring.close();
        }
        assertFalse(ns.hasLink("trm0"), "closing the ring let the last reference go: the device is gone");
        assertThrows(IllegalStateException.class,
                () -> TapRing.open(List.of(tap), TapRing.Config.defaults(1, 4, 2048)), "a closed Tap cannot join a ring");
    }

    @Test
    void wakeupFromAnotherThreadEndsAWaitWithoutABound() throws Exception {
        try (Tap tap = open(ns, "trw0");
             TapRing ring = TapRing.open(List.of(tap), TapRing.Config.defaults(1, 4, 2048))) {
            Thread waker = Thread.ofPlatform().start(() -> {
                try {
                    Thread.sleep(200);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                ring.wakeup();
            });
            RingCompletions out = new RingCompletions(4);
            assertEquals(0, ring.await(out, -1), "nothing arrived on a down link");
            assertTrue(out.wasWoken());
            waker.join();
            assertThrows(WrongThreadException.class, () -> {
                Thread t = Thread.ofPlatform().unstarted(ring::close);
                AtomicReference<Throwable> thrown = new AtomicReference<>();
                t.setUncaughtExceptionHandler((th, e) -> thrown.set(e));
                t.start();
                t.join();
                throw thrown.get();
            });
        }
    }

    @Test
    void writesRefuseMemoryTheRingDoesNotOwnWithAClearError() throws Exception {
        try (Tap tap = open(ns, "trv0");
             Arena caller = Arena.ofConfined();
             TapRing ring = TapRing.open(List.of(tap), TapRing.Config.defaults(1, 4, 2048))) {
            MemorySegment hdr = caller.allocate(VirtioNetHdr.SIZE), frame = caller.allocate(64);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ring.submitWrite(0, hdr, frame, 60, 1));
            assertTrue(e.getMessage().contains("data()"), e.getMessage());
            MemorySegment tx = ring.txMemory();
            assertThrows(IllegalArgumentException.class, () -> ring.submitWrite(0, tx.asSlice(0, 10), tx.asSlice(12, 60), 60, 1));
            assertThrows(IllegalArgumentException.class, () -> ring.submitWrite(0, tx.asSlice(0, 12), tx.asSlice(12, 60), 61, 1));
            assertThrows(IllegalArgumentException.class,
                    () -> ring.submitWrite(0, tx.asSlice(0, 12), tx.asSlice(12, 60), 60, TapRing.MAX_USER_DATA + 1));
            assertThrows(IndexOutOfBoundsException.class, () -> ring.submitWrite(1, tx.asSlice(0, 12), tx.asSlice(12, 60), 60, 1));
            assertThrows(IllegalArgumentException.class, () -> ring.release(0), "buffer 0 was never handed over");
        }
    }

    @Test
    void gsoSuperFrameCrossesABridgeThroughTheRingWithOffloadsOn() throws Exception {
        try (Tap a = open(ns, "trga"); Tap b = open(ns, "trgb"); Arena guest = Arena.ofConfined()) {
            Set<Offload> tso = EnumSet.of(Offload.CSUM, Offload.TSO4);
            a.setOffloads(tso);
            b.setOffloads(tso);
            TestBridge.join(ns, List.of("trga", "trgb"));
            int mss = 1400, payload = 3 * mss, frameLen = RingFrames.ETH + 40 + payload;
            byte[] bytes = new byte[payload];
            new java.util.Random(14).nextBytes(bytes);
            // "guest memory": the header directly followed by the frame, written as one fixed buffer
            MemorySegment region = guest.allocate(1 << 16, 4096);
            MemorySegment hdr = region.asSlice(0, VirtioNetHdr.SIZE), frame = region.asSlice(VirtioNetHdr.SIZE, frameLen);
            UringKernelTest.buildTcp4(frame, bytes);
            hdr.set(ValueLayout.JAVA_BYTE, 0, (byte) linux_h.VIRTIO_NET_HDR_F_NEEDS_CSUM());
            hdr.set(ValueLayout.JAVA_BYTE, 1, (byte) linux_h.VIRTIO_NET_HDR_GSO_TCPV4());
            hdr.set(ValueLayout.JAVA_SHORT, 2, (short) (RingFrames.ETH + 40));
            hdr.set(ValueLayout.JAVA_SHORT, 4, (short) mss);
            hdr.set(ValueLayout.JAVA_SHORT, 6, (short) (RingFrames.ETH + 20));
            hdr.set(ValueLayout.JAVA_SHORT, 8, (short) 16);
            TapRing.Config c = TapRing.Config.defaults(2, 8, 65536 + 4096).withGuestMemory(region);
            try (TapRing ring = TapRing.open(List.of(a, b), c)) {
                assertTrue(ring.submitWrite(0, hdr, frame, frameLen, 5));
                RingCompletions out = new RingCompletions(16);
                boolean written = false, received = false;
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (!(written && received) && System.nanoTime() < deadline) {
                    int n = ring.await(out, UringKernelTest.NANOS_100MS);
                    for (int i = 0; i < n; i++) {
                        if (!out.isRead(i)) {
                            assertEquals(frameLen, out.status(i), "the fixed-buffer write took the whole super-frame");
                            written = true;
                            continue;
                        }
                        int buf = out.buffer(i);
                        if (out.member(i) == 1 && out.status(i) == frameLen) {
                            MemorySegment h = ring.rxHeader(buf);
                            assertEquals(linux_h.VIRTIO_NET_HDR_GSO_TCPV4(), h.get(ValueLayout.JAVA_BYTE, 1) & 0x7f,
                                    "trgb got the super-frame whole (TSO4 on)");
                            assertEquals(mss, Short.toUnsignedInt(h.get(ValueLayout.JAVA_SHORT, 4)));
                            assertArrayEquals(bytes, ring.rxFrame(buf).asSlice(RingFrames.ETH + 40, payload).toArray(ValueLayout.JAVA_BYTE));
                            received = true;
                        }
                        ring.release(buf);
                    }
                }
                assertTrue(written, "the write completed");
                assertTrue(received, "trgb read the 4 KiB GSO frame through the ring");
            }
        }
    }


    @Test
    void kernelTcpCrossesTheUringForwarderWithOffloadsOn() throws Exception {
        forwardTcp(UringForwarder.Engine.URING);
    }

    @Test
    void forcedFallbackSaysWhyAndForwardsOnTheReadvPath() throws Exception {
        String before = System.getProperty(UringProbe.PROPERTY);
        System.setProperty(UringProbe.PROPERTY, "off");
        try {
            String why = TapRing.unavailableReason().orElseThrow();
            assertTrue(why.contains("DISABLED") && why.contains("readv/writev"), why);
            try (Tap t = open(ns, "trf0")) {
                TapException e = assertThrows(TapException.class, () -> TapRing.open(List.of(t), TapRing.Config.defaults(1, 4, 2048)));
                assertEquals(TapException.Kind.URING_UNAVAILABLE, e.kind());
                assertTrue(e.getMessage().contains("DISABLED"), e.getMessage());
            }
            forwardTcp(UringForwarder.Engine.READV);
        } finally {
            if (before == null) {
                System.clearProperty(UringProbe.PROPERTY);
            } else {
                System.setProperty(UringProbe.PROPERTY, before);
            }
        }
    }

    /** The kernel's TCP from ns through a UringForwarder into ns2; SHA-256 of what arrived. */
    private void forwardTcp(UringForwarder.Engine expected) throws Exception {
        ScratchNamespace ns2 = ScratchNamespace.create("nettap-tr2");
        try (Tap a = open(ns, "tfa0"); Tap b = open(ns2, "tfb0")) {
            TcpThrough.prepare(ns, a, ns2, b);
            UringForwarder f = new UringForwarder(List.of(a), List.of(b), 32);
            Thread fwd = Thread.ofPlatform().start(f);
            try {
                String[] sums = TcpThrough.transfer(ns.path(), ns2.path(), TcpThrough.TO_ADDRESS, 4 << 20);
                assertEquals(sums[0], sums[1], "bytes and SHA-256 of what the kernel's TCP delivered through the forwarder");
            } finally {
                f.stop();
                fwd.join(10_000);
            }
            assertFalse(fwd.isAlive(), "stop() ended the forwarder");
            assertEquals(expected, f.engine());
            assertEquals(UringForwarder.Outcome.STOPPED, f.outcome());
            assertTrue(f.frames() > 0 && f.bytes() >= 4 << 20, f.frames() + " frames, " + f.bytes() + " bytes");
        } finally {
            ns2.close();
        }
    }
}
