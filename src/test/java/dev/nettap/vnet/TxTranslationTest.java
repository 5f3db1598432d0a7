package dev.nettap.vnet;

import static dev.nettap.vnet.Frames.put16;
import static dev.nettap.vnet.Frames.put8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.vnet.FrameException.Reason;
import dev.nettap.vnet.Frames.Frame;
import dev.nettap.vnet.VirtioNetHdr.Flag;
import dev.nettap.vnet.VirtioNetHdr.GsoType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

class TxTranslationTest {

    private static final int TCP = Checksums.PROTO_TCP;
    private static final int UDP = Checksums.PROTO_UDP;

    private static MemorySegment hdr() {
        return MemorySegment.ofArray(new byte[VirtioNetHdr.SIZE]);
    }

    private static void assertHeader(MemorySegment h, boolean needsCsum, int start, int offset, int hdrLen,
                                     GsoType gso, int gsoSize) {
        assertEquals(needsCsum, VirtioNetHdr.hasFlag(h, Flag.NEEDS_CSUM), "NEEDS_CSUM");
        assertFalse(VirtioNetHdr.hasFlag(h, Flag.DATA_VALID), "DATA_VALID");
        assertEquals(start, VirtioNetHdr.csumStart(h), "csum_start");
        assertEquals(offset, VirtioNetHdr.csumOffset(h), "csum_offset");
        assertEquals(hdrLen, VirtioNetHdr.hdrLen(h), "hdr_len");
        assertEquals(gso, VirtioNetHdr.gsoType(h), "gso_type");
        assertFalse(VirtioNetHdr.gsoEcn(h), "ECN");
        assertEquals(gsoSize, VirtioNetHdr.gsoSize(h), "gso_size");
        assertEquals(0, VirtioNetHdr.numBuffers(h), "num_buffers");
    }

    @Test
    void tso4NdisFrameIsRepaired() {
        Frame f = Frames.build(14, true, TCP, 0, 4 * 1448, 0, 1);
        byte[] correct = f.bytes();
        Frames.ndisify(f);
        MemorySegment h = hdr();
        assertTrue(Frames.translate(Frames.tso(f, 1448), f.seg(), h));
        assertHeader(h, true, 34, 16, 54, GsoType.TCPV4, 1448);
        assertEquals(20 + 20 + 4 * 1448, f.ipLengthField(), "IPv4 total length rewritten");
        assertArrayEquals(correct, f.bytes(), "the repaired frame equals the correctly built one");
        Frames.assertSeedCompletesToValidChecksum(f);
    }

    /**
     * The kernel measures a TSO frame's payload past 20 bytes of TCP header: with options, a
     * payload up to the MSS would stay GSO and be dropped by its segmentation. Up to the MSS after
     * the real header (data offset) the frame goes out checksum-only; one byte more is TSO.
     */
    @Test
    void tsoOfOneSegmentAfterTheTcpOptionsIsSentChecksumOnly() {
        for (boolean v4 : new boolean[] {true, false}) {
            int l3 = v4 ? 20 : 40;
            int start = 14 + l3;
            for (int mss : new int[] {1000, 999}) {
                // 1008 bytes after 20 bytes of TCP header: 8 bytes of options (NOPs), 1000 of payload.
                Frame f = Frames.build(14, v4, TCP, 0, 1008, 0, 12);
                Frames.put8(f.seg(), start + 12, 0x70);
                for (int i = 0; i < 8; i++) {
                    Frames.put8(f.seg(), start + 20 + i, 1);
                }
                Frames.put8(f.seg(), start + 13, 0x80 | 0x10);   // CWR + ACK: the ECN bit only with GSO
                Frames.ndisify(f);
                MemorySegment h = hdr();
                TxMetadata md = Frames.tso(f, mss).l4Length(0).tcpEcn(true);
                Frames.translate(md, f.seg(), h);
                if (mss == 1000) {
                    assertHeader(h, true, start, 16, start + 28, GsoType.NONE, 0);
                } else {
                    assertEquals(v4 ? GsoType.TCPV4 : GsoType.TCPV6, VirtioNetHdr.gsoType(h), "v4=" + v4);
                    assertEquals(999, VirtioNetHdr.gsoSize(h));
                    assertEquals(start + 28, VirtioNetHdr.hdrLen(h));
                    assertTrue(VirtioNetHdr.gsoEcn(h));
                }
                assertEquals(l3 - (v4 ? 0 : 40) + 1028, f.ipLengthField(), "the NDIS length is repaired either way");
                Frames.assertSeedCompletesToValidChecksum(f);
            }
        }
    }

    @Test
    void tso4WithoutIpv4ChecksumRequestStillFixesTheHeaderItChanged() {
        Frame f = Frames.build(14, true, TCP, 0, 3000, 0, 2);
        byte[] correct = f.bytes();
        Frames.ndisify(f);
        TxMetadata md = Frames.tso(f, 1000).ipv4HeaderChecksum(false);
        Frames.translate(md, f.seg(), hdr());
        assertArrayEquals(correct, f.bytes());
    }

    @Test
    void tso4AlreadyCorrectFrameIsUnchanged() {
        Frame f = Frames.build(14, true, TCP, 0, 5000, 0, 3);
        byte[] before = f.bytes();
        MemorySegment h = hdr();
        assertFalse(Frames.translate(Frames.tso(f, 1460), f.seg(), h));
        assertArrayEquals(before, f.bytes());
        assertHeader(h, true, 34, 16, 54, GsoType.TCPV4, 1460);
    }

    @Test
    void tso4PaddedFrameKeepsItsIpLength() {
        // 14 + 20 + 20 + 2 = 56 bytes, padded to the Ethernet minimum of 60.
        Frame f = Frames.build(14, true, TCP, 0, 2, 4, 4);
        byte[] before = f.bytes();
        assertFalse(Frames.translate(Frames.tso(f, 1460), f.seg(), hdr()));
        assertArrayEquals(before, f.bytes());
        assertEquals(42, f.ipLengthField());
    }

