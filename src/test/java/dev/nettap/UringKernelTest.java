package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.uring.Completions;
import dev.nettap.internal.uring.IoUring;
import dev.nettap.tool.ScratchNamespace;
import dev.nettap.vnet.VirtioNetHdr;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The io_uring engine against real TAPs in a scratch namespace: the kernel's {@code ping} answered
 * through the ring (reads and writes, plain and fixed, readv and multishot), batching across two
 * devices, a CQ that overflows, close with requests in flight, GSO frames with offloads on.
 */
@KernelAccess
@Timeout(300)
class UringKernelTest {
    static final byte[] MAC = {2, 0, 0, 0, 0, 0x21};
    static final String PEER_MAC = "02:00:00:00:00:21";
    static final int KERNEL_IP = 0x0a_62_00_01; // 10.98.0.1, the namespace's side
    static final int PEER_IP = 0x0a_62_00_02;   // 10.98.0.2, answered through the ring
    static final long NANOS_100MS = 100_000_000L;
    private static final long UD_POLL = 1, UD_READ = 2, UD_WRITE = 3;
    private ScratchNamespace ns;

    @BeforeEach
    void setUp() throws IOException {
        ns = ScratchNamespace.create("nettap-ur");
        TestBridge.quiet(ns); // no IPv6 chatter on the devices made from here on
    }

    @AfterEach
    void tearDown() {
        ns.close();
    }

    Tap open(String name) throws TapException {
        return Tap.open(TapHandle.createInNamespace(ns.path(), name, TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE));
    }

    void up(String dev, String cidr) throws IOException {
        ns.ip("addr", "add", cidr, "dev", dev);
        ns.ip("link", "set", dev, "up");
    }

    /** Runs {@code ping -c count} to 10.98.0.2 in the namespace on another thread; returns it. */
    Thread ping(int count, AtomicReference<ScratchNamespace.Result> result) {
        return Thread.ofPlatform().start(() -> {
            try {
                result.set(ns.exec("ping", "-c", Integer.toString(count), "-i", "0.2", "-W", "3", "10.98.0.2"));
            } catch (IOException e) {
                result.set(new ScratchNamespace.Result(-1, e.toString()));
            }
        });
    }

    @Test
    void pingAnsweredThroughLinkedPollAndReadvAndWritev() throws Exception {
        try (Tap tap = open("nur0")) {
            up("nur0", "10.98.0.1/24");
            int fd = tap.fd();
            Completions done = new Completions(16);
            AtomicReference<ScratchNamespace.Result> result = new AtomicReference<>();
            int echoes = 0, arps = 0;
            try (IoUring ring = IoUring.open(16, 0, 16384)) {
                MemorySegment data = ring.data();
                MemorySegment[] rx = {data.asSlice(0, VirtioNetHdr.SIZE), data.asSlice(64, 2048)};
                MemorySegment txHdr = data.asSlice(4096, VirtioNetHdr.SIZE); // zero: no offload
                MemorySegment txFrame = data.asSlice(4160, 2048);
                RingFrames.Kind[] kind = new RingFrames.Kind[1];
                // One submission: a poll linked (IOSQE_IO_LINK) to the readv that runs once it fires.
                assertTrue(ring.prepPollAdd(fd, IoUring.LINK, linux_h.POLLIN(), UD_POLL));
                assertTrue(ring.prepReadv(fd, 0, rx, 2, UD_READ));
                assertEquals(2, ring.submit());
                Thread pinger = ping(3, result);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                try {
                    while (pinger.isAlive() && System.nanoTime() < deadline) {
                        ring.await(done, 1, NANOS_100MS);
                        for (int i = 0; i < done.count(); i++) {
                            if (done.userData(i) == UD_READ) {
                                int res = done.result(i);
                                assertTrue(res > 0 || UringStatus.of(res) == Tap.WOULD_BLOCK, "readv result " + res);
                                int len = res > VirtioNetHdr.SIZE
                                        ? RingFrames.reply(rx[1], res - VirtioNetHdr.SIZE, txFrame, MAC, PEER_IP, kind) : 0;
                                if (len > 0) {
                                    assertTrue(ring.prepWritev(fd, 0, new MemorySegment[] {txHdr, txFrame.asSlice(0, len)}, 2,
                                            UD_WRITE + ((long) len << 8) + ((long) kind[0].ordinal() << 32)));
                                }
                                assertTrue(ring.prepPollAdd(fd, IoUring.LINK, linux_h.POLLIN(), UD_POLL));
                                assertTrue(ring.prepReadv(fd, 0, rx, 2, UD_READ));
                            } else if ((done.userData(i) & 0xff) == UD_WRITE) {
                                long ud = done.userData(i);
                                assertEquals(VirtioNetHdr.SIZE + ((ud >>> 8) & 0xffffff), done.result(i), "writev result");
                                if (ud >>> 32 == RingFrames.Kind.ECHO.ordinal()) {
                                    echoes++;
                                } else {
                                    arps++;
                                }
                            }
                        }
                        ring.submit();
                    }
                } finally {
                    pinger.join(10_000);
                }
                assertTrue(ring.inFlight() > 0, "the read stays armed until close");
            } // close cancels the armed poll and readv
            ScratchNamespace.Result r = result.get();
            assertEquals(0, r.exitCode(), r.output());
            assertTrue(r.output().contains("3 received"), r.output());
            assertEquals(3, echoes, "echo replies written through the ring");
            assertTrue(arps >= 1, "the kernel asked for 10.98.0.2 and got the answer through the ring");
        }
    }

