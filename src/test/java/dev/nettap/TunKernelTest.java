package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.tool.EchoResponder;
import dev.nettap.tool.ScratchNamespace;
import dev.nettap.vnet.Checksums;
import dev.nettap.vnet.FrameException;
import dev.nettap.vnet.IpVersion;
import dev.nettap.vnet.OffloadTranslation;
import dev.nettap.vnet.TxMetadata;
import dev.nettap.vnet.VirtioNetHdr;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetAddress;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** TUN mode end to end: echo over IPv4 and IPv6, and a TSO packet segmented by the kernel. */
@KernelAccess
@Timeout(60)
class TunKernelTest {
    private static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt BE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private ScratchNamespace ns;

    @BeforeEach
    void namespace() throws IOException {
        ns = ScratchNamespace.create("nettap-tun");
    }

    @AfterEach
    void remove() {
        ns.close();
    }

    @Test
    void echoOverIpv4AndIpv6ThroughTheDemoResponder() throws Exception {
        try (Tap tun = Tap.open(TapHandle.createInNamespace(ns.path(), "ntn0", TapMode.TUN))) {
            assertEquals(TapMode.TUN, tun.mode());
            tun.device().setUp(true);
            ns.ip("addr", "add", "10.94.2.1/24", "dev", "ntn0");
            ns.ip("-6", "addr", "add", "fd00:94::1/64", "dev", "ntn0", "nodad");
            EchoResponder r = new EchoResponder(tun, new byte[6], 0x0a5e0202) // 10.94.2.2
                    .ipv6(InetAddress.getByName("fd00:94::2").getAddress());
            AtomicBoolean stop = new AtomicBoolean();
            Thread t = Thread.ofPlatform().start(() -> r.run(stop::get, line -> { }));
            ScratchNamespace.Result v4;
            ScratchNamespace.Result v6;
            try {
                v4 = ns.exec("ping", "-c", "3", "-i", "0.2", "-w", "10", "10.94.2.2");
                v6 = ns.exec("ping", "-6", "-c", "3", "-i", "0.2", "-w", "10", "fd00:94::2");
            } finally {
                stop.set(true);
                t.join();
                r.close();
            }
            assertEquals(0, v4.exitCode(), v4.output());
            assertEquals(0, v6.exitCode(), v6.output());
            assertTrue(v4.output().contains("3 received") && v6.output().contains("3 received"),
                    v4.output() + v6.output());
        }
    }

    @Test
    void aTunDeviceWithoutNoPiIsRefusedWithoutTouchingIt() throws Exception {
        Map<Integer, String> before = KernelFixtures.openFds();
        int fd = KernelFixtures.rawSetIff(ns.path(), "ntp0".getBytes(StandardCharsets.US_ASCII),
                linux_h.IFF_TUN() | linux_h.IFF_VNET_HDR());
        assertTrue(fd >= 0, "raw TUNSETIFF: " + fd);
        TapException e = assertThrows(TapException.class, () -> Tap.open(TapHandle.ofInheritedFd(fd, null)));
        assertEquals(TapException.Kind.UNSUPPORTED_FLAGS, e.kind(), e.getMessage());
        assertTrue(e.getMessage().contains("without IFF_NO_PI"), e.getMessage());
        KernelFixtures.assertNoLeak(before);
    }