    @Test
    void tso4PaddedFrameIsWrittenWithoutItsPadding() {
        Frame f = Frames.build(14, true, TCP, 0, 2, 4, 4);
        assertEquals(56, OffloadTranslation.buildTxHeader(Frames.tso(f, 1460), f.seg(), hdr()));
        Frame g = Frames.build(14, false, UDP, 0, 3000, 9, 4);
        TxMetadata md = new TxMetadata().ipVersion(IpVersion.IPV6).l2Length(14).l3Length(40).udpSegmentation(1000);
        assertEquals(g.seg().byteSize() - 9, OffloadTranslation.buildTxHeader(md, g.seg(), hdr()));
    }

    @Test
    void tso4PaddedNdisFrameTakesTheLengthFromTheFrame() {
        // A zeroed length cannot be told from padding: the whole frame after L2 counts.
        Frame f = Frames.build(14, true, TCP, 0, 100, 6, 5);
        Frames.ndisify(f);
        Frames.translate(Frames.tso(f, 1460), f.seg(), hdr());
        assertEquals(f.seg().byteSize() - 14, f.ipLengthField());
        Frames.assertSeedCompletesToValidChecksum(f);
    }

    @Test
    void tso4InconsistentLengthIsRewritten() {
        Frame f = Frames.build(14, true, TCP, 0, 3000, 0, 6);
        byte[] correct = f.bytes();
        put16(f.seg(), 16, 65000); // longer than the frame
        Checksums.setIpv4HeaderChecksum(f.seg(), 14);
        put16(f.seg(), 14 + 20 + 16, Frames.seed(f, 0));
        assertTrue(Frames.translate(Frames.tso(f, 1000), f.seg(), hdr()));
        assertArrayEquals(correct, f.bytes());
    }

    @Test
    void tso6NdisFrameIsRepaired() {
        Frame f = Frames.build(14, false, TCP, 0, 3 * 1440, 0, 7);
        byte[] correct = f.bytes();
        Frames.ndisify(f);
        MemorySegment h = hdr();
        assertTrue(Frames.translate(Frames.tso(f, 1440), f.seg(), h));
        assertHeader(h, true, 54, 16, 74, GsoType.TCPV6, 1440);
        assertArrayEquals(correct, f.bytes());
        Frames.assertSeedCompletesToValidChecksum(f);
    }

    @Test
    void tso6WithExtensionHeadersSeedsTheUpperLayerLength() {
        Frame f = Frames.build(14, false, TCP, 24, 4000, 0, 8); // hop-by-hop 8 + dest opts 16
        byte[] correct = f.bytes();
        Frames.ndisify(f);
        MemorySegment h = hdr();
        Frames.translate(Frames.tso(f, 1000), f.seg(), h);
        assertHeader(h, true, 14 + 64, 16, 14 + 64 + 20, GsoType.TCPV6, 1000);
        assertArrayEquals(correct, f.bytes());
        Frames.assertSeedCompletesToValidChecksum(f);
    }

    @Test
    void tso6AlreadyCorrectAndPaddedFramesAreUnchanged() {
        for (int pad : new int[] {0, 7}) {
            Frame f = Frames.build(14, false, TCP, 8, 2000, pad, 9);
            byte[] before = f.bytes();
            assertFalse(Frames.translate(Frames.tso(f, 1000), f.seg(), hdr()));
            assertArrayEquals(before, f.bytes(), "padding " + pad);
        }
    }

    @Test
    void tso6AuthenticationHeaderLengthRule() {
        // Fixed header, then AH (next = TCP, payload len 4 -> (4 + 2) * 4 = 24 bytes), then TCP.
        Frame base = Frames.build(0, false, TCP, 0, 500, 0, 10);
        int ah = 24;
        MemorySegment s = MemorySegment.ofArray(new byte[(int) base.seg().byteSize() + ah]);
        MemorySegment.copy(base.seg(), 0, s, 0, 40);
        MemorySegment.copy(base.seg(), 40, s, 40 + ah, base.seg().byteSize() - 40);
        put8(s, 6, 51);
        put8(s, 40, TCP);
        put8(s, 41, 4);
        Frame f = new Frame(s, 0, 40 + ah, 20, false, TCP);
        Frames.ndisify(f);
        MemorySegment h = hdr();
        Frames.translate(Frames.tso(f, 200), s, h);
        assertEquals(64, VirtioNetHdr.csumStart(h));
        assertEquals(base.seg().byteSize() - 40 + ah, Frames.u16(s, 4), "payload length includes AH");
        Frames.assertSeedCompletesToValidChecksum(f);
        // A wrong l3Length is caught by the walk.
        TxMetadata wrong = Frames.tso(f, 200).l3Length(40 + 16);
        assertEquals(Reason.L3_LENGTH_MISMATCH, assertThrows(FrameException.class,
                () -> Frames.translate(wrong, s, hdr())).reason());
    }

    @Test
    void usoIpv4AndIpv6() {
        for (boolean v4 : new boolean[] {true, false}) {
            Frame f = Frames.build(14, v4, UDP, 0, 3 * 1200, 0, 11);
            byte[] correct = f.bytes();
            Frames.ndisify(f);
            TxMetadata md = new TxMetadata().ipVersion(v4 ? IpVersion.IPV4 : IpVersion.IPV6).l2Length(14)
                    .l3Length(f.l3()).l4Length(8).udpSegmentation(1200).ipv4HeaderChecksum(true);
            MemorySegment h = hdr();
            assertTrue(Frames.translate(md, f.seg(), h));
            int start = 14 + f.l3();
            assertHeader(h, true, start, 6, start + 8, GsoType.UDP_L4, 1200);
            assertArrayEquals(correct, f.bytes());
            Frames.assertSeedCompletesToValidChecksum(f);
        }
    }