    @Test
    void pingAnsweredThroughMultishotReadAndFixedFileAndFixedBufferWrites() throws Exception {
        try (Tap tap = open("nur1"); java.lang.foreign.Arena guest = java.lang.foreign.Arena.ofConfined()) {
            up("nur1", "10.98.0.1/24");
            Completions done = new Completions(16);
            AtomicReference<ScratchNamespace.Result> result = new AtomicReference<>();
            int echoes = 0, frames = 0;
            MemorySegment guestMemory = guest.allocate(1 << 16, 4096); // "guest memory": one registered region
            try (IoUring ring = IoUring.open(16, 0, 0)) {
                ring.registerFiles(tap.fd());
                ring.registerBuffer(guestMemory);
                ring.setUpBufferRing(7, 8, 4096);
                MemorySegment buffers = ring.bufferData();
                RingFrames.Kind[] kind = new RingFrames.Kind[1];
                assertTrue(ring.prepReadMultishot(0, IoUring.FIXED_FILE, UD_READ));
                assertEquals(1, ring.submit());
                Thread pinger = ping(3, result);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                long replyAt = 0;
                try {
                    while (pinger.isAlive() && System.nanoTime() < deadline) {
                        ring.await(done, 1, NANOS_100MS);
                        for (int i = 0; i < done.count(); i++) {
                            long ud = done.userData(i);
                            if (ud == UD_READ) {
                                int res = done.result(i);
                                int id = done.bufferId(i);
                                if (res > 0) {
                                    assertTrue(id >= 0, "a multishot read names its buffer");
                                    frames++;
                                    MemorySegment frame = buffers.asSlice((long) id * ring.bufferSize() + VirtioNetHdr.SIZE,
                                            res - VirtioNetHdr.SIZE);
                                    // reply built straight into "guest memory", written from there as a fixed buffer
                                    MemorySegment slot = guestMemory.asSlice(replyAt, 2048);
                                    slot.asSlice(0, VirtioNetHdr.SIZE).fill((byte) 0);
                                    int len = RingFrames.reply(frame, res - VirtioNetHdr.SIZE, slot.asSlice(VirtioNetHdr.SIZE),
                                            MAC, PEER_IP, kind);
                                    if (len > 0) {
                                        assertTrue(ring.prepWriteFixed(0, IoUring.FIXED_FILE, replyAt, VirtioNetHdr.SIZE + len,
                                                UD_WRITE + ((long) kind[0].ordinal() << 32)));
                                        replyAt = (replyAt + 2048) % guestMemory.byteSize();
                                    }
                                }
                                if (id >= 0) {
                                    ring.recycleBuffer(id);
                                }
                                if (!done.more(i)) { // ended (e.g. ENOBUFS): arm it again
                                    assertTrue(ring.prepReadMultishot(0, IoUring.FIXED_FILE, UD_READ));
                                }
                            } else if ((ud & 0xff) == UD_WRITE) {
                                assertTrue(done.result(i) > VirtioNetHdr.SIZE, "fixed write result " + done.result(i));
                                echoes += ud >>> 32 == RingFrames.Kind.ECHO.ordinal() ? 1 : 0;
                            }
                        }
                        ring.submit();
                    }
                } finally {
                    pinger.join(10_000);
                }
                assertEquals(1, ring.inFlight(), "one multishot read stays armed for every frame");
            }
            ScratchNamespace.Result r = result.get();
            assertEquals(0, r.exitCode(), r.output());
            assertTrue(r.output().contains("3 received"), r.output());
            assertEquals(3, echoes, "echo replies written from the registered region");
            assertTrue(frames >= 4, "ARP and three echo requests arrived through one multishot read: " + frames);
        }
    }

