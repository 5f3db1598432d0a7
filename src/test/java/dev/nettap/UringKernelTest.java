package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.uring.Completions;
import dev.nettap.internal.uring.IoUring;
import dev.nettap.tool.ScratchNamespace;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
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
        for (String key : List.of("all", "default")) { // no IPv6 chatter on the devices made from here on
            ScratchNamespace.Result r = ns.exec("sysctl", "-w", "net.ipv6.conf." + key + ".disable_ipv6=1");
            assertEquals(0, r.exitCode(), r.output());
        }
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
                MemorySegment[] rx = {data.asSlice(0, Tap.VNET_HDR_SIZE), data.asSlice(64, 2048)};
                MemorySegment txHdr = data.asSlice(4096, Tap.VNET_HDR_SIZE); // zero: no offload
                MemorySegment txFrame = data.asSlice(4160, 2048);
                RingFrames.Kind[] kind = new RingFrames.Kind[1];
                // One submission: a poll, linked to the readv it lets through (the fd is O_NONBLOCK).
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
                                int len = res > Tap.VNET_HDR_SIZE
                                        ? RingFrames.reply(rx[1], res - Tap.VNET_HDR_SIZE, txFrame, MAC, PEER_IP, kind) : 0;
                                if (len > 0) {
                                    assertTrue(ring.prepWritev(fd, 0, new MemorySegment[] {txHdr, txFrame.asSlice(0, len)}, 2,
                                            UD_WRITE + ((long) len << 8) + ((long) kind[0].ordinal() << 32)));
                                }
                                assertTrue(ring.prepPollAdd(fd, IoUring.LINK, linux_h.POLLIN(), UD_POLL));
                                assertTrue(ring.prepReadv(fd, 0, rx, 2, UD_READ));
                            } else if ((done.userData(i) & 0xff) == UD_WRITE) {
                                long ud = done.userData(i);
                                assertEquals(Tap.VNET_HDR_SIZE + ((ud >>> 8) & 0xffffff), done.result(i), "writev result");
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
                                    MemorySegment frame = buffers.asSlice((long) id * ring.bufferSize() + Tap.VNET_HDR_SIZE,
                                            res - Tap.VNET_HDR_SIZE);
                                    // reply built straight into "guest memory", written from there as a fixed buffer
                                    MemorySegment slot = guestMemory.asSlice(replyAt, 2048);
                                    slot.asSlice(0, Tap.VNET_HDR_SIZE).fill((byte) 0);
                                    int len = RingFrames.reply(frame, res - Tap.VNET_HDR_SIZE, slot.asSlice(Tap.VNET_HDR_SIZE),
                                            MAC, PEER_IP, kind);
                                    if (len > 0) {
                                        assertTrue(ring.prepWriteFixed(0, IoUring.FIXED_FILE, replyAt, Tap.VNET_HDR_SIZE + len,
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
                                assertTrue(done.result(i) > Tap.VNET_HDR_SIZE, "fixed write result " + done.result(i));
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
}