    /**
     * Found by the kernel oracle (OffloadOracleKernelTest): with a UDP length field of 0 the kernel's
     * USO derives every datagram's seed from that 0 and sends bad checksums. The translation
     * rewrites the field to the L4 length it seeds with, in IPv4, IPv6 and TUN mode.
     */
    @Test
    void usoZeroOrWrongUdpLengthIsRewritten() {
        for (int l2 : new int[] {14, 0}) {
            for (boolean v4 : new boolean[] {true, false}) {
                for (int bad : new int[] {0, 9, 0xFFFF}) {
                    Frame f = Frames.build(l2, v4, UDP, 0, 2 * 1000 + 7, 0, 12);
                    byte[] correct = f.bytes();
                    Frames.ndisify(f);
                    int start = l2 + f.l3();
                    put16(f.seg(), start + 4, bad);
                    TxMetadata md = new TxMetadata().ipVersion(v4 ? IpVersion.IPV4 : IpVersion.IPV6).l2Length(l2)
                            .l3Length(f.l3()).l4Length(8).udpSegmentation(1000).ipv4HeaderChecksum(true);
                    assertTrue(Frames.translate(md, f.seg(), hdr()));
                    assertEquals(8 + 2 * 1000 + 7, Frames.u16(f.seg(), start + 4), "UDP length rewritten");
                    assertArrayEquals(correct, f.bytes(), "l2 " + l2 + " v4 " + v4 + " bad " + bad);
                    Frames.assertSeedCompletesToValidChecksum(f);
                }
            }
        }
    }

    @Test
    void usoPaddedFrameKeepsItsUdpLength() {
        Frame f = Frames.build(14, true, UDP, 0, 10, 8, 13);
        byte[] before = f.bytes();
        TxMetadata md = new TxMetadata().ipVersion(IpVersion.IPV4).l2Length(14).l3Length(20).l4Length(8)
                .udpSegmentation(1000).ipv4HeaderChecksum(true);
        assertFalse(Frames.translate(md, f.seg(), hdr()));
        assertArrayEquals(before, f.bytes());
        assertEquals(18, Frames.u16(f.seg(), 14 + 20 + 4));
    }

    @Test
    void tcpChecksumOffloadTunModeLeavesTheSeed() {
        Frame f = Frames.build(0, true, TCP, 0, 700, 0, 12);
        put16(f.seg(), 10, 0); // IPv4 header checksum left to us
        byte[] before = f.bytes();
        TxMetadata md = new TxMetadata().ipVersion(IpVersion.IPV4).l3Length(20).l4Length(20).tcpChecksum(true)
                .ipv4HeaderChecksum(true);
        MemorySegment h = hdr();
        assertTrue(Frames.translate(md, f.seg(), h));
        assertHeader(h, true, 20, 16, 40, GsoType.NONE, 0);
        assertEquals(0xFFFF, Checksums.rfc1071(f.seg(), 0, 20), "IPv4 header checksum computed");
        byte[] after = f.bytes();
        after[10] = before[10];
        after[11] = before[11];
        assertArrayEquals(before, after, "only the IPv4 checksum changed");
        Frames.assertSeedCompletesToValidChecksum(f);
    }

    @Test
    void udpChecksumOffloadIpv6() {
        Frame f = Frames.build(14, false, UDP, 0, 333, 0, 13);
        byte[] before = f.bytes();
        TxMetadata md = new TxMetadata().ipVersion(IpVersion.IPV6).l2Length(14).l3Length(40).udpChecksum(true);
        MemorySegment h = hdr();
        assertFalse(Frames.translate(md, f.seg(), h));
        assertHeader(h, true, 54, 6, 62, GsoType.NONE, 0);
        assertArrayEquals(before, f.bytes());
    }

    @Test
    void noOffloadZeroesTheHeaderAndLeavesTheFrame() {
        Frame f = Frames.build(14, true, TCP, 0, 100, 0, 14);
        put16(f.seg(), 24, 0xBEEF); // even a wrong IPv4 checksum is left alone
        byte[] before = f.bytes();
        MemorySegment h = hdr();
        h.fill((byte) 0x5A);
        assertFalse(Frames.translate(new TxMetadata().l2Length(14), f.seg(), h));
        assertArrayEquals(new byte[12], h.toArray(ValueLayout.JAVA_BYTE));
        assertArrayEquals(before, f.bytes());
    }

    @Test
    void ipv4HeaderChecksumAloneWithOptions() {
        Frame f = Frames.build(14, true, UDP, 0, 10, 0, 15);
        put8(f.seg(), 14, 0x46); // claims 24 bytes of header; the 4 "option" bytes are UDP's ports
        put16(f.seg(), 24, 0);
        MemorySegment h = hdr();
        TxMetadata md = new TxMetadata().ipVersion(IpVersion.IPV4).l2Length(14).ipv4HeaderChecksum(true);
        assertTrue(Frames.translate(md, f.seg(), h));
        assertEquals(0xFFFF, Checksums.rfc1071(f.seg(), 14, 24));
        assertArrayEquals(new byte[12], h.toArray(ValueLayout.JAVA_BYTE));
        // For an IPv6 frame the request is ignored.
        Frame g = Frames.build(14, false, UDP, 0, 10, 0, 16);
        byte[] before = g.bytes();
        Frames.translate(new TxMetadata().ipVersion(IpVersion.IPV6).ipv4HeaderChecksum(true),
                g.seg(), h);
        assertArrayEquals(before, g.bytes());
    }

    @Test
    void priorityTsoThenUsoThenTcpThenUdp() {
        Frame t = Frames.build(14, true, TCP, 0, 3000, 0, 17);
        MemorySegment h = hdr();
        Frames.translate(Frames.tso(t, 1000).udpChecksum(true).udpSegmentation(500), t.seg(), h);
        assertEquals(GsoType.TCPV4, VirtioNetHdr.gsoType(h));
        assertEquals(1000, VirtioNetHdr.gsoSize(h));

        Frame u = Frames.build(14, true, UDP, 0, 3000, 0, 18);
        TxMetadata md = new TxMetadata().ipVersion(IpVersion.IPV4).l2Length(14).l3Length(20).l4Length(8)
                .udpSegmentation(500).tcpChecksum(true).udpChecksum(true);
        Frames.translate(md, u.seg(), h);
        assertEquals(GsoType.UDP_L4, VirtioNetHdr.gsoType(h));
        assertEquals(6, VirtioNetHdr.csumOffset(h));

        md.clear().ipVersion(IpVersion.IPV4).l2Length(14).l3Length(20).tcpChecksum(true).udpChecksum(true);
        Frames.translate(md, t.seg(), h);
        assertEquals(16, VirtioNetHdr.csumOffset(h));
        assertEquals(GsoType.NONE, VirtioNetHdr.gsoType(h));
        // ...and TCP wins over UDP even on a UDP frame, which the protocol check then refuses.
        assertEquals(Reason.L4_PROTOCOL_MISMATCH, assertThrows(FrameException.class,
                () -> Frames.translate(md, u.seg(), hdr())).reason());
    }