    @Test
    void oneSubmissionCarriesWritesToTwoDevicesAndTheKernelAnswersBoth() throws Exception {
        try (Tap a = open("nua0"); Tap b = open("nub0")) {
            up("nua0", "10.98.0.1/24");
            up("nub0", "10.97.0.1/24");
            int peerB = 0x0a_61_00_02, kernelB = 0x0a_61_00_01;
            long rxA = a.statistics().kernel().orElseThrow().rxPackets() + a.statistics().kernel().orElseThrow().rxDropped();
            long rxB = b.statistics().kernel().orElseThrow().rxPackets() + b.statistics().kernel().orElseThrow().rxDropped();
            Completions done = new Completions(64);
            int perDevice = 8;
            int writes = 0, repliesA = 0, repliesB = 0;
            try (IoUring ring = IoUring.open(64, 0, 4096)) {
                ring.registerFiles(a.fd(), b.fd());
                ring.setUpBufferRing(1, 64, 2048);
                MemorySegment data = ring.data();
                MemorySegment hdr = data.asSlice(0, VirtioNetHdr.SIZE);
                MemorySegment reqA = data.asSlice(64, 64), reqB = data.asSlice(128, 64);
                int len = RingFrames.arpRequest(reqA, MAC, PEER_IP, KERNEL_IP);
                RingFrames.arpRequest(reqB, MAC, peerB, kernelB);
                MemorySegment[] toA = {hdr, reqA.asSlice(0, len)}, toB = {hdr, reqB.asSlice(0, len)};
                assertTrue(ring.prepReadMultishot(0, IoUring.FIXED_FILE, 100));
                assertTrue(ring.prepReadMultishot(1, IoUring.FIXED_FILE, 101));
                for (int i = 0; i < perDevice; i++) {
                    assertTrue(ring.prepWritev(0, IoUring.FIXED_FILE, toA, 2, 1000 + i));
                    assertTrue(ring.prepWritev(1, IoUring.FIXED_FILE, toB, 2, 2000 + i));
                }
                assertEquals(2 + 2 * perDevice, ring.submit(), "one io_uring_enter takes every request for both devices");
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while ((writes < 2 * perDevice || repliesA == 0 || repliesB == 0) && System.nanoTime() < deadline) {
                    ring.await(done, 1, NANOS_100MS);
                    for (int i = 0; i < done.count(); i++) {
                        long ud = done.userData(i);
                        int res = done.result(i);
                        if (ud >= 1000) {
                            assertEquals(VirtioNetHdr.SIZE + len, res, "write " + ud);
                            writes++;
                        } else {
                            int id = done.bufferId(i);
                            if (res > 0) {
                                MemorySegment f = ring.bufferData().asSlice((long) id * ring.bufferSize() + VirtioNetHdr.SIZE,
                                        res - VirtioNetHdr.SIZE);
                                if (ud == 100 && RingFrames.isArpReply(f, res - VirtioNetHdr.SIZE, KERNEL_IP, PEER_IP)) {
                                    repliesA++;
                                }
                                if (ud == 101 && RingFrames.isArpReply(f, res - VirtioNetHdr.SIZE, kernelB, peerB)) {
                                    repliesB++;
                                }
                            }
                            if (id >= 0) {
                                ring.recycleBuffer(id);
                            }
                            if (!done.more(i)) {
                                assertTrue(ring.prepReadMultishot((int) ud - 100, IoUring.FIXED_FILE, ud));
                            }
                        }
                    }
                }
            }
            assertEquals(2 * perDevice, writes, "every write completed with the frame's length");
            assertTrue(repliesA > 0 && repliesB > 0, "the kernel answered on both devices: " + repliesA + ", " + repliesB);
            assertEquals(perDevice, a.statistics().kernel().orElseThrow().rxPackets() + a.statistics().kernel().orElseThrow().rxDropped() - rxA,
                    "the kernel received (or counted as dropped) every frame written to nua0");
            assertEquals(perDevice, b.statistics().kernel().orElseThrow().rxPackets() + b.statistics().kernel().orElseThrow().rxDropped() - rxB,
                    "... and to nub0");
        }
    }