    @Test
    void l2LengthZeroIsTunOnly() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment frame = arena.allocate(60);
            MemorySegment hdr = arena.allocate(VirtioNetHdr.SIZE);
            TxMetadata md = new TxMetadata().l2Length(0);
            hdr.fill((byte) 0x5a);
            assertEquals(OffloadTranslation.REFUSED, TapMode.TAP.buildTxHeader(md, frame, hdr));
            assertEquals(FrameException.Reason.L2_LENGTH_FOR_MODE, md.refusal(), md.refusalMessage());
            md.l2Length(14);
            assertEquals(OffloadTranslation.REFUSED, TapMode.TUN.buildTxHeader(md, frame, hdr));
            assertEquals(FrameException.Reason.L2_LENGTH_FOR_MODE, md.refusal(), md.refusalMessage());
            for (int i = 0; i < VirtioNetHdr.SIZE; i++) {
                assertEquals(0x5a, hdr.get(ValueLayout.JAVA_BYTE, i), "a refusal writes nothing");
            }
            assertEquals(frame.byteSize(), TapMode.TAP.buildTxHeader(md, frame, hdr), "no offload asked: header cleared");
            assertEquals(0, hdr.get(ValueLayout.JAVA_BYTE, 0));
        }
    }

    @Test
    void aTsoPacketWrittenToATunIsSegmentedByTheKernel() throws Exception {
        int mss = 1000;
        int payloadLength = 3 * mss + 500;
        byte[] payload = new byte[payloadLength];
        for (int i = 0; i < payloadLength; i++) {
            payload[i] = (byte) (i * 7 + (i >> 8));
        }
        try (Tap in = Tap.open(TapHandle.createInNamespace(ns.path(), "ntt0", TapMode.TUN));
             Tap out = Tap.open(TapHandle.createInNamespace(ns.path(), "ntt1", TapMode.TUN));
             Arena arena = Arena.ofConfined()) {
            // Packets from 10.94.0.2 (behind ntt0) to 10.94.1.2 (behind ntt1) are forwarded; ntt1 has
            // no offloads, so the kernel segments and checksums in software before handing them over.
            ns.ip("addr", "add", "10.94.0.1/24", "dev", "ntt0");
            ns.ip("addr", "add", "10.94.1.1/24", "dev", "ntt1");
            in.device().setUp(true);
            out.device().setUp(true);
            assertEquals(0, ns.exec("sysctl", "-qw", "net.ipv4.ip_forward=1").exitCode());

            int total = 20 + 20 + payloadLength;
            MemorySegment pkt = arena.allocate(total);
            pkt.set(ValueLayout.JAVA_BYTE, 0, (byte) 0x45);
            pkt.set(BE16, 2, (short) total);
            pkt.set(BE16, 4, (short) 0x1234);
            pkt.set(BE16, 6, (short) 0x4000); // DF
            pkt.set(ValueLayout.JAVA_BYTE, 8, (byte) 64);
            pkt.set(ValueLayout.JAVA_BYTE, 9, (byte) 6);
            pkt.set(BE32, 12, 0x0a5e0002); // 10.94.0.2
            pkt.set(BE32, 16, 0x0a5e0102); // 10.94.1.2
            pkt.set(BE16, 20, (short) 40000);
            pkt.set(BE16, 22, (short) 5001);
            pkt.set(BE32, 24, 1000);       // seq
            pkt.set(BE32, 28, 1);          // ack
            pkt.set(ValueLayout.JAVA_BYTE, 32, (byte) 0x50);
            pkt.set(ValueLayout.JAVA_BYTE, 33, (byte) 0x18); // PSH|ACK
            pkt.set(BE16, 34, (short) 0xffff);
            MemorySegment.copy(payload, 0, pkt, ValueLayout.JAVA_BYTE, 40, payloadLength);
            MemorySegment hdr = arena.allocate(VirtioNetHdr.SIZE);
            TxMetadata md = new TxMetadata().ipVersion(IpVersion.IPV4).l2Length(0).l3Length(20).l4Length(20)
                    .tcpSegmentation(mss).ipv4HeaderChecksum(true);
            assertEquals(pkt.byteSize(), TapMode.TUN.buildTxHeader(md, pkt, hdr), md.refusalMessage());
            assertEquals(total, in.write(hdr, pkt), "the kernel took the super-packet");

            MemorySegment rhdr = arena.allocate(VirtioNetHdr.SIZE);
            MemorySegment buf = arena.allocate(65535);
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            int segments = 0;
            long expectSeq = 1000;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (got.size() < payloadLength && System.nanoTime() < deadline) {
                out.awaitReadable(Duration.ofMillis(100));
                long n;
                while ((n = out.read(rhdr, buf)) >= 0) {
                    if (n < 40 || (buf.get(ValueLayout.JAVA_BYTE, 0) & 0xf0) != 0x40
                            || buf.get(ValueLayout.JAVA_BYTE, 9) != 6 || Short.toUnsignedInt(buf.get(BE16, 22)) != 5001) {
                        continue; // not ours
                    }
                    segments++;
                    int len = Short.toUnsignedInt(buf.get(BE16, 2));
                    assertEquals(n, len, "IP total length of segment " + segments);
                    assertEquals(0, rhdr.get(ValueLayout.JAVA_BYTE, 1), "a plain packet, no GSO left");
                    assertEquals(63, buf.get(ValueLayout.JAVA_BYTE, 8) & 0xff, "forwarded: TTL 63");
                    assertEquals(0xffff, Checksums.rfc1071(buf, 0, 20), "IPv4 header checksum of segment " + segments);
                    int tcpLen = len - 20;
                    int sum = Checksums.rfc1071(buf, 20, tcpLen, Checksums.pseudoHeaderSumIpv4(buf, 0, 6, tcpLen));
                    assertEquals(0xffff, sum, "TCP checksum of segment " + segments);
                    assertEquals(expectSeq, buf.get(BE32, 24) & 0xffffffffL, "sequence number");
                    int data = tcpLen - 20;
                    assertTrue(data <= mss, "segment of " + data + " bytes, MSS " + mss);
                    got.write(buf.asSlice(40, data).toArray(ValueLayout.JAVA_BYTE));
                    expectSeq += data;
                }
            }
            assertEquals(4, segments, "3 full segments and one of 500 bytes");
            assertArrayEquals(payload, got.toByteArray(), "the payload, in order");
        }
    }
}