    @Test
    void l4LengthZeroIsReadFromTheTcpDataOffset() {
        Frame f = Frames.build(14, true, TCP, 0, 100, 0, 19);
        MemorySegment h = hdr();
        Frames.translate(Frames.tso(f, 50).l4Length(0), f.seg(), h);
        assertEquals(54, VirtioNetHdr.hdrLen(h));
    }

    @Test
    void legacyTenByteHeaderIsWritten() {
        Frame f = Frames.build(14, true, TCP, 0, 3000, 0, 20);
        MemorySegment h = MemorySegment.ofArray(new byte[VirtioNetHdr.LEGACY_SIZE]);
        Frames.translate(Frames.tso(f, 1000), f.seg(), h);
        assertEquals(1000, VirtioNetHdr.gsoSize(h));
        assertEquals(34, VirtioNetHdr.csumStart(h));
    }

    @Test
    void worksOnNativeSegments() {
        Frame f = Frames.build(14, false, TCP, 0, 2000, 0, 21);
        byte[] correct = f.bytes();
        Frames.ndisify(f);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment frame = arena.allocate(f.seg().byteSize());
            frame.copyFrom(f.seg());
            MemorySegment h = arena.allocate(VirtioNetHdr.LAYOUT);
            Frames.translate(Frames.tso(f, 1000), frame, h);
            assertArrayEquals(correct, frame.toArray(ValueLayout.JAVA_BYTE));
            assertEquals(GsoType.TCPV6, VirtioNetHdr.gsoType(h));
        }
    }

    // ------------------------------------------------------------------------------ oversize

    @Test
    void ipv4OversizeIsRefused() {
        Frame f = Frames.build(14, true, TCP, 0, 65535 - 40 + 1, 0, 22); // total length would be 65536
        Frames.ndisify(f);
        assertRefused(f, Frames.tso(f, 1460), Reason.L3_PAYLOAD_TOO_LARGE);
    }

    @Test
    void ipv4LargestFrameIsAccepted() {
        assertNdisLargeSendRepaired(Frames.build(14, true, TCP, 0, 65535 - 40, 0, 23), 1460);
    }

    /** {@code f} handed over as an NDIS large send with {@code mss} is translated back into exactly {@code f}. */
    private static void assertNdisLargeSendRepaired(Frame f, int mss) {
        byte[] correct = f.bytes();
        Frames.ndisify(f);
        Frames.translate(Frames.tso(f, mss), f.seg(), hdr());
        assertArrayEquals(correct, f.bytes());
    }

    @Test
    void ipv6OversizeIsRefusedAndLargestAccepted() {
        Frame big = Frames.build(14, false, TCP, 0, 65535 - 20 + 1, 0, 24);
        Frames.ndisify(big);
        assertRefused(big, Frames.tso(big, 1440), Reason.L3_PAYLOAD_TOO_LARGE);
        assertNdisLargeSendRepaired(Frames.build(14, false, TCP, 0, 65535 - 20, 0, 25), 1440);
    }

    // ------------------------------------------------------------------------------ bad input

    @Test
    void anL4LengthThatDisagreesWithTheFrameIsRefusedBeforeAnythingIsWritten() {
        for (boolean v4 : new boolean[] {true, false}) {
            IpVersion ip = v4 ? IpVersion.IPV4 : IpVersion.IPV6;
            Frame udp = Frames.build(14, v4, UDP, 0, 3 * 1000, 0, 41);
            Frames.ndisify(udp); // the seed and lengths need writing: a refusal must come first
            for (int l4 : new int[] {4, 7, 9, 20}) {
                assertRefused(udp, new TxMetadata().ipVersion(ip).l2Length(14).l3Length(udp.l3()).l4Length(l4)
                        .udpSegmentation(1000).ipv4HeaderChecksum(v4), Reason.L4_LENGTH_MISMATCH);
                assertRefused(udp, new TxMetadata().ipVersion(ip).l2Length(14).l3Length(udp.l3()).l4Length(l4)
                        .udpChecksum(true), Reason.L4_LENGTH_MISMATCH);
            }
            Frame tcp = Frames.build(14, v4, TCP, 0, 3000, 0, 42);
            Frames.ndisify(tcp);
            for (int l4 : new int[] {8, 19, 21, 40}) { // the data offset is 20 bytes
                assertRefused(tcp, Frames.tso(tcp, 1000).l4Length(l4), Reason.L4_LENGTH_MISMATCH);
            }
            Frames.translate(Frames.tso(tcp, 1000).l4Length(20), tcp.seg(), hdr()); // the exact one is accepted
        }
    }

    private static void assertRefused(Frame f, TxMetadata md, Reason reason) {
        assertRefused(f.seg(), md, reason);
    }

    private static void assertRefused(MemorySegment frame, TxMetadata md, Reason reason) {
        byte[] before = frame.toArray(ValueLayout.JAVA_BYTE);
        MemorySegment h = hdr();
        h.fill((byte) 0xA5);
        assertEquals(OffloadTranslation.REFUSED, OffloadTranslation.buildTxHeader(md, frame, h));
        assertEquals(reason, md.refusal(), md.refusalMessage());
        assertFalse(md.frameChanged());
        assertArrayEquals(before, frame.toArray(ValueLayout.JAVA_BYTE), "frame unchanged");
        byte[] pattern = new byte[12];
        java.util.Arrays.fill(pattern, (byte) 0xA5);
        assertArrayEquals(pattern, h.toArray(ValueLayout.JAVA_BYTE), "header unchanged");
    }

    private static Frame ndisTso4() {
        Frame f = Frames.build(14, true, TCP, 0, 3000, 0, 30);
        Frames.ndisify(f);
        return f;
    }

    @Test
    void lengthsBeyondTheFrame() {
        Frame f = ndisTso4();
        assertRefused(f, Frames.tso(f, 1000).l4Length(4000), Reason.LENGTHS_BEYOND_FRAME);
        assertRefused(f, Frames.tso(f, 1000).l2Length(3100), Reason.LENGTHS_BEYOND_FRAME);
    }

    @Test
    void csumBeyondTheFrame() {
        // A UDP checksum offload on a frame that ends right after the UDP source port.
        Frame f = Frames.build(14, true, UDP, 0, 0, 0, 31);
        MemorySegment cut = MemorySegment.ofArray(f.seg().asSlice(0, 14 + 20 + 6).toArray(ValueLayout.JAVA_BYTE));
        TxMetadata md = new TxMetadata().ipVersion(IpVersion.IPV4).l2Length(14).l3Length(20).udpChecksum(true);
        put16(cut, 16, 26);
        assertRefused(cut, md, Reason.CSUM_BEYOND_FRAME);
    }

    @Test
    void tsoWithMssZeroAndOversizedMss() {
        Frame f = ndisTso4();
        assertRefused(f, Frames.tso(f, 0), Reason.SEGMENT_SIZE_ZERO);
        assertRefused(f, Frames.tso(f, 70_000), Reason.FIELD_OVERFLOW);
        TxMetadata uso = new TxMetadata().ipVersion(IpVersion.IPV4).l2Length(14).l3Length(20).udpSegmentation(0);
        Frame u = Frames.build(14, true, UDP, 0, 100, 0, 32);
        assertRefused(u, uso, Reason.SEGMENT_SIZE_ZERO);
    }

    @Test
    void ihlBelowFive() {
        Frame f = ndisTso4();
        put8(f.seg(), 14, 0x44);
        assertRefused(f, Frames.tso(f, 1000), Reason.IHL_TOO_SMALL);
        assertRefused(f, new TxMetadata().ipVersion(IpVersion.IPV4).l2Length(14).ipv4HeaderChecksum(true),
                Reason.IHL_TOO_SMALL);
    }

    @Test
    void frameShorterThanClaimedHeaders() {
        // IHL 15 (60 bytes) in a 14 + 50 byte frame.
        MemorySegment s = MemorySegment.ofArray(new byte[64]);
        put8(s, 14, 0x4F);
        assertRefused(s, new TxMetadata().ipVersion(IpVersion.IPV4).l2Length(14).ipv4HeaderChecksum(true),
                Reason.FRAME_TOO_SHORT);
        // A TCP data offset of 15 words past the end.
        Frame f = Frames.build(14, true, TCP, 0, 10, 0, 33);
        put8(f.seg(), 14 + 20 + 12, 0xF0);
        assertRefused(f, Frames.tso(f, 1000).l4Length(0), Reason.FRAME_TOO_SHORT);
        // An IPv6 header cut short, and an extension header that runs past the end.
        MemorySegment v6 = MemorySegment.ofArray(new byte[14 + 30]);
        put8(v6, 14, 0x60);
        TxMetadata md6 = new TxMetadata().ipVersion(IpVersion.IPV6).l2Length(14).tcpChecksum(true);
        assertRefused(v6, md6, Reason.FRAME_TOO_SHORT);
        Frame g = Frames.build(14, false, TCP, 8, 10, 0, 34);
        put8(g.seg(), 14 + 41, 200);
        assertRefused(g, Frames.tso(g, 100), Reason.FRAME_TOO_SHORT);
        // No room for the IP header at all.
        assertRefused(MemorySegment.ofArray(new byte[14]),
                new TxMetadata().ipVersion(IpVersion.IPV4).l2Length(14).tcpChecksum(true), Reason.FRAME_TOO_SHORT);
    }

    @Test
    void unknownIpVersion() {
        Frame f = ndisTso4();
        assertRefused(f, Frames.tso(f, 1000).ipVersion(IpVersion.UNSPECIFIED), Reason.UNKNOWN_IP_VERSION);
        put8(f.seg(), 14, 0x55);
        assertRefused(f, Frames.tso(f, 1000), Reason.UNKNOWN_IP_VERSION);
    }

    @Test
    void ipVersionMismatch() {
        Frame f = ndisTso4();
        assertRefused(f, Frames.tso(f, 1000).ipVersion(IpVersion.IPV6).l3Length(40), Reason.IP_VERSION_MISMATCH);
    }

    @Test
    void l3LengthMismatchAndBadTcpDataOffset() {
        Frame f = ndisTso4();
        assertRefused(f, Frames.tso(f, 1000).l3Length(24), Reason.L3_LENGTH_MISMATCH);
        put8(f.seg(), 14 + 20 + 12, 0x40);
        assertRefused(f, Frames.tso(f, 1000), Reason.BAD_HEADER_FIELD);
    }

    @Test
    void headerSegmentTooSmall() {
        Frame f = ndisTso4();
        byte[] before = f.bytes();
        FrameException e = assertThrows(FrameException.class,
                () -> Frames.translate(Frames.tso(f, 1000), f.seg(), MemorySegment.ofArray(new byte[9])));
        assertEquals(Reason.HEADER_TOO_SMALL, e.reason());
        assertArrayEquals(before, f.bytes());
    }

    @Test
    void messagesNameTheFieldAndValues() {
        Frame f = ndisTso4();
        TxMetadata md = Frames.tso(f, 1000).l4Length(4000);
        assertEquals(OffloadTranslation.REFUSED, OffloadTranslation.buildTxHeader(md, f.seg(), hdr()));
        String m = md.refusalMessage();
        assertTrue(m.contains("l4Length = " + (14 + 20 + 4000)), m);
        assertTrue(m.contains(String.valueOf(f.seg().byteSize())), m);
        assertEquals(m, md.refusalException().getMessage());
        assertTrue(md.toString().contains(m), md.toString());
    }

    @Test
    void negativeLengthsAreRefusedBySetters() {
        TxMetadata md = new TxMetadata();
        for (Consumer<TxMetadata> c : java.util.List.<Consumer<TxMetadata>>of(m -> m.l2Length(-1),
                m -> m.l3Length(-1), m -> m.l4Length(-1), m -> m.tcpSegmentation(-1), m -> m.udpSegmentation(-5))) {
            assertThrows(IllegalArgumentException.class, () -> c.accept(md));
        }
    }

    @Test
    void advertisedOffloadsCoverEveryPathAndAreImmutable() {
        assertEquals(java.util.EnumSet.allOf(TxOffload.class), OffloadTranslation.TAP_TX_OFFLOADS);
        assertThrows(UnsupportedOperationException.class,
                () -> OffloadTranslation.TAP_TX_OFFLOADS.remove(TxOffload.USO));
    }

    // ------------------------------------------------------------------------------ issue 9: hostile guest

    private static int seedWith(MemorySegment s, int l2, boolean v4, long src, long dst, int proto, int l4Length) {
        return Checksums.pseudoHeaderSum(s, src, dst, v4 ? 4 : 16, proto, l4Length);
    }

    /** IPv6 + routing header (type, addresses, segments left) + TCP, NDIS-style seed. */
    private static Frame ipv6Routed(int type, int addresses, int left, int payload) {
        Frame base = Frames.build(14, false, TCP, 0, payload, 0, 40 + type);
        int rh = 8 + 16 * addresses;
        MemorySegment s = MemorySegment.ofArray(new byte[(int) base.seg().byteSize() + rh]);
        MemorySegment.copy(base.seg(), 0, s, 0, 54);
        MemorySegment.copy(base.seg(), 54, s, 54 + rh, base.seg().byteSize() - 54);
        put8(s, 14 + 6, 43);
        put8(s, 54, TCP);
        put8(s, 55, 2 * addresses);
        put8(s, 56, type);
        put8(s, 57, left);
        for (int i = 0; i < addresses; i++) {
            for (int j = 0; j < 16; j++) {
                put8(s, 54 + 8 + 16 * i + j, 0x20 + 16 * i + j);
            }
        }
        put16(s, 14 + 4, (int) s.byteSize() - 54);
        return new Frame(s, 14, 40 + rh, 20, false, TCP);
    }

    @Test
    void ipv6RoutingHeaderWithSegmentsLeftSeedsFromTheFinalDestination() {
        int[][] cases = {{0, 3, 2, 54 + 8 + 32}, {0, 2, 0, 14 + 24}, {2, 1, 1, 54 + 8}, {4, 3, 2, 54 + 8}, {4, 2, 0, 14 + 24}};
        for (int[] c : cases) {
            Frame f = ipv6Routed(c[0], c[1], c[2], 3000);
            TxMetadata md = Frames.tso(f, 1000);
            MemorySegment h = hdr();
            assertEquals(f.seg().byteSize(), OffloadTranslation.buildTxHeader(md, f.seg(), h), () -> md.refusalMessage());
            int l4Len = (int) f.seg().byteSize() - 14 - f.l3();
            assertEquals(seedWith(f.seg(), 14, false, 14 + 8, c[3], TCP, l4Len), f.l4Checksum(),
                    "type " + c[0] + " addresses " + c[1] + " left " + c[2]);
        }
        // RPL (type 3) and unknown types with segments left: no final destination to read.
        for (int type : new int[] {3, 5, 253}) {
            Frame f = ipv6Routed(type, 2, 1, 3000);
            assertRefused(f, Frames.tso(f, 1000), Reason.FINAL_DESTINATION_UNKNOWN);
            // ...but with no segments left the header's destination is final.
            Frame g = ipv6Routed(type, 2, 0, 3000);
            assertTrue(OffloadTranslation.buildTxHeader(Frames.tso(g, 1000), g.seg(), hdr()) > 0);
        }
        // Segments left beyond the addresses, and a second routing header.
        Frame bad = ipv6Routed(0, 1, 2, 100);
        assertRefused(bad, Frames.tso(bad, 50), Reason.FINAL_DESTINATION_UNKNOWN);
    }

    /** IPv4 with a NOP and a source route option (kind, addresses, pointer) + TCP. */
    private static Frame ipv4Routed(int kind, int addresses, int pointer, int payload) {
        Frame base = Frames.build(14, true, TCP, 0, payload, 0, 50 + kind);
        int opt = 3 + 4 * addresses;
        int optBytes = (1 + opt + 3) / 4 * 4;
        MemorySegment s = MemorySegment.ofArray(new byte[(int) base.seg().byteSize() + optBytes]);
        MemorySegment.copy(base.seg(), 0, s, 0, 34);
        MemorySegment.copy(base.seg(), 34, s, 34 + optBytes, base.seg().byteSize() - 34);
        put8(s, 14, 0x40 | (20 + optBytes) / 4);
        put16(s, 16, (int) s.byteSize() - 14);
        put8(s, 34, 1);
        put8(s, 35, kind);
        put8(s, 36, opt);
        put8(s, 37, pointer);
        for (int i = 0; i < 4 * addresses; i++) {
            put8(s, 38 + i, 0x40 + i);
        }
        Checksums.setIpv4HeaderChecksum(s, 14);
        return new Frame(s, 14, 20 + optBytes, 20, true, TCP);
    }

    @Test
    void ipv4SourceRouteSeedsFromTheFinalDestination() {
        for (int kind : new int[] {0x83, 0x89}) {
            Frame f = ipv4Routed(kind, 3, 4, 3000);
            TxMetadata md = Frames.tso(f, 1000);
            assertTrue(OffloadTranslation.buildTxHeader(md, f.seg(), hdr()) > 0, () -> md.refusalMessage());
            int l4Len = (int) f.seg().byteSize() - 14 - f.l3();
            assertEquals(seedWith(f.seg(), 14, true, 26, 35 + 15 - 4, TCP, l4Len), f.l4Checksum(),
                    "the last address of the route");
            // Route used up (pointer past the addresses): the header's destination is final.
            Frame done = ipv4Routed(kind, 2, 4 + 8, 3000);
            OffloadTranslation.buildTxHeader(Frames.tso(done, 1000), done.seg(), hdr());
            assertEquals(seedWith(done.seg(), 14, true, 26, 30, TCP, (int) done.seg().byteSize() - 14 - done.l3()),
                    done.l4Checksum());
            // A malformed route (pointer below 4) is refused.
            Frame bad = ipv4Routed(kind, 1, 3, 100);
            assertRefused(bad, Frames.tso(bad, 50), Reason.FINAL_DESTINATION_UNKNOWN);
        }
        // An option running past the header is refused.
        Frame f = ipv4Routed(0x83, 1, 4, 100);
        put8(f.seg(), 36, 40);
        Checksums.setIpv4HeaderChecksum(f.seg(), 14);
        assertRefused(f, Frames.tso(f, 50), Reason.BAD_HEADER_FIELD);
    }

    @Test
    void bytesAfterTheDatagramAreLeftOutOfTheLengthToWrite() {
        // GSO, Ethernet padding: the datagram's length, the frame untouched.
        Frame f = Frames.build(14, true, TCP, 0, 3000, 17, 60);
        byte[] before = f.bytes();
        TxMetadata md = Frames.tso(f, 1000);
        assertEquals(14 + 20 + 20 + 3000, OffloadTranslation.buildTxHeader(md, f.seg(), hdr()));
        assertFalse(md.frameChanged());
        assertArrayEquals(before, f.bytes());
        // A total length shorter than the buffer (garbage after it).
        Frame g = Frames.build(14, false, UDP, 0, 3000, 500, 61);
        TxMetadata u = new TxMetadata().ipVersion(IpVersion.IPV6).l2Length(14).l3Length(40).udpSegmentation(1000);
        assertEquals(14 + 40 + 8 + 3000, OffloadTranslation.buildTxHeader(u, g.seg(), hdr()));
        // Checksum only, padded: the same.
        Frame c = Frames.build(14, true, UDP, 0, 5, 20, 62);
        TxMetadata cs = new TxMetadata().ipVersion(IpVersion.IPV4).l2Length(14).l3Length(20).udpChecksum(true);
        assertEquals(14 + 20 + 8 + 5, OffloadTranslation.buildTxHeader(cs, c.seg(), hdr()));
        Frames.assertSeedCompletesToValidChecksum(c);
    }

    @Test
    void the64KiBLimitHoldsWhenTheLengthIsKeptToo() {
        // A consistent total length inside a buffer larger than 64 KiB: only the datagram is written.
        Frame f = Frames.build(14, true, TCP, 0, 1000, 70_000, 63);
        assertEquals(14 + 20 + 20 + 1000, OffloadTranslation.buildTxHeader(Frames.tso(f, 500), f.seg(), hdr()));
        // The same buffer with the length zeroed (NDIS) cannot be described: refused.
        Frames.ndisify(f);
        assertRefused(f, Frames.tso(f, 500), Reason.L3_PAYLOAD_TOO_LARGE);
        // Checksum only too.
        Frame c = Frames.build(14, false, TCP, 0, 65_535 - 20 + 1, 0, 64);
        put16(c.seg(), 18, 0);
        TxMetadata md = new TxMetadata().ipVersion(IpVersion.IPV6).l2Length(14).l3Length(40).tcpChecksum(true);
        assertRefused(c, md, Reason.L3_PAYLOAD_TOO_LARGE);
    }

    @Test
    void checksumOnlyNdisFrameGetsItsLengthAndSeed() {
        for (boolean v4 : new boolean[] {true, false}) {
            Frame f = Frames.build(14, v4, TCP, 0, 777, 0, 65);
            byte[] correct = f.bytes();
            Frames.ndisify(f);
            TxMetadata md = new TxMetadata().ipVersion(v4 ? IpVersion.IPV4 : IpVersion.IPV6).l2Length(14)
                    .l3Length(f.l3()).tcpChecksum(true).ipv4HeaderChecksum(v4);
            assertEquals(correct.length, OffloadTranslation.buildTxHeader(md, f.seg(), hdr()));
            assertTrue(md.frameChanged());
            assertArrayEquals(correct, f.bytes(), "v4 " + v4);
        }
    }

    @Test
    void gsoSizeOfGsoByFragsIsRefused() {
        Frame f = ndisTso4();
        assertRefused(f, Frames.tso(f, 0xFFFF), Reason.SEGMENT_SIZE_RESERVED);
        Frame u = Frames.build(14, true, UDP, 0, 100, 0, 66);
        assertRefused(u, new TxMetadata().ipVersion(IpVersion.IPV4).l2Length(14).l3Length(20).udpSegmentation(0xFFFF),
                Reason.SEGMENT_SIZE_RESERVED);
        assertTrue(OffloadTranslation.buildTxHeader(Frames.tso(f, 0xFFFE), f.seg(), hdr()) > 0);
    }

    @Test
    void usoBeyondUdpMaxSegmentsIsRefused() {
        for (boolean v4 : new boolean[] {true, false}) {
            Frame ok = Frames.build(14, v4, UDP, 0, 128 * 10, 0, 67);
            TxMetadata md = new TxMetadata().ipVersion(v4 ? IpVersion.IPV4 : IpVersion.IPV6).l2Length(14)
                    .l3Length(ok.l3()).udpSegmentation(10);
            assertTrue(OffloadTranslation.buildTxHeader(md, ok.seg(), hdr()) > 0, "128 datagrams");
            Frame over = Frames.build(14, v4, UDP, 0, 128 * 10 + 1, 0, 67);
            assertRefused(over, md, Reason.TOO_MANY_SEGMENTS);
        }
    }

    @Test
    void fragmentsAreRefused() {
        // TSO6 with a fragment header (the kernel would drop it silently).
        Frame base = Frames.build(14, false, TCP, 0, 3000, 0, 68);
        MemorySegment s = MemorySegment.ofArray(new byte[(int) base.seg().byteSize() + 8]);
        MemorySegment.copy(base.seg(), 0, s, 0, 54);
        MemorySegment.copy(base.seg(), 54, s, 62, base.seg().byteSize() - 54);
        put8(s, 20, 44);
        put8(s, 54, TCP);
        put16(s, 18, (int) s.byteSize() - 54);
        Frame f = new Frame(s, 14, 48, 20, false, TCP);
        assertRefused(f, Frames.tso(f, 1000), Reason.FRAGMENTED);
        assertRefused(f, new TxMetadata().ipVersion(IpVersion.IPV6).l2Length(14).l3Length(48).tcpChecksum(true),
                Reason.FRAGMENTED);
        // IPv4 with MF, or a fragment offset.
        for (int frag : new int[] {0x2000, 0x0001, 0x4000 | 0x0100}) {
            Frame g = Frames.build(14, true, TCP, 0, 3000, 0, 69);
            put16(g.seg(), 20, frag);
            Checksums.setIpv4HeaderChecksum(g.seg(), 14);
            assertRefused(g, Frames.tso(g, 1000), Reason.FRAGMENTED);
        }
    }

    @Test
    void readOnlySegmentsAreRefusedBeforeAnythingIsWritten() {
        Frame f = ndisTso4();
        byte[] before = f.bytes();
        MemorySegment ro = MemorySegment.ofArray(new byte[12]).asReadOnly();
        assertThrows(IllegalArgumentException.class, () -> OffloadTranslation.buildTxHeader(Frames.tso(f, 1000), f.seg(), ro));
        assertArrayEquals(before, f.bytes(), "the NDIS fix-ups were not written");
        MemorySegment h = hdr();
        h.fill((byte) 0x5A);
        assertThrows(IllegalArgumentException.class,
                () -> OffloadTranslation.buildTxHeader(Frames.tso(f, 1000), f.seg().asReadOnly(), h));
        assertArrayEquals(before, f.bytes());
        byte[] pattern = new byte[12];
        java.util.Arrays.fill(pattern, (byte) 0x5A);
        assertArrayEquals(pattern, h.toArray(ValueLayout.JAVA_BYTE), "header not written");
        // A read-only frame that needs no fix-up is fine.
        Frame ok = Frames.build(14, true, TCP, 0, 3000, 0, 70);
        assertTrue(OffloadTranslation.buildTxHeader(Frames.tso(ok, 1000), ok.seg().asReadOnly(), hdr()) > 0);
    }

    @Test
    void hugeLengthsDoNotWrap() {
        Frame f = ndisTso4();
        TxMetadata md = Frames.tso(f, 1000).l2Length(Integer.MAX_VALUE).l3Length(Integer.MAX_VALUE).l4Length(Integer.MAX_VALUE);
        assertRefused(f, md, Reason.LENGTHS_BEYOND_FRAME);
        assertRefused(f, Frames.tso(f, 1000).l2Length(Integer.MAX_VALUE).l3Length(2).l4Length(0), Reason.LENGTHS_BEYOND_FRAME);
        // csum_start past 16 bits, inside a (heap) frame that has the bytes.
        MemorySegment big = MemorySegment.ofArray(new byte[70_100]);
        put8(big, 70_000, 0x45);
        put8(big, 70_009, TCP);
        put8(big, 70_000 + 20 + 12, 0x50);
        assertRefused(big, new TxMetadata().ipVersion(IpVersion.IPV4).l2Length(70_000).l3Length(20).tcpChecksum(true),
                Reason.FIELD_OVERFLOW);
        assertEquals(Reason.FRAME_TOO_SHORT, assertThrows(FrameException.class,
                () -> Checksums.ipv4HeaderChecksum(big, Long.MAX_VALUE)).reason());
        assertEquals(Reason.FRAME_TOO_SHORT, assertThrows(FrameException.class,
                () -> Checksums.ipv4HeaderChecksum(big, Long.MAX_VALUE - 5)).reason());
        assertEquals(Reason.FRAME_TOO_SHORT, assertThrows(FrameException.class,
                () -> Checksums.ipv4HeaderChecksum(big, Long.MIN_VALUE)).reason());
    }

    @Test
    void ecnBitForTcpSegmentationOnly() {
        Frame f = Frames.build(14, true, TCP, 0, 3000, 0, 71);
        MemorySegment h = hdr();
        OffloadTranslation.buildTxHeader(Frames.tso(f, 1000), f.seg(), h);
        assertFalse(VirtioNetHdr.gsoEcn(h), "no CWR, not asked");
        OffloadTranslation.buildTxHeader(Frames.tso(f, 1000).tcpEcn(true), f.seg(), h);
        assertTrue(VirtioNetHdr.gsoEcn(h), "asked");
        assertEquals(GsoType.TCPV4, VirtioNetHdr.gsoType(h));
        put8(f.seg(), 14 + 20 + 13, 0x18 | 0x80);
        OffloadTranslation.buildTxHeader(Frames.tso(f, 1000), f.seg(), h);
        assertTrue(VirtioNetHdr.gsoEcn(h), "CWR in the frame");
        // Checksum only, and USO: never (the kernel refuses the bit there).
        OffloadTranslation.buildTxHeader(new TxMetadata().ipVersion(IpVersion.IPV4).l2Length(14).l3Length(20)
                .tcpChecksum(true).tcpEcn(true), f.seg(), h);
        assertFalse(VirtioNetHdr.gsoEcn(h));
        Frame u = Frames.build(14, true, UDP, 0, 3000, 0, 72);
        OffloadTranslation.buildTxHeader(new TxMetadata().ipVersion(IpVersion.IPV4).l2Length(14).l3Length(20)
                .udpSegmentation(1000).tcpEcn(true), u.seg(), h);
        assertFalse(VirtioNetHdr.gsoEcn(h));
        assertFalse(new TxMetadata().tcpEcn(true).clear().tcpEcn(), "clear() resets it");
    }

    @Test
    void aRefusalLeavesTheOutcomeAndAnAcceptanceClearsIt() {
        Frame f = ndisTso4();
        TxMetadata md = Frames.tso(f, 0xFFFF);
        assertEquals(OffloadTranslation.REFUSED, OffloadTranslation.buildTxHeader(md, f.seg(), hdr()));
        assertEquals(Reason.SEGMENT_SIZE_RESERVED, md.refusal());
        assertTrue(md.refusalMessage().contains("65535"), md.refusalMessage());
        md.tcpSegmentation(1000);
        assertTrue(OffloadTranslation.buildTxHeader(md, f.seg(), hdr()) > 0);
        assertEquals(null, md.refusal());
        assertEquals(null, md.refusalMessage());
        assertEquals(null, md.refusalException());
        assertTrue(md.frameChanged());
    }
}