    @Test
    void completionsBeyondTheCqAreKeptAndReaped() throws Exception {
        try (Tap tap = open("nuo0")) {
            up("nuo0", "10.98.0.1/24");
            int rounds = 3, batch = 4, total = rounds * batch;
            try (IoUring ring = IoUring.open(batch, batch, 4096)) {
                assertEquals(batch, ring.cqEntries());
                MemorySegment data = ring.data();
                MemorySegment hdr = data.asSlice(0, VirtioNetHdr.SIZE), req = data.asSlice(64, 64);
                int len = RingFrames.arpRequest(req, MAC, PEER_IP, KERNEL_IP);
                MemorySegment[] frame = {hdr, req.asSlice(0, len)};
                for (int r = 0; r < rounds; r++) { // nothing reaped in between: 3x what the CQ holds
                    for (int i = 0; i < batch; i++) {
                        assertTrue(ring.prepWritev(tap.fd(), 0, frame, 2, r * batch + i));
                    }
                    assertEquals(batch, ring.submit());
                }
                assertTrue(ring.cqOverflowed(), "the kernel holds completions the CQ had no room for");
                Completions done = new Completions(64);
                boolean[] seen = new boolean[total];
                int reaped = 0;
                for (int attempt = 0; attempt < 50 && reaped < total; attempt++) {
                    ring.await(done, 0, 0);
                    for (int i = 0; i < done.count(); i++) {
                        int ud = (int) done.userData(i);
                        assertFalse(seen[ud], "completion " + ud + " reaped twice");
                        seen[ud] = true;
                        assertEquals(VirtioNetHdr.SIZE + len, done.result(i));
                        reaped++;
                    }
                }
                assertEquals(total, reaped, "every completion arrived, the overflowed ones too");
                assertFalse(ring.cqOverflowed());
                assertEquals(0, ring.droppedCompletions(), "none dropped (IORING_FEAT_NODROP)");
                assertEquals(0, ring.inFlight());
            }
        }
    }

    @Test
    void closeWithRequestsInFlightCancelsWaitsAndLeavesNothingBehind() throws Exception {
        try (Tap tap = open("nuc0")) { // link down: nothing arrives, every read stays armed
            int fd = tap.fd();
            // one warm-up round, so lazily initialised JDK state is not counted as growth
            roundWithRequestsInFlight(fd, -1);
            java.util.Map<Integer, String> fds = KernelFixtures.openFds();
            long mappings = uringMappings();
            long live = IoUring.liveRings();
            for (int round = 0; round < 1000; round++) {
                roundWithRequestsInFlight(fd, mappings);
            }
            KernelFixtures.assertNoLeak(fds);
            assertEquals(mappings, uringMappings(), "io_uring mappings left in /proc/self/maps");
            assertEquals(live, IoUring.liveRings(), "rings whose memory (rings, data, buffers) was not freed");
        }
    }

