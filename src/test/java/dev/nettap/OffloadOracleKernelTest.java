package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.nettap.vnet.Checksums;
import dev.nettap.vnet.FrameException;
import dev.nettap.vnet.IpVersion;
import dev.nettap.vnet.OffloadTranslation;
import dev.nettap.vnet.RxMetadata;
import dev.nettap.vnet.TxMetadata;
import dev.nettap.vnet.VirtioNetHdr;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The kernel as the oracle for {@link OffloadTranslation}: two TAPs in a Linux bridge inside a
 * scratch namespace. Frames written to A carry a virtio-net header built by the translation; B has
 * every receive offload off ({@link Tap#open} sets TUNSETOFFLOAD 0), so the bridge's transmit to B
 * goes through {@code validate_xmit_skb}, which segments GSO frames and completes partial checksums
 * in software. What B's reader gets is checked byte by byte: IPv4 header checksums, L4 checksums
 * against an independently computed pseudo-header, lengths, sequence numbers and the payload.
 *
 * <p>A socket in the namespace would not do: local delivery trusts a partial checksum whatever
 * its seed. {@link #wrongSeedIsVisibleAtTheOracle()} shows that this oracle does see a wrong seed.
 */
@KernelAccess
@Timeout(120)
class OffloadOracleKernelTest {
    private static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt BE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final Duration DEADLINE = BridgeOracle.DEADLINE;
    /** After the expected frames arrived, how long to keep listening for extra ones. */
    private static final Duration QUIET = Duration.ofMillis(300);

    // Locally administered unicast MACs; DST is never learned, so the bridge floods it to B.
    private static final byte[] SRC_MAC = {0x02, 0x6e, 0x74, 0x00, 0x00, 0x0a};
    private static final byte[] DST_MAC = {0x02, 0x6e, 0x74, 0x00, 0x00, 0x0b};
    private static final int ETH = 14;
    private static final int TCP = Checksums.PROTO_TCP;
    private static final int UDP = Checksums.PROTO_UDP;
    private static final int SPORT = 40_000;
    private static final int DPORT = 5_001;
    private static final int TSO_MSS = 1400;

    private BridgeOracle oracle;
    private Tap a;
    private Tap b;
    private Arena arena;
    private MemorySegment txHdr;
    private MemorySegment rxHdr;
    private MemorySegment rxBuf;

    /** Two TAPs in a bridge, B with offloads off, br_netfilter off: {@link BridgeOracle}. */
    @BeforeEach
    void bridgeTwoTaps() throws Exception {
        oracle = BridgeOracle.create();
        a = oracle.a;
        b = oracle.b;
        rxHdr = oracle.rxHdr;
        rxBuf = oracle.rxBuf;
        arena = oracle.arena;
        txHdr = oracle.txHdr;
    }

    @AfterEach
    void tearDown() {
        if (oracle != null) {
            oracle.close();
        }
    }

    // ------------------------------------------------------------------------------ frames

    /** A frame under construction: where its layers are and what payload it carries. */
    private record Built(MemorySegment seg, boolean v4, int proto, int l3, int l4, byte[] payload) {
        int l4Start() {
            return ETH + l3;
        }

        int csumField() {
            return l4Start() + (proto == TCP ? 16 : 6);
        }
    }

    /**
     * A correct frame as a careful sender builds it for NEEDS_CSUM: IP length right, IPv4 header
     * checksum right, L4 checksum field holding the pseudo-header seed with the full L4 length.
     */
    private Built build(boolean v4, int proto, int payloadLength, long seed) {
        return build(v4, proto, 0, payloadLength, seed);
    }

    /** As {@link #build(boolean, int, int, long)}, IPv6 with an 8-byte destination options header when {@code ext} is 8. */
    private Built build(boolean v4, int proto, int ext, int payloadLength, long seed) {
        byte[] payload = new byte[payloadLength];
        new Random(seed).nextBytes(payload);
        int l3 = v4 ? 20 : 40 + ext;
        int l4 = proto == TCP ? 20 : 8;
        int l4Total = l4 + payloadLength;
        MemorySegment s = arena.allocate(ETH + l3 + l4Total);
        MemorySegment.copy(DST_MAC, 0, s, ValueLayout.JAVA_BYTE, 0, 6);
        MemorySegment.copy(SRC_MAC, 0, s, ValueLayout.JAVA_BYTE, 6, 6);
        s.set(BE16, 12, (short) (v4 ? 0x0800 : 0x86DD));
        if (v4) {
            s.set(ValueLayout.JAVA_BYTE, ETH, (byte) 0x45);
            s.set(BE16, ETH + 2, (short) (l3 + l4Total));
            s.set(BE16, ETH + 4, (short) 0x1234);           // identification
            s.set(BE16, ETH + 6, (short) 0x4000);           // DF
            s.set(ValueLayout.JAVA_BYTE, ETH + 8, (byte) 64);
            s.set(ValueLayout.JAVA_BYTE, ETH + 9, (byte) proto);
            s.set(BE32, ETH + 12, 0x0a4d_0001);             // 10.77.0.1
            s.set(BE32, ETH + 16, 0x0a4d_0002);             // 10.77.0.2
            Checksums.setIpv4HeaderChecksum(s, ETH);
        } else {
            s.set(BE32, ETH, 0x6000_0000);
            s.set(BE16, ETH + 4, (short) (ext + l4Total));
            s.set(ValueLayout.JAVA_BYTE, ETH + 6, (byte) (ext == 0 ? proto : 60));
            if (ext == 8) { // destination options: next header, length 0 (8 bytes), PadN of 4 zero bytes
                s.set(ValueLayout.JAVA_BYTE, ETH + 40, (byte) proto);
                s.set(ValueLayout.JAVA_BYTE, ETH + 41, (byte) 0);
                s.set(ValueLayout.JAVA_BYTE, ETH + 42, (byte) 1);
                s.set(ValueLayout.JAVA_BYTE, ETH + 43, (byte) 4);
            }
            s.set(ValueLayout.JAVA_BYTE, ETH + 7, (byte) 64);
            s.set(BE32, ETH + 8, 0xfd00_0000);              // fd00::1
            s.set(BE32, ETH + 20, 1);
            s.set(BE32, ETH + 24, 0xfd00_0000);             // fd00::2
            s.set(BE32, ETH + 36, 2);
        }
        int l4Start = ETH + l3;
        s.set(BE16, l4Start, (short) SPORT);
        s.set(BE16, l4Start + 2, (short) DPORT);
        if (proto == TCP) {
            s.set(BE32, l4Start + 4, 0xFFFF_F000);          // sequence number: wraps during the test
            s.set(BE32, l4Start + 8, 1);                    // acknowledgement
            s.set(ValueLayout.JAVA_BYTE, l4Start + 12, (byte) 0x50);
            s.set(ValueLayout.JAVA_BYTE, l4Start + 13, (byte) 0x18); // ACK | PSH
            s.set(BE16, l4Start + 14, (short) 0xFFFF);
        } else {
            s.set(BE16, l4Start + 4, (short) l4Total);
        }
        MemorySegment.copy(payload, 0, s, ValueLayout.JAVA_BYTE, l4Start + l4, payloadLength);
        Built f = new Built(s, v4, proto, l3, l4, payload);
        s.set(BE16, f.csumField(), (short) pseudo(s, v4, proto, l4Total));
        return f;
    }

    private static int pseudo(MemorySegment s, boolean v4, int proto, int l4Length) {
        return v4 ? Checksums.pseudoHeaderSumIpv4(s, ETH, proto, l4Length)
                : Checksums.pseudoHeaderSumIpv6(s, ETH, proto, l4Length);
    }

    /** What an NDIS large-send sender hands over: IP length 0, IPv4 header checksum 0, seed without the length. */
    private static void ndisify(Built f) {
        if (f.v4) {
            f.seg.set(BE16, ETH + 2, (short) 0);
            f.seg.set(BE16, ETH + 10, (short) 0);
        } else {
            f.seg.set(BE16, ETH + 4, (short) 0);
        }
        f.seg.set(BE16, f.csumField(), (short) pseudo(f.seg, f.v4, f.proto, 0));
    }

    private TxMetadata metadata(Built f) {
        return new TxMetadata().ipVersion(f.v4 ? IpVersion.IPV4 : IpVersion.IPV6).l2Length(ETH)
                .l3Length(f.l3).l4Length(f.l4).ipv4HeaderChecksum(f.v4);
    }

    private void writeToA(Built f) {
        long len = f.seg.byteSize();
        long w = a.write(txHdr, f.seg);
        if (w == Tap.MALFORMED) {
            fail("the kernel refused the frame (EINVAL): " + Tap.explainMalformed(TapMode.TAP, txHdr, len));
        }
        assertEquals(len, w, "write status to A");
    }

    // ------------------------------------------------------------------------------ the oracle

    /**
     * Reads B until {@code expected} frames of this flow have arrived (bounded by
     * {@link BridgeOracle#DEADLINE}), then listens {@link #QUIET} longer for extra ones; skips every
     * unrelated frame. Each frame of the flow must come with a header that asks nothing more of the
     * reader (no NEEDS_CSUM, no GSO: B has no receive offloads). Returns copies in {@link #arena}.
     */
    private List<MemorySegment> receiveFlow(boolean v4, int proto, int expected) {
        String what = (v4 ? "IPv4 " : "IPv6 ") + (proto == TCP ? "TCP" : "UDP") + " flow";
        return oracle.receive(f -> ours(f, v4, proto), f -> false, expected, QUIET, what).stream()
                .map(f -> arena.allocate(f.length).copyFrom(MemorySegment.ofArray(f)))
                .toList();
    }

    /** Whether a frame belongs to the test flow: our MACs, ethertype, protocol and ports. */
    private static boolean ours(MemorySegment f, boolean v4, int proto) {
        if (f.byteSize() < ETH + (v4 ? 20 : 40) + 8) {
            return false;
        }
        if (MemorySegment.mismatch(f, 0, 6, MemorySegment.ofArray(DST_MAC), 0, 6) != -1
                || MemorySegment.mismatch(f, 6, 12, MemorySegment.ofArray(SRC_MAC), 0, 6) != -1) {
            return false;
        }
        if ((f.get(BE16, 12) & 0xFFFF) != (v4 ? 0x0800 : 0x86DD)) {
            return false;
        }
        int l4Start = ETH + (v4 ? (f.get(ValueLayout.JAVA_BYTE, ETH) & 0xF) * 4 : 40);
        int p = f.get(ValueLayout.JAVA_BYTE, ETH + (v4 ? 9 : 6)) & 0xFF;
        if (!v4 && p == 60) { // our destination options header
            p = f.get(ValueLayout.JAVA_BYTE, l4Start) & 0xFF;
            l4Start += ((f.get(ValueLayout.JAVA_BYTE, l4Start + 1) & 0xFF) + 1) * 8;
        }
        return p == proto && l4Start + 8 <= f.byteSize()
                && (f.get(BE16, l4Start) & 0xFFFF) == SPORT && (f.get(BE16, l4Start + 2) & 0xFFFF) == DPORT;
    }

    /**
     * Checks one frame as a receiving host would: IP version and lengths against the frame, the
     * IPv4 header checksum, and the L4 checksum over pseudo-header, L4 header and payload. Both the
     * fast sum and the byte-pair reference are used. Returns the L4 payload.
     */
    private static byte[] checkValid(MemorySegment f, boolean v4, int proto, String what) {
        int n = (int) f.byteSize();
        int l4Start;
        if (v4) {
            assertEquals(0x45, f.get(ValueLayout.JAVA_BYTE, ETH) & 0xFF, what + ": version/IHL");
            assertEquals(n - ETH, f.get(BE16, ETH + 2) & 0xFFFF, what + ": IPv4 total length");
            assertEquals(0xFFFF, Checksums.rfc1071Reference(f, ETH, 20), what + ": IPv4 header checksum");
            assertEquals(0xFFFF, Checksums.rfc1071(f, ETH, 20), what + ": IPv4 header checksum (fast sum)");
            l4Start = ETH + 20;
        } else {
            assertEquals(6, (f.get(ValueLayout.JAVA_BYTE, ETH) & 0xFF) >>> 4, what + ": IP version");
            assertEquals(n - ETH - 40, f.get(BE16, ETH + 4) & 0xFFFF, what + ": IPv6 payload length");
            l4Start = ETH + 40;
            if ((f.get(ValueLayout.JAVA_BYTE, ETH + 6) & 0xFF) == 60) {
                assertEquals(proto, f.get(ValueLayout.JAVA_BYTE, l4Start) & 0xFF, what + ": next header after the options");
                l4Start += ((f.get(ValueLayout.JAVA_BYTE, l4Start + 1) & 0xFF) + 1) * 8;
            }
        }
        int l4Length = n - l4Start;
        int stored = f.get(BE16, l4Start + (proto == TCP ? 16 : 6)) & 0xFFFF;
        if (proto == UDP) {
            assertEquals(l4Length, f.get(BE16, l4Start + 4) & 0xFFFF, what + ": UDP length");
            assertNotEquals(0, stored, what + ": UDP checksum present");
        }
        int sum = Checksums.add(pseudo(f, v4, proto, l4Length), Checksums.rfc1071Reference(f, l4Start, l4Length));
        assertEquals(0xFFFF, sum, () -> what + ": " + (proto == TCP ? "TCP" : "UDP") + " checksum 0x"
                + Integer.toHexString(stored) + " does not verify (sum 0x" + Integer.toHexString(sum) + ")");
        assertEquals(sum, Checksums.add(pseudo(f, v4, proto, l4Length), Checksums.rfc1071(f, l4Start, l4Length)));
        int l4Header = proto == TCP ? ((f.get(ValueLayout.JAVA_BYTE, l4Start + 12) & 0xFF) >>> 4) * 4 : 8;
        return f.asSlice(l4Start + l4Header).toArray(ValueLayout.JAVA_BYTE);
    }

    private static byte[] concat(List<byte[]> parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        parts.forEach(out::writeBytes);
        return out.toByteArray();
    }

    // ------------------------------------------------------------------------------ tests

    private void tsoNdis(boolean v4) {
        tsoNdis(v4, 0);
    }

    private void tsoNdis(boolean v4, int ext) {
        int payload = 3 * TSO_MSS + 321;
        Built f = build(v4, TCP, ext, payload, v4 ? 4 : 6);
        ndisify(f);
        TxMetadata md = metadata(f).tcpSegmentation(TSO_MSS);
        assertEquals(f.seg.byteSize(), OffloadTranslation.buildTxHeader(md, f.seg, txHdr), () -> md.refusalMessage());
        assertTrue(md.frameChanged(), "the NDIS fields were repaired");
        assertEquals(v4 ? VirtioNetHdr.GsoType.TCPV4 : VirtioNetHdr.GsoType.TCPV6, VirtioNetHdr.gsoType(txHdr));
        writeToA(f);

        List<MemorySegment> segs = receiveFlow(v4, TCP, 4);
        List<byte[]> payloads = new ArrayList<>();
        for (int i = 0; i < segs.size(); i++) {
            MemorySegment s = segs.get(i);
            String what = (v4 ? "TSO4" : "TSO6") + " segment " + i;
            byte[] p = checkValid(s, v4, TCP, what);
            assertEquals(i < 3 ? TSO_MSS : 321, p.length, what + ": payload length");
            payloads.add(p);
            int l4 = f.l4Start();
            assertEquals(0xFFFF_F000 + i * TSO_MSS, s.get(BE32, l4 + 4), what + ": sequence number");
            assertEquals(1, s.get(BE32, l4 + 8), what + ": acknowledgement number");
            int flags = s.get(ValueLayout.JAVA_BYTE, l4 + 13) & 0xFF;
            assertEquals(i == 3 ? 0x18 : 0x10, flags, what + ": TCP flags (PSH only on the last segment)");
            if (v4) {
                assertEquals(0x1234 + i, s.get(BE16, ETH + 4) & 0xFFFF, what + ": IPv4 identification");
            }
        }
        assertArrayEquals(f.payload, concat(payloads), "concatenated segment payloads equal the original");
    }

    /**
     * With receive offloads on B, the kernel hands B the super-frame itself (NEEDS_CSUM, GSO TCPV4);
     * the RX translation describes it, and completing its checksum in software gives a valid frame
     * with the exact payload.
     */
    @Test
    void withReceiveOffloadsBGetsTheSuperFrameAndRxTranslationCompletesIt() throws Exception {
        b.setOffloads(EnumSet.of(Offload.CSUM, Offload.TSO4, Offload.TSO6));
        assertEquals(EnumSet.of(Offload.CSUM, Offload.TSO4, Offload.TSO6), b.offloads());
        int payload = 3 * TSO_MSS + 321;
        Built f = build(true, TCP, 0, payload, 4);
        ndisify(f);
        TxMetadata md0 = metadata(f).tcpSegmentation(TSO_MSS);
        assertEquals(f.seg.byteSize(), OffloadTranslation.buildTxHeader(md0, f.seg, txHdr));
        assertTrue(md0.frameChanged());
        writeToA(f);
        long deadline = System.nanoTime() + DEADLINE.toNanos();
        MemorySegment got = null;
        while (got == null && System.nanoTime() < deadline) {
            long n = b.read(rxHdr, rxBuf);
            if (n == Tap.WOULD_BLOCK) {
                b.awaitReadable(Duration.ofMillis(100));
            } else if (n >= 0 && ours(rxBuf.asSlice(0, n), true, TCP)) {
                got = rxBuf.asSlice(0, n);
            }
        }
        assertTrue(got != null, "no frame of the flow at B within " + DEADLINE);
        MemorySegment superFrame = got;
        assertEquals(f.seg.byteSize(), got.byteSize(), "one super-frame, not segments");
        assertTrue(VirtioNetHdr.hasFlag(rxHdr, VirtioNetHdr.Flag.NEEDS_CSUM));
        assertEquals(VirtioNetHdr.GsoType.TCPV4, VirtioNetHdr.gsoType(rxHdr));
        assertEquals(TSO_MSS, VirtioNetHdr.gsoSize(rxHdr));
        RxMetadata md = new RxMetadata();
        OffloadTranslation.parseRxHeader(rxHdr, got, md);
        assertEquals(RxMetadata.ChecksumState.PARTIAL, md.l4Checksum());
        assertEquals(ETH + 20, md.partialStart());
        assertEquals(16, md.partialOffset());
        assertEquals(VirtioNetHdr.GsoType.TCPV4, md.gsoType());
        assertEquals(TSO_MSS, md.gsoSize());
        assertEquals(ETH + 20 + 20, md.headerLength(), "recomputed from the frame");
        // A GSO frame cannot be completed as one frame for a NIC model without GSO: it needs segmenting.
        FrameException e = assertThrows(FrameException.class, () -> OffloadTranslation.completeChecksum(md, superFrame));
        assertTrue(e.getMessage().contains("segmented"), e.getMessage());
        // What a guest that accepts partial checksums does: sum from csum_start over the seed the
        // kernel left in the field, store the complement. The kernel's seed must make that valid.
        int start = md.partialStart();
        got.set(BE16, start + md.partialOffset(), (short) Checksums.checksum(got, start, got.byteSize() - start));
        assertArrayEquals(f.payload, checkValid(got, true, TCP, "completed super-frame"));
    }

    @Test
    void tso4BuiltTheNdisWayComesOutAsValidSegments() {
        tsoNdis(true);
    }

    @Test
    void tso6BuiltTheNdisWayComesOutAsValidSegments() {
        tsoNdis(false);
    }

    @Test
    void tso6WithADestinationOptionsHeaderComesOutAsValidSegments() {
        tsoNdis(false, 8);
    }

    private void checksumOffload(boolean v4, int proto) {
        Built f = build(v4, proto, 777, 31L * proto + (v4 ? 4 : 6));
        int seed = f.seg.get(BE16, f.csumField()) & 0xFFFF;
        // The checksum the frame must end up with, computed here in software.
        MemorySegment expect = arena.allocate(f.seg.byteSize()).copyFrom(f.seg);
        expect.set(BE16, f.csumField(), (short) 0);
        int l4Length = (int) f.seg.byteSize() - f.l4Start();
        int want = ~Checksums.add(pseudo(expect, v4, proto, l4Length),
                Checksums.rfc1071Reference(expect, f.l4Start(), l4Length)) & 0xFFFF;
        assertNotEquals(seed, want, "the seed alone is not the checksum");

        TxMetadata md = metadata(f);
        if (proto == TCP) {
            md.tcpChecksum(true);
        } else {
            md.udpChecksum(true);
        }
        assertEquals(f.seg.byteSize(), OffloadTranslation.buildTxHeader(md, f.seg, txHdr));
        assertFalse(md.frameChanged(), "a correct frame is left alone");
        assertTrue(VirtioNetHdr.hasFlag(txHdr, VirtioNetHdr.Flag.NEEDS_CSUM));
        assertEquals(VirtioNetHdr.GsoType.NONE, VirtioNetHdr.gsoType(txHdr));
        writeToA(f);

        MemorySegment got = receiveFlow(v4, proto, 1).get(0);
        String what = (proto == TCP ? "TCP" : "UDP") + (v4 ? "/IPv4" : "/IPv6") + " checksum offload";
        byte[] p = checkValid(got, v4, proto, what);
        assertEquals(want, got.get(BE16, f.csumField()) & 0xFFFF, what + ": the checksum the kernel stored");
        assertArrayEquals(f.payload, p, what + ": payload");
        expect.set(BE16, f.csumField(), (short) want);
        assertEquals(-1, MemorySegment.mismatch(expect, 0, expect.byteSize(), got, 0, got.byteSize()),
                what + ": every other byte as sent");
    }

    @Test
    void tcpChecksumOffloadIsCompletedByTheKernel() {
        checksumOffload(true, TCP);
        checksumOffload(false, TCP);
    }

    @Test
    void udpChecksumOffloadIsCompletedByTheKernel() {
        checksumOffload(true, UDP);
        checksumOffload(false, UDP);
    }

    private void uso(boolean v4, boolean ndis, boolean zeroUdpLength) {
        int size = 1000;
        int payload = 4 * size + 123;
        Built f = build(v4, UDP, payload, v4 ? 44 : 66);
        if (ndis) {
            ndisify(f);
        }
        if (zeroUdpLength) {
            f.seg.set(BE16, f.l4Start() + 4, (short) 0);
        }
        TxMetadata md = metadata(f).udpSegmentation(size);
        assertEquals(f.seg.byteSize(), OffloadTranslation.buildTxHeader(md, f.seg, txHdr), () -> md.refusalMessage());
        assertEquals(VirtioNetHdr.GsoType.UDP_L4, VirtioNetHdr.gsoType(txHdr));
        writeToA(f);

        List<MemorySegment> segs = receiveFlow(v4, UDP, 5);
        List<byte[]> payloads = new ArrayList<>();
        for (int i = 0; i < segs.size(); i++) {
            String what = "USO" + (v4 ? "4" : "6") + (ndis ? " (NDIS fields)" : "") + " datagram " + i;
            byte[] p = checkValid(segs.get(i), v4, UDP, what);
            assertEquals(i < 4 ? size : 123, p.length, what + ": payload length");
            payloads.add(p);
        }
        assertArrayEquals(f.payload, concat(payloads), "concatenated datagram payloads equal the original");
    }

    @Test
    void usoComesOutAsValidDatagramsOfTheSegmentSize() {
        uso(true, false, false);
        uso(false, false, false);
    }

    @Test
    void usoWithNdisLengthFieldsComesOutValid() {
        uso(true, true, false);
        uso(false, true, false);
    }

    @Test
    void usoWithZeroUdpLengthComesOutValid() {
        uso(true, true, true);
        uso(false, true, true);
    }

    /**
     * The control: a TSO frame whose seed leaves out the TCP length, sent with a hand-made header
     * (no translation fix-up), must come out of B with TCP checksums that do not verify. This is
     * what a socket in the namespace would have accepted.
     */
    @Test
    void wrongSeedIsVisibleAtTheOracle() {
        Built f = build(true, TCP, 2 * TSO_MSS, 7);
        f.seg.set(BE16, f.csumField(), (short) pseudo(f.seg, true, TCP, 0));
        VirtioNetHdr.clear(txHdr);
        VirtioNetHdr.setFlag(txHdr, VirtioNetHdr.Flag.NEEDS_CSUM, true);
        VirtioNetHdr.setCsumStart(txHdr, f.l4Start());
        VirtioNetHdr.setCsumOffset(txHdr, 16);
        VirtioNetHdr.setHdrLen(txHdr, f.l4Start() + 20);
        VirtioNetHdr.setGso(txHdr, VirtioNetHdr.GsoType.TCPV4, false);
        VirtioNetHdr.setGsoSize(txHdr, TSO_MSS);
        writeToA(f);
        List<MemorySegment> segs = receiveFlow(true, TCP, 2);
        for (MemorySegment s : segs) {
            int l4Length = (int) s.byteSize() - f.l4Start();
            assertEquals(0xFFFF, Checksums.rfc1071Reference(s, ETH, 20), "the IPv4 header is still right");
            assertNotEquals(0xFFFF, Checksums.add(pseudo(s, true, TCP, l4Length),
                    Checksums.rfc1071Reference(s, f.l4Start(), l4Length)), "a wrong seed gives a wrong TCP checksum");
        }
    }
}
