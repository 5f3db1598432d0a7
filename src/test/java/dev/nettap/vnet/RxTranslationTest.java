package dev.nettap.vnet;

import static dev.nettap.vnet.Frames.put8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.vnet.FrameException.Reason;
import dev.nettap.vnet.Frames.Frame;
import dev.nettap.vnet.RxMetadata.ChecksumState;
import dev.nettap.vnet.RxMetadata.L4Protocol;
import dev.nettap.vnet.VirtioNetHdr.Flag;
import dev.nettap.vnet.VirtioNetHdr.GsoType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RxTranslationTest {

    private static final int TCP = Checksums.PROTO_TCP;
    private static final int UDP = Checksums.PROTO_UDP;

    private static MemorySegment partialHdr(int start, int offset, int bogusHdrLen) {
        MemorySegment h = MemorySegment.ofArray(new byte[VirtioNetHdr.SIZE]);
        VirtioNetHdr.setFlag(h, Flag.NEEDS_CSUM, true);
        VirtioNetHdr.setCsumStart(h, start);
        VirtioNetHdr.setCsumOffset(h, offset);
        VirtioNetHdr.setHdrLen(h, bogusHdrLen);
        return h;
    }

    @Test
    void dataValidMeansGood() {
        Frame f = Frames.build(14, true, TCP, 0, 100, 0, 1);
        MemorySegment h = MemorySegment.ofArray(new byte[VirtioNetHdr.SIZE]);
        VirtioNetHdr.setFlag(h, Flag.DATA_VALID, true);
        RxMetadata md = new RxMetadata();
        OffloadTranslation.parseRxHeader(h, f.seg(), md);
        assertEquals(ChecksumState.GOOD, md.ipChecksum());
        assertEquals(ChecksumState.GOOD, md.l4Checksum());
        assertEquals(GsoType.NONE, md.gsoType());
        assertEquals(0, md.headerLength());
    }

    @Test
    void noFlagsMeansUnknown() {
        Frame f = Frames.build(14, true, UDP, 0, 100, 0, 2);
        RxMetadata md = new RxMetadata();
        OffloadTranslation.parseRxHeader(MemorySegment.ofArray(new byte[10]), f.seg(), md);
        assertEquals(ChecksumState.UNKNOWN, md.ipChecksum());
        assertEquals(ChecksumState.UNKNOWN, md.l4Checksum());
        assertEquals(L4Protocol.UNKNOWN, md.l4Protocol());
        assertEquals(0, md.partialStart());
    }

    @Test
    void partialTcpRecomputesHdrLenFromDataOffset() {
        Frame f = Frames.build(14, true, TCP, 0, 100, 0, 3);
        put8(f.seg(), 14 + 20 + 12, 0x80); // 32-byte TCP header (options)
        RxMetadata md = new RxMetadata();
        OffloadTranslation.parseRxHeader(partialHdr(34, 16, 9999), f.seg(), md);
        assertEquals(ChecksumState.PARTIAL, md.l4Checksum());
        assertEquals(ChecksumState.UNKNOWN, md.ipChecksum());
        assertEquals(34, md.partialStart());
        assertEquals(16, md.partialOffset());
        assertEquals(L4Protocol.TCP, md.l4Protocol());
        assertEquals(34 + 32, md.headerLength(), "hdr_len 9999 from the header is ignored");
    }

    @Test
    void partialUdp() {
        Frame f = Frames.build(0, false, UDP, 0, 50, 0, 4);
        RxMetadata md = new RxMetadata();
        OffloadTranslation.parseRxHeader(partialHdr(40, 6, 0), f.seg(), md);
        assertEquals(L4Protocol.UDP, md.l4Protocol());
        assertEquals(48, md.headerLength());
    }

    @Test
    void eachGsoType() {
        Object[][] cases = {
            {GsoType.TCPV4, true, TCP, 16, IpVersion.IPV4, L4Protocol.TCP},
            {GsoType.TCPV6, false, TCP, 16, IpVersion.IPV6, L4Protocol.TCP},
            {GsoType.UDP, true, UDP, 6, IpVersion.UNSPECIFIED, L4Protocol.UDP},
            {GsoType.UDP_L4, false, UDP, 6, IpVersion.UNSPECIFIED, L4Protocol.UDP},
        };
        for (Object[] c : cases) {
            for (boolean ecn : new boolean[] {false, true}) {
                boolean v4 = (Boolean) c[1];
                Frame f = Frames.build(14, v4, (Integer) c[2], 0, 5000, 0, 5);
                int start = 14 + f.l3();
                MemorySegment h = partialHdr(start, (Integer) c[3], 0);
                VirtioNetHdr.setGso(h, (GsoType) c[0], ecn);
                VirtioNetHdr.setGsoSize(h, 1234);
                RxMetadata md = new RxMetadata();
                OffloadTranslation.parseRxHeader(h, f.seg(), md);
                assertEquals(c[0], md.gsoType());
                assertEquals(ecn, md.gsoEcn());
                assertEquals(1234, md.gsoSize());
                assertEquals(c[4], md.ipVersion());
                assertEquals(c[5], md.l4Protocol());
                assertEquals(ChecksumState.PARTIAL, md.l4Checksum());
                assertEquals(start + f.l4(), md.headerLength());
            }
        }
    }

    private static void assertRefused(MemorySegment h, MemorySegment frame, Reason reason) {
        RxMetadata md = new RxMetadata();
        // A previous frame's state, to prove nothing is half-written.
        Frame prev = Frames.build(14, true, TCP, 0, 10, 0, 99);
        MemorySegment ph = partialHdr(34, 16, 0);
        OffloadTranslation.parseRxHeader(ph, prev.seg(), md);
        String before = md.toString();
        byte[] frameBefore = frame.toArray(ValueLayout.JAVA_BYTE);
        byte[] hdrBefore = h.toArray(ValueLayout.JAVA_BYTE);
        FrameException e = assertThrows(FrameException.class, () -> OffloadTranslation.parseRxHeader(h, frame, md));
        assertEquals(reason, e.reason(), e.getMessage());
        assertEquals(before, md.toString(), "metadata unchanged");
        assertArrayEquals(frameBefore, frame.toArray(ValueLayout.JAVA_BYTE));
        assertArrayEquals(hdrBefore, h.toArray(ValueLayout.JAVA_BYTE));
    }

    @Test
    void badHeaders() {
        Frame f = Frames.build(14, true, TCP, 0, 100, 0, 6);
        long n = f.seg().byteSize();
        assertRefused(partialHdr((int) n - 17, 16, 0), f.seg(), Reason.CSUM_BEYOND_FRAME);
        assertRefused(partialHdr(34, 0xFFFF, 0), f.seg(), Reason.CSUM_BEYOND_FRAME);

        MemorySegment gsoNoCsum = MemorySegment.ofArray(new byte[12]);
        VirtioNetHdr.setGso(gsoNoCsum, GsoType.TCPV4, false);
        VirtioNetHdr.setGsoSize(gsoNoCsum, 1000);
        assertRefused(gsoNoCsum, f.seg(), Reason.BAD_HEADER_FIELD);

        MemorySegment unknownGso = partialHdr(34, 16, 0);
        unknownGso.set(ValueLayout.JAVA_BYTE, 1, (byte) 2);
        assertRefused(unknownGso, f.seg(), Reason.BAD_HEADER_FIELD);

        MemorySegment sizeZero = partialHdr(34, 16, 0);
        VirtioNetHdr.setGso(sizeZero, GsoType.TCPV4, false);
        assertRefused(sizeZero, f.seg(), Reason.SEGMENT_SIZE_ZERO);

        MemorySegment wrongOffset = partialHdr(34, 6, 0);
        VirtioNetHdr.setGso(wrongOffset, GsoType.TCPV4, false);
        VirtioNetHdr.setGsoSize(wrongOffset, 1000);
        assertRefused(wrongOffset, f.seg(), Reason.BAD_HEADER_FIELD);

        Frame g = Frames.build(14, true, TCP, 0, 10, 0, 7);
        put8(g.seg(), 14 + 20 + 12, 0x30);
        assertRefused(partialHdr(34, 16, 0), g.seg(), Reason.BAD_HEADER_FIELD);
        put8(g.seg(), 14 + 20 + 12, 0xF0);
        assertRefused(partialHdr(34, 16, 0), g.seg(), Reason.FRAME_TOO_SHORT);

        assertRefused(MemorySegment.ofArray(new byte[8]), g.seg(), Reason.HEADER_TOO_SMALL);
    }

    @Test
    void completeChecksumMakesAValidTcpChecksum() {
        Frame f = Frames.build(14, true, TCP, 0, 1001, 0, 8);
        RxMetadata md = new RxMetadata();
        OffloadTranslation.parseRxHeader(partialHdr(34, 16, 0), f.seg(), md);
        assertTrue(OffloadTranslation.completeChecksum(md, f.seg()));
        assertEquals(ChecksumState.GOOD, md.l4Checksum());
        int l4Len = (int) f.seg().byteSize() - 34;
        assertEquals(0xFFFF, Checksums.add(Checksums.pseudoHeaderSumIpv4(f.seg(), 14, TCP, l4Len),
                Checksums.rfc1071Reference(f.seg(), 34, l4Len)));
        byte[] done = f.bytes();
        assertFalse(OffloadTranslation.completeChecksum(md, f.seg()), "nothing partial any more");
        assertArrayEquals(done, f.bytes());
    }

    @Test
    void completeChecksumUdpNeverStoresZero() {
        // Search a payload byte that makes the UDP checksum come out 0, then check it is sent as 0xFFFF.
        Random r = new Random(9);
        for (int attempt = 0; attempt < 1000; attempt++) {
            Frame f = Frames.build(0, false, UDP, 0, 20, 0, r.nextLong());
            // Choose the last two payload bytes so that the full sum is 0xFFFF (checksum 0).
            int end = (int) f.seg().byteSize();
            Frames.put16(f.seg(), end - 2, 0);
            int sum = Checksums.rfc1071(f.seg(), 40, end - 40);
            int fill = ~sum & 0xFFFF;
            if (fill == 0) {
                continue;
            }
            Frames.put16(f.seg(), end - 2, fill);
            RxMetadata md = new RxMetadata();
            OffloadTranslation.parseRxHeader(partialHdr(40, 6, 0), f.seg(), md);
            assertTrue(OffloadTranslation.completeChecksum(md, f.seg()));
            assertEquals(0xFFFF, Frames.u16(f.seg(), 46));
            return;
        }
        throw new AssertionError("no frame found");
    }

    @Test
    void completeChecksumRefusesGso() {
        Frame f = Frames.build(14, true, TCP, 0, 3000, 0, 10);
        MemorySegment h = partialHdr(34, 16, 0);
        VirtioNetHdr.setGso(h, GsoType.TCPV4, false);
        VirtioNetHdr.setGsoSize(h, 1000);
        RxMetadata md = new RxMetadata();
        OffloadTranslation.parseRxHeader(h, f.seg(), md);
        byte[] before = f.bytes();
        assertEquals(Reason.BAD_HEADER_FIELD, assertThrows(FrameException.class,
                () -> OffloadTranslation.completeChecksum(md, f.seg())).reason());
        assertArrayEquals(before, f.bytes());
        assertEquals(ChecksumState.PARTIAL, md.l4Checksum());
    }

    @Test
    void buildThenParseRoundTrips() {
        Random r = new Random(1234);
        RxMetadata rx = new RxMetadata();
        TxMetadata tx = new TxMetadata();
        MemorySegment h = MemorySegment.ofArray(new byte[12]);
        for (int i = 0; i < 500; i++) {
            boolean v4 = r.nextBoolean();
            boolean tcp = r.nextBoolean();
            int l2 = r.nextBoolean() ? 14 : 0;
            int ext = v4 ? 0 : 8 * r.nextInt(3);
            Frame f = Frames.build(l2, v4, tcp ? TCP : UDP, ext, r.nextInt(9000), 0, r.nextLong());
            tx.clear().ipVersion(v4 ? IpVersion.IPV4 : IpVersion.IPV6).l2Length(l2).l3Length(f.l3())
                    .l4Length(r.nextBoolean() ? f.l4() : 0);
            int kind = r.nextInt(3);
            int size = 1 + r.nextInt(2000);
            if (!tcp) {
                size = Math.max(size, 9000 / 128 + 1); // USO makes at most 128 datagrams
            }
            if (kind == 0) {
                tx.tcpChecksum(tcp).udpChecksum(!tcp);
            } else if (tcp) {
                tx.tcpSegmentation(size);
            } else {
                tx.udpSegmentation(size);
            }
            if (kind > 0) {
                Frames.ndisify(f);
            }
            Frames.translate(tx, f.seg(), h);
            OffloadTranslation.parseRxHeader(h, f.seg(), rx);
            assertEquals(ChecksumState.PARTIAL, rx.l4Checksum());
            assertEquals(VirtioNetHdr.csumStart(h), rx.partialStart());
            assertEquals(l2 + f.l3(), rx.partialStart());
            assertEquals(VirtioNetHdr.hdrLen(h), rx.headerLength());
            assertEquals(tcp ? L4Protocol.TCP : L4Protocol.UDP, rx.l4Protocol());
            // TSO of a payload that fits one segment goes out checksum-only (see OffloadTranslation).
            boolean oneSegment = tcp && f.seg().byteSize() - l2 - f.l3() - f.l4() <= size;
            boolean gso = kind != 0 && !(tcp && oneSegment);
            GsoType want = !gso ? GsoType.NONE : !tcp ? GsoType.UDP_L4 : v4 ? GsoType.TCPV4 : GsoType.TCPV6;
            assertEquals(want, rx.gsoType());
            assertEquals(gso ? size : 0, rx.gsoSize());
            // Completing the checksum in software gives a valid L4 checksum for non-GSO frames.
            if (kind == 0) {
                int start = rx.partialStart();
                assertTrue(OffloadTranslation.completeChecksum(rx, f.seg()));
                int l4Len = (int) f.seg().byteSize() - start;
                int pseudo = v4 ? Checksums.pseudoHeaderSumIpv4(f.seg(), l2, tcp ? TCP : UDP, l4Len)
                        : Checksums.pseudoHeaderSumIpv6(f.seg(), l2, tcp ? TCP : UDP, l4Len);
                assertEquals(0xFFFF, Checksums.add(pseudo, Checksums.rfc1071Reference(f.seg(), start, l4Len)),
                        "v4=" + v4 + " tcp=" + tcp + " l2=" + l2 + " ext=" + ext + " " + rx);
            } else {
                Frames.assertSeedCompletesToValidChecksum(f);
            }
        }
    }
}