    private static void roundWithRequestsInFlight(int fd, long mappingsBefore)
            throws Exception {
        IoUring ring = IoUring.open(8, 0, 4096);
        try {
            MemorySegment data = ring.data();
            MemorySegment[] rx = {data.asSlice(0, VirtioNetHdr.SIZE), data.asSlice(64, 2048)};
            ring.setUpBufferRing(3, 4, 2048);
            assertTrue(ring.prepPollAdd(fd, IoUring.LINK, linux_h.POLLIN(), 1));
            assertTrue(ring.prepReadv(fd, 0, rx, 2, 2));
            assertTrue(ring.prepReadMultishot(fd, 0, 3));
            assertTrue(ring.prepPollAdd(fd, 0, linux_h.POLLIN(), 4));
            assertTrue(ring.prepReadv(fd, 0, rx, 2, 5));
            assertEquals(5, ring.submit());
            assertTrue(ring.prepPollAdd(fd, 0, linux_h.POLLIN(), 6)); // prepared, never submitted: close drops it
            assertEquals(1, ring.pending());
            assertTrue(ring.inFlight() >= 4, "requests armed: " + ring.inFlight());
            if (mappingsBefore >= 0) {
                assertEquals(mappingsBefore + 2, uringMappings(), "rings and SQE array show in /proc/self/maps while open");
            }
        } finally {
            ring.close();
        }
        assertEquals(0, ring.inFlight(), "close waited for every completion");
    }

    private static long uringMappings() throws IOException {
        try (var lines = java.nio.file.Files.lines(java.nio.file.Path.of("/proc/self/maps"))) {
            return lines.filter(l -> l.contains("io_uring")).count();
        }
    }

    @Test
    void gsoSuperFrameCrossesABridgeThroughTheRingWithOffloadsOn() throws Exception {
        try (Tap a = open("nga0"); Tap b = open("ngb0")) {
            java.util.Set<Offload> tso = java.util.EnumSet.of(Offload.CSUM, Offload.TSO4);
            a.setOffloads(tso);
            b.setOffloads(tso); // b may be handed the super-frame whole
            TestBridge.join(ns, List.of("nga0", "ngb0"));
            int mss = 1400, payload = 3 * mss, l4 = 20 + payload, frameLen = RingFrames.ETH + 20 + l4;
            Completions done = new Completions(16);
            try (IoUring ring = IoUring.open(16, 0, 1 << 17)) {
                ring.registerFiles(a.fd(), b.fd());
                ring.setUpBufferRing(2, 8, 65536 + VirtioNetHdr.SIZE);
                MemorySegment data = ring.data();
                MemorySegment hdr = data.asSlice(0, VirtioNetHdr.SIZE), frame = data.asSlice(64, frameLen);
                byte[] bytes = new byte[payload];
                new java.util.Random(14).nextBytes(bytes);
                buildTcp4(frame, bytes);
                hdr.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 0, (byte) linux_h.VIRTIO_NET_HDR_F_NEEDS_CSUM());
                hdr.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 1, (byte) linux_h.VIRTIO_NET_HDR_GSO_TCPV4());
                hdr.set(java.lang.foreign.ValueLayout.JAVA_SHORT, 2, (short) (RingFrames.ETH + 40)); // hdr_len
                hdr.set(java.lang.foreign.ValueLayout.JAVA_SHORT, 4, (short) mss);                   // gso_size
                hdr.set(java.lang.foreign.ValueLayout.JAVA_SHORT, 6, (short) (RingFrames.ETH + 20)); // csum_start
                hdr.set(java.lang.foreign.ValueLayout.JAVA_SHORT, 8, (short) 16);                    // csum_offset
                assertTrue(ring.prepReadMultishot(1, IoUring.FIXED_FILE, 1));
                assertTrue(ring.prepWritev(0, IoUring.FIXED_FILE, new MemorySegment[] {hdr, frame}, 2, 2));
                assertEquals(2, ring.submit());
                boolean written = false, received = false;
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (!(written && received) && System.nanoTime() < deadline) {
                    ring.await(done, 1, NANOS_100MS);
                    for (int i = 0; i < done.count(); i++) {
                        if (done.userData(i) == 2) {
                            assertEquals(VirtioNetHdr.SIZE + frameLen, done.result(i), "the GSO frame was accepted whole");
                            written = true;
                            continue;
                        }
                        int id = done.bufferId(i), res = done.result(i);
                        if (res == VirtioNetHdr.SIZE + frameLen) {
                            MemorySegment got = ring.bufferData().asSlice((long) id * ring.bufferSize(), res);
                            assertEquals(linux_h.VIRTIO_NET_HDR_GSO_TCPV4(), got.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 1),
                                    "b got the super-frame unsegmented (TSO4 on)");
                            assertEquals(mss, got.get(java.lang.foreign.ValueLayout.JAVA_SHORT, 4));
                            byte[] payloadGot = got.asSlice(VirtioNetHdr.SIZE + RingFrames.ETH + 40, payload)
                                    .toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                            assertTrue(java.util.Arrays.equals(bytes, payloadGot), "payload bytes identical");
                            received = true;
                        }
                        if (id >= 0) {
                            ring.recycleBuffer(id);
                        }
                        if (!done.more(i)) {
                            assertTrue(ring.prepReadMultishot(1, IoUring.FIXED_FILE, 1));
                        }
                    }
                }
                assertTrue(written, "the write completed");
                assertTrue(received, "ngb0 read the 4 KiB GSO frame through the ring");
            }
        }
    }

    /** Ethernet + IPv4 + TCP (ACK|PSH) around {@code payload}, the checksum field seeded for NEEDS_CSUM. */
    static void buildTcp4(MemorySegment s, byte[] payload) {
        int eth = RingFrames.ETH, l4 = 20 + payload.length;
        for (int i = 0; i < 6; i++) {
            s.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) (i == 0 ? 0x02 : 0x77)); // never learned: flooded
        }
        java.lang.foreign.MemorySegment.copy(MAC, 0, s, java.lang.foreign.ValueLayout.JAVA_BYTE, 6, 6);
        s.set(RingFrames.BE16, 12, (short) 0x0800);
        s.set(java.lang.foreign.ValueLayout.JAVA_BYTE, eth, (byte) 0x45);
        s.set(RingFrames.BE16, eth + 2, (short) (20 + l4));
        s.set(RingFrames.BE16, eth + 6, (short) 0x4000);
        s.set(java.lang.foreign.ValueLayout.JAVA_BYTE, eth + 8, (byte) 64);
        s.set(java.lang.foreign.ValueLayout.JAVA_BYTE, eth + 9, (byte) 6);
        s.set(RingFrames.BE32, eth + 12, 0x0a4d_0001);
        s.set(RingFrames.BE32, eth + 16, 0x0a4d_0002);
        dev.nettap.vnet.Checksums.setIpv4HeaderChecksum(s, eth);
        int t = eth + 20;
        s.set(RingFrames.BE16, t, (short) 40000);
        s.set(RingFrames.BE16, t + 2, (short) 5001);
        s.set(RingFrames.BE32, t + 4, 1000);
        s.set(RingFrames.BE32, t + 8, 1);
        s.set(java.lang.foreign.ValueLayout.JAVA_BYTE, t + 12, (byte) 0x50);
        s.set(java.lang.foreign.ValueLayout.JAVA_BYTE, t + 13, (byte) 0x18);
        s.set(RingFrames.BE16, t + 14, (short) 0xffff);
        java.lang.foreign.MemorySegment.copy(payload, 0, s, java.lang.foreign.ValueLayout.JAVA_BYTE, t + 20, payload.length);
        s.set(RingFrames.BE16, t + 16, (short) dev.nettap.vnet.Checksums.pseudoHeaderSumIpv4(s, eth, 6, l4));
    }


    @Test
    void readvOnTheNonBlockingTapWaitsForAFrameInsteadOfWouldBlock() throws Exception {
        try (Tap tap = open("nuw0")) { // Tap.open made the fd O_NONBLOCK; io_uring polls a pollable file anyway
            try (IoUring ring = IoUring.open(4, 0, 4096)) {
                MemorySegment data = ring.data();
                MemorySegment[] rx = {data.asSlice(0, VirtioNetHdr.SIZE), data.asSlice(64, 2048)};
                assertTrue(ring.prepReadv(tap.fd(), 0, rx, 2, 9));
                Completions done = new Completions(4);
                assertEquals(0, ring.await(done, 1, 300_000_000L), "link down: nothing to read, and no EAGAIN either");
                assertEquals(1, ring.inFlight());
                up("nuw0", "10.98.0.1/24");
                Thread pinger = ping(1, new AtomicReference<>()); // the kernel asks who-has 10.98.0.2
                try {
                    assertEquals(1, ring.await(done, 1, TimeUnit.SECONDS.toNanos(5)));
                } finally {
                    pinger.join(10_000);
                }
                assertEquals(9, done.userData(0));
                int res = done.result(0);
                assertEquals(VirtioNetHdr.SIZE + 42, res, "an ARP request, header included");
                assertEquals(res, UringStatus.of(res));
                assertEquals(0x0806, Short.toUnsignedInt(rx[1].get(RingFrames.BE16, 12)));
            }
        }
    }

    @Test
    void multishotReadEndsWithEnobufsWhileTheCallerHoldsEveryBufferAndResumesAfterRecycling() throws Exception {
        try (Tap tap = open("nue0")) {
            up("nue0", "10.98.0.1/24");
            Completions done = new Completions(16);
            try (IoUring ring = IoUring.open(16, 0, 4096)) {
                ring.registerFiles(tap.fd());
                ring.setUpBufferRing(5, 2, 2048);
                MemorySegment data = ring.data();
                MemorySegment hdr = data.asSlice(0, VirtioNetHdr.SIZE), req = data.asSlice(64, 64);
                int len = RingFrames.arpRequest(req, MAC, PEER_IP, KERNEL_IP);
                MemorySegment[] frame = {hdr, req.asSlice(0, len)};
                assertTrue(ring.prepReadMultishot(0, IoUring.FIXED_FILE, 1));
                for (int i = 0; i < 4; i++) { // four requests: four ARP replies for two buffers
                    assertTrue(ring.prepWritev(0, IoUring.FIXED_FILE, frame, 2, 10 + i));
                }
                assertEquals(5, ring.submit());
                java.util.List<Integer> held = new java.util.ArrayList<>();
                boolean enobufs = false;
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (!enobufs && System.nanoTime() < deadline) {
                    ring.await(done, 1, NANOS_100MS);
                    for (int i = 0; i < done.count(); i++) {
                        if (done.userData(i) != 1) {
                            continue;
                        }
                        if (done.result(i) > 0) {
                            held.add(done.bufferId(i)); // not recycled: the caller still reads it
                        } else {
                            assertEquals(-linux_h.ENOBUFS(), done.result(i));
                            assertFalse(done.more(i), "ENOBUFS ends the multishot read");
                            assertEquals(Tap.NO_BUFFER_SPACE, UringStatus.of(done.result(i)));
                            enobufs = true;
                        }
                    }
                }
                assertTrue(enobufs, "the read ran out of buffers");
                assertEquals(List.of(0, 1), held.stream().sorted().toList(), "both buffers were handed over first");
                for (int id : held) {
                    ring.recycleBuffer(id);
                }
                assertTrue(ring.prepReadMultishot(0, IoUring.FIXED_FILE, 2));
                assertTrue(ring.prepWritev(0, IoUring.FIXED_FILE, frame, 2, 20));
                ring.submit();
                boolean resumed = false;
                deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (!resumed && System.nanoTime() < deadline) {
                    ring.await(done, 1, NANOS_100MS);
                    for (int i = 0; i < done.count(); i++) {
                        if (done.userData(i) == 2 && done.result(i) > 0) {
                            MemorySegment f = ring.bufferData().asSlice((long) done.bufferId(i) * ring.bufferSize()
                                    + VirtioNetHdr.SIZE, done.result(i) - VirtioNetHdr.SIZE);
                            resumed = RingFrames.isArpReply(f, done.result(i) - VirtioNetHdr.SIZE, KERNEL_IP, PEER_IP);
                        }
                    }
                }
                assertTrue(resumed, "the re-armed read received the next ARP reply into a recycled buffer");
            }
        }
    }

    @Test
    void kernelTcpCrossesARingForwarderBetweenTwoNamespacesWithOffloadsOn() throws Exception {
        ScratchNamespace ns2 = ScratchNamespace.create("nettap-ur2");
        try (Tap a = open("nfa0");
             Tap b = Tap.open(TapHandle.createInNamespace(ns2.path(), "nfb0", TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE))) {
            TcpThrough.prepare(ns, a, ns2, b);
            int bytes = 4 << 20; // the kernel of ns sends, the kernel of ns2 receives; the ring below forwards
            TcpThrough.Transfer tcp = TcpThrough.start(ns.path(), ns2.path(), TcpThrough.TO_ADDRESS, bytes);
            long frames = 0, superFrames = 0;
            String[] sums;
            Completions done = new Completions(64);
            try (IoUring ring = IoUring.open(64, 256, 0)) {
                ring.registerFiles(a.fd(), b.fd());
                int size = 65536 + VirtioNetHdr.SIZE;
                ring.setUpBufferRing(9, 32, size);
                MemorySegment buffers = ring.bufferData();
                assertTrue(ring.prepReadMultishot(0, IoUring.FIXED_FILE, 0));
                assertTrue(ring.prepReadMultishot(1, IoUring.FIXED_FILE, 1));
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
                while (tcp.running() && System.nanoTime() < deadline) {
                    ring.await(done, 1, 20_000_000L);
                    for (int i = 0; i < done.count(); i++) {
                        long ud = done.userData(i);
                        int res = done.result(i);
                        if (ud >= 0x100) { // a forwarded frame was written: its buffer goes back
                            assertTrue(res > VirtioNetHdr.SIZE, "forwarding write result " + res);
                            ring.recycleBuffer((int) (ud >>> 8) - 1);
                            continue;
                        }
                        int from = (int) ud, id = done.bufferId(i);
                        if (res > 0) {
                            frames++;
                            superFrames += res > VirtioNetHdr.SIZE + 1514 ? 1 : 0;
                            while (!ring.prepWrite(1 - from, IoUring.FIXED_FILE, buffers, (long) id * size, res,
                                    (long) (id + 1) << 8)) {
                                ring.submit(); // SQ full: hand over what is queued, then queue this one
                            }
                        } else if (id >= 0) {
                            ring.recycleBuffer(id);
                        }
                        if (!done.more(i)) {
                            assertTrue(ring.prepReadMultishot(from, IoUring.FIXED_FILE, from));
                        }
                    }
                    ring.submit();
                }
            } finally {
                sums = tcp.finish(Duration.ofSeconds(10));
            }
            assertTrue(sums[0].startsWith(bytes + " "), "client: " + sums[0]);
            assertEquals(sums[0], sums[1], "bytes and SHA-256 of what the kernel's TCP delivered through the ring");
            assertTrue(frames > 0 && superFrames > 0, "frames " + frames + ", GSO super-frames " + superFrames);
        } finally {
            ns2.close();
        }
    }

    @Test
    void aRegisteredTapIsReleasedWhenCloseReturns() throws Exception {
        for (int round = 0; round < 20; round++) { // the kernel's own ring teardown is asynchronous: repeat
            Tap tap = open("nur9");
            try (IoUring ring = IoUring.open(4, 0, 4096)) {
                ring.registerFiles(tap.fd());
                MemorySegment data = ring.data();
                assertTrue(ring.prepReadv(0, IoUring.FIXED_FILE, new MemorySegment[] {data.asSlice(0, 12), data.asSlice(64, 2048)},
                        2, 1));
                assertEquals(1, ring.submit());
            } finally {
                tap.close();
            }
            // nothing holds the queue any more: the (non-persistent) device is gone at once, and the
            // same name attaches again without EBUSY
            assertFalse(ns.hasLink("nur9"), "round " + round + ": the ring still held the TAP after close");
        }
        open("nur9").close();
    }
}
