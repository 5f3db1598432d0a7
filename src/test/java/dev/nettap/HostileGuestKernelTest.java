package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.nettap.vnet.FrameException.Reason;
import dev.nettap.vnet.IpVersion;
import dev.nettap.vnet.OffloadTranslation;
import dev.nettap.vnet.TxMetadata;
import dev.nettap.vnet.VirtioNetHdr;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A hostile or merely unusual guest against the kernel as the oracle ({@link BridgeOracle}: what
 * TAP B's reader gets is what the kernel made of the frame written to A). A property test sends a
 * few hundred seeded random well-formed frames through {@link OffloadTranslation#buildTxHeader} and
 * compares every frame at B byte for byte with the segmentation computed independently in
 * {@link GuestFrames}; regression tests pin each case of issue 9 down against the kernel.
 */
@KernelAccess
@Timeout(180)
class HostileGuestKernelTest {
    /** Frames in the property test. */
    private static final int CASES = 300;
    private static final Duration NO_QUIET = Duration.ZERO;
    private static final Duration QUIET = Duration.ofMillis(300);

    private BridgeOracle o;
    private Arena arena;
    private MemorySegment txHdr;

    @BeforeEach
    void setUp() throws Exception {
        o = BridgeOracle.create();
        arena = o.arena;
        txHdr = o.txHdr;
    }

    @AfterEach
    void tearDown() {
        if (o != null) {
            o.close();
        }
    }

    private static boolean ours(MemorySegment f) {
        return f.byteSize() >= 12 && MemorySegment.mismatch(f, 0, 6, MemorySegment.ofArray(GuestFrames.DST_MAC), 0, 6) == -1
                && MemorySegment.mismatch(f, 6, 10, MemorySegment.ofArray(GuestFrames.SRC_PREFIX), 0, 4) == -1;
    }

    private static Predicate<MemorySegment> flow(int index) {
        return f -> ours(f) && f.get(ValueLayout.JAVA_BYTE, 10) == (byte) (index >>> 8)
                && f.get(ValueLayout.JAVA_BYTE, 11) == (byte) index;
    }

    /** Translates, writes the returned length to A, returns what B got. */
    private List<byte[]> send(GuestFrames.Case c, int expected, Duration quiet, String what) {
        MemorySegment frame = arena.allocate(c.guest.length).copyFrom(MemorySegment.ofArray(c.guest));
        long len = OffloadTranslation.buildTxHeader(c.md, frame, txHdr);
        assertTrue(len >= 0, () -> what + ": refused: " + c.md.refusalMessage());
        assertEquals(c.correct.length, len, what + ": the length to write is the datagram's");
        long w = o.a.write(txHdr, frame.asSlice(0, len));
        if (w == Tap.MALFORMED) {
            fail(what + ": the kernel refused the frame (EINVAL): " + Tap.explainMalformed(TapMode.TAP, txHdr, len));
        }
        assertEquals(len, w, what + ": write status");
        return o.receive(flow(c.index), HostileGuestKernelTest::ours, expected, quiet, what);
    }

    private static void assertFrames(List<byte[]> want, List<byte[]> got, String what) {
        assertEquals(want.size(), got.size(), what + ": frame count");
        for (int i = 0; i < want.size(); i++) {
            byte[] w = want.get(i);
            byte[] g = got.get(i);
            int at = java.util.Arrays.mismatch(w, g);
            if (at >= 0) {
                fail(what + ": frame " + i + " of " + want.size() + " (" + w.length + " bytes expected, " + g.length
                        + " received) differs first at byte " + at + describe(w, g, at));
            }
        }
    }

    private static String describe(byte[] w, byte[] g, int at) {
        return at < Math.min(w.length, g.length)
                ? String.format(": expected 0x%02x, got 0x%02x", w[at] & 0xFF, g[at] & 0xFF) : "";
    }

    // ------------------------------------------------------------------------------ property test

    @Test
    void randomWellFormedFramesComeOutExactlyAsTheyShould() {
        long seed = Long.getLong("nettap.seed", System.nanoTime());
        Random r = new Random(seed);
        for (int i = 0; i < CASES; i++) {
            GuestFrames.Case c = GuestFrames.random(r, i);
            String what = "seed " + seed + " (rerun with -Dnettap.seed=" + seed + "), case " + i + " [" + c.description + "]";
            List<byte[]> want = c.expected();
            List<byte[]> got = send(c, want.size(), NO_QUIET, what);
            assertFrames(want, got, what);
        }
        // Nothing late or extra from any case.
        o.receive(f -> false, HostileGuestKernelTest::ours, 0, QUIET, "seed " + seed + ": after the last case");
    }

    // ------------------------------------------------------------------------------ regressions

    /** Generates cases until one matches (deterministic seeds), so each regression uses the same generator. */
    private static GuestFrames.Case find(long seed, Predicate<GuestFrames.Case> want) {
        Random r = new Random(seed);
        for (int i = 0; i < 100_000; i++) {
            GuestFrames.Case c = GuestFrames.random(r, 1000 + (i & 0xFFF));
            if (want.test(c)) {
                return c;
            }
        }
        throw new AssertionError("no such case");
    }

    private void sendAndCheck(GuestFrames.Case c, String what) {
        List<byte[]> want = c.expected();
        assertFrames(want, send(c, want.size(), QUIET, what), what);
    }

    @Test
    void tso6WithARoutingHeaderSeedsFromTheFinalDestination() {
        GuestFrames.Case c = find(1, k -> !k.v4 && k.proto == GuestFrames.TCP && k.gsoSize > 0
                && k.description.contains("RH0") && k.payloadLength() > 2 * k.gsoSize);
        sendAndCheck(c, c.description);
        GuestFrames.Case s = find(2, k -> !k.v4 && k.gsoSize > 0 && k.description.matches(".*SRH\\(\\d,[1-9]\\).*")
                && k.payloadLength() > 2 * k.gsoSize);
        sendAndCheck(s, s.description);
    }

    @Test
    void tso4WithASourceRouteSeedsFromTheFinalDestination() {
        GuestFrames.Case c = find(3, k -> k.v4 && k.proto == GuestFrames.TCP && k.gsoSize > 0
                && k.description.contains("LSRR") && k.payloadLength() > 2 * k.gsoSize);
        sendAndCheck(c, c.description);
        GuestFrames.Case s = find(4, k -> k.v4 && k.proto == GuestFrames.UDP && k.gsoSize > 0
                && k.description.contains("SSRR") && k.payloadLength() > 2 * k.gsoSize);
        sendAndCheck(s, s.description);
    }

    @Test
    void gsoFrameWithBytesAfterTheDatagramIsWrittenWithoutThem() {
        GuestFrames.Case c = find(5, k -> k.proto == GuestFrames.TCP && k.gsoSize > 0 && k.description.contains("pad")
                && k.payloadLength() > 2 * k.gsoSize);
        sendAndCheck(c, c.description);
        GuestFrames.Case u = find(6, k -> k.proto == GuestFrames.UDP && k.gsoSize > 0 && k.description.contains("pad")
                && k.payloadLength() > 2 * k.gsoSize);
        sendAndCheck(u, u.description);
    }

    /** The control: the same padded GSO frame written whole makes the kernel send the padding as payload. */
    @Test
    void paddedGsoFrameWrittenWholeIsMishandledByTheKernel() {
        GuestFrames.Case c = find(5, k -> k.proto == GuestFrames.TCP && k.gsoSize > 0 && k.description.contains("pad")
                && k.payloadLength() > 2 * k.gsoSize);
        MemorySegment frame = arena.allocate(c.guest.length).copyFrom(MemorySegment.ofArray(c.guest));
        assertTrue(OffloadTranslation.buildTxHeader(c.md, frame, txHdr) < frame.byteSize());
        assertEquals(frame.byteSize(), o.a.write(txHdr, frame));
        List<byte[]> want = c.expected();
        List<byte[]> got = o.receive(flow(c.index), HostileGuestKernelTest::ours, want.size(), QUIET, c.description);
        byte[] last = got.get(got.size() - 1);
        assertTrue(last.length > want.get(want.size() - 1).length, "the padding went out as payload");
    }

    @Test
    void checksumOnlyFramesWithPaddingOrNdisLengthsComeOutExact() {
        sendAndCheck(find(7, k -> k.gsoSize == 0 && k.description.contains("pad") && k.proto == GuestFrames.TCP),
                "TCP checksum with padding");
        sendAndCheck(find(8, k -> k.gsoSize == 0 && k.description.contains("pad") && k.proto == GuestFrames.UDP
                && k.payloadLength() % 2 == 1), "UDP checksum, odd length, with padding");
        sendAndCheck(find(9, k -> k.gsoSize == 0 && k.description.contains("NDIS") && k.v4), "IPv4 checksum, total length 0");
        sendAndCheck(find(10, k -> k.gsoSize == 0 && k.description.contains("NDIS") && !k.v4), "IPv6 checksum, payload length 0");
    }

    @Test
    void tsoWithCwrKeepsItOnTheFirstSegmentOnly() {
        GuestFrames.Case c = find(11, k -> k.gsoSize > 0 && k.description.contains("CWR") && k.payloadLength() > 2 * k.gsoSize);
        MemorySegment frame = arena.allocate(c.guest.length).copyFrom(MemorySegment.ofArray(c.guest));
        OffloadTranslation.buildTxHeader(c.md, frame, arena.allocate(VirtioNetHdr.LAYOUT));
        sendAndCheck(c, c.description);
        assertTrue(VirtioNetHdr.gsoEcn(txHdr), "the ECN bit is set for a CWR super-frame");
    }

    private long txDropped() {
        return o.a.statistics().kernel().orElseThrow().txDropped() + o.b.statistics().kernel().orElseThrow().txDropped();
    }

    /** Polls the kernel's tx_dropped until it passes {@code before} or the oracle's deadline: a busy machine counts late. */
    private long awaitTxDroppedAbove(long before) throws InterruptedException {
        long end = System.nanoTime() + BridgeOracle.DEADLINE.toNanos();
        long now;
        while ((now = txDropped()) <= before && System.nanoTime() < end) {
            Thread.sleep(10);
        }
        return now;
    }

    /**
     * TSO of a payload that fits one segment only once the TCP options are counted as header (the
     * property test's seed 3416927489207, case 286: TSO 580 of 573 bytes behind 8 bytes of
     * options). The kernel decides "GSO or not" past a 20-byte TCP header, keeps GSO, and its TCP
     * segmentation then drops the frame (payload not bigger than the MSS): the control shows the
     * drop in {@code tx_dropped}. The translation sends such a frame checksum-only, and it arrives
     * exactly as the one segment it is.
     */
    @Test
    void tsoOfOneSegmentWithTcpOptionsIsSentWithoutGso() throws Exception {
        for (boolean v4 : new boolean[] {true, false}) {
            GuestFrames.Case c = find(v4 ? 14 : 15, k -> k.v4 == v4 && k.proto == GuestFrames.TCP && k.gsoSize > 0
                    && k.l4h > 20 && k.payloadLength() > k.gsoSize - (k.l4h - 20) && k.payloadLength() <= k.gsoSize);
            String what = c.description + " (TCP header " + c.l4h + ")";
            MemorySegment frame = arena.allocate(c.guest.length).copyFrom(MemorySegment.ofArray(c.guest));
            long len = OffloadTranslation.buildTxHeader(c.md, frame, txHdr);
            assertEquals(c.correct.length, len, what + ": " + c.md.refusalMessage());
            assertEquals(VirtioNetHdr.GsoType.NONE, VirtioNetHdr.gsoType(txHdr), what + ": no GSO for one segment");
            assertFalse(VirtioNetHdr.gsoEcn(txHdr), what + ": no ECN bit without GSO");
            assertTrue(VirtioNetHdr.hasFlag(txHdr, VirtioNetHdr.Flag.NEEDS_CSUM), what + ": the checksum is still offloaded");

            // Control: the same fixed-up frame under the TSO header the kernel's rules allow.
            MemorySegment gsoHdr = arena.allocate(VirtioNetHdr.LAYOUT);
            VirtioNetHdr.set(gsoHdr, true, v4 ? VirtioNetHdr.GsoType.TCPV4 : VirtioNetHdr.GsoType.TCPV6, false,
                    c.l2 + c.l3 + c.l4h, c.gsoSize, c.l2 + c.l3, 16);
            long before = txDropped();
            assertEquals(len, o.a.write(gsoHdr, frame.asSlice(0, len)), what + ": the kernel takes the TSO write");
            assertTrue(awaitTxDroppedAbove(before) > before, what + ": the kernel dropped the TSO frame (tx_dropped " + before + ")");

            // Same flow: had the control frame come out after all, B would get two frames here.
            sendAndCheck(c, what);
        }
    }

    /** A header of the kernel's rules, written raw to A: the kernel's answer and the explanation. */
    private MemorySegment rawTcpFrame(boolean v4, int proto, int payload) {
        GuestFrames.Case c = find(v4 ? 12 : 13, k -> k.v4 == v4 && k.proto == proto && k.l3 == (v4 ? 20 : 40)
                && k.l2 == 14 && k.description.contains("csum"));
        byte[] b = java.util.Arrays.copyOf(c.correct, 14 + c.l3 + c.l4h + payload);
        return arena.allocate(b.length).copyFrom(MemorySegment.ofArray(b));
    }

    @Test
    void gsoSize65535IsRefusedByTheKernelExplainedAndRefusedByTheTranslation() {
        MemorySegment f = rawTcpFrame(true, GuestFrames.TCP, 3000);
        VirtioNetHdr.set(txHdr, true, VirtioNetHdr.GsoType.TCPV4, false, 54, 0xFFFF, 34, 16);
        assertEquals(Tap.MALFORMED, o.a.write(txHdr, f), "the kernel refuses GSO_BY_FRAGS");
        String why = Tap.explainMalformed(TapMode.TAP, txHdr, f.byteSize());
        assertTrue(why.contains("GSO_BY_FRAGS"), why);
        TxMetadata md = new TxMetadata().ipVersion(IpVersion.IPV4).l2Length(14).l3Length(20).tcpSegmentation(0xFFFF);
        assertEquals(OffloadTranslation.REFUSED, OffloadTranslation.buildTxHeader(md, f, txHdr));
        assertEquals(Reason.SEGMENT_SIZE_RESERVED, md.refusal());
    }

    @Test
    void usoOverUdpMaxSegmentsIsRefusedByTheKernelExplainedAndRefusedByTheTranslation() {
        int size = 10;
        MemorySegment f = rawTcpFrame(true, GuestFrames.UDP, size * 129);
        f.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN), 16, (short) (f.byteSize() - 14));
        VirtioNetHdr.set(txHdr, true, VirtioNetHdr.GsoType.UDP_L4, false, 42, size, 34, 6);
        assertEquals(Tap.MALFORMED, o.a.write(txHdr, f), "the kernel refuses more than 128 datagrams");
        String why = Tap.explainMalformed(TapMode.TAP, txHdr, f.byteSize());
        assertTrue(why.contains("UDP_MAX_SEGMENTS"), why);
        // 128 datagrams exactly are accepted by the kernel.
        MemorySegment ok = f.asSlice(0, 14 + 20 + 8 + size * 128);
        assertEquals(ok.byteSize(), o.a.write(txHdr, ok), "128 datagrams are fine");
        TxMetadata md = new TxMetadata().ipVersion(IpVersion.IPV4).l2Length(14).l3Length(20).udpSegmentation(size);
        assertEquals(OffloadTranslation.REFUSED, OffloadTranslation.buildTxHeader(md, f, txHdr));
        assertEquals(Reason.TOO_MANY_SEGMENTS, md.refusal(), md.refusalMessage());
        o.drain();
    }

    @Test
    void tso6WithAFragmentHeaderIsDroppedByTheKernelAndRefusedByTheTranslation() throws Exception {
        // IPv6 + fragment header (8 bytes, offset 0, M=0) + TCP, 3 segments' worth.
        MemorySegment base = rawTcpFrame(false, GuestFrames.TCP, 3000);
        MemorySegment f = arena.allocate(base.byteSize() + 8);
        MemorySegment.copy(base, 0, f, 0, 54);
        MemorySegment.copy(base, 54, f, 62, base.byteSize() - 54);
        ValueLayout.OfShort be16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN);
        f.set(ValueLayout.JAVA_BYTE, 14 + 6, (byte) 44);
        f.set(ValueLayout.JAVA_BYTE, 54, (byte) 6);
        f.set(be16, 14 + 4, (short) (f.byteSize() - 54));
        long droppedBefore = txDropped();
        VirtioNetHdr.set(txHdr, true, VirtioNetHdr.GsoType.TCPV6, false, 62 + 20, 1000, 62, 16);
        assertEquals(f.byteSize(), o.a.write(txHdr, f), "the kernel takes the write");
        o.receive(flow(-1), HostileGuestKernelTest::ours, 0, QUIET, "TSO6 with a fragment header");
        TxMetadata md = new TxMetadata().ipVersion(IpVersion.IPV6).l2Length(14).l3Length(48).tcpSegmentation(1000);
        MemorySegment h = arena.allocate(VirtioNetHdr.LAYOUT);
        assertEquals(OffloadTranslation.REFUSED, OffloadTranslation.buildTxHeader(md, f, h));
        assertEquals(Reason.FRAGMENTED, md.refusal(), md.refusalMessage());
        long droppedAfter = awaitTxDroppedAbove(droppedBefore);
        assertTrue(droppedAfter > droppedBefore, "the kernel counted the frame as dropped: " + droppedBefore + " -> " + droppedAfter);
    }

    /**
     * Every rule {@link Tap#explainMalformed} names is one the kernel applies: each header below
     * breaks one rule, the kernel answers EINVAL, and the explanation names that rule.
     */
    @Test
    void everyRuleExplainMalformedNamesIsOneTheKernelApplies() {
        record Rule(int flags, int gso, int hdrLen, int gsoSize, int start, int offset, int length, String says) {}
        List<Rule> rules = List.of(
                new Rule(0, 0, 0, 0, 0, 0, 13, "shorter than an Ethernet header"),
                new Rule(0, 0, 10, 0, 0, 0, 100, "hdr_len 10 is shorter than an Ethernet header"),
                new Rule(0, 0, 200, 0, 0, 0, 100, "hdr_len 200 is beyond"),
                new Rule(1, 0, 0, 0, 90, 16, 100, "csum_start 90 + csum_offset 16 + 2 is past"),
                new Rule(1, 2, 54, 1000, 34, 16, 3000, "gso_type 2 is not"),
                new Rule(1, 0x80, 54, 1000, 34, 16, 3000, "ECN bit of gso_type without a GSO type"),
                new Rule(1, 1, 54, 0, 34, 16, 3000, "gso_size 0"),
                new Rule(1, 1, 54, 1000, 34, 6, 3000, "csum_offset 6 does not match"),
                new Rule(1, 1, 0, 1000, 34, 16, 53, "TCP header from csum_start 34"),
                new Rule(0, 5, 42, 100, 34, 6, 3000, "UDP_L4 GSO without NEEDS_CSUM"),
                new Rule(1, 0x85, 42, 100, 34, 6, 3000, "ECN bit with gso_type UDP_L4"),
                new Rule(1, 5, 42, 100, 34, 16, 3000, "csum_offset 16 does not match gso_type UDP_L4"),
                new Rule(1, 1, 54, 0xFFFF, 34, 16, 3000, "GSO_BY_FRAGS"),
                new Rule(1, 5, 42, 10, 34, 6, 34 + 8 + 1290, "UDP_MAX_SEGMENTS"));
        MemorySegment v4 = rawTcpFrame(true, GuestFrames.TCP, 3000);
        for (Rule r : rules) {
            MemorySegment f = arena.allocate(r.length()).copyFrom(v4.asSlice(0, Math.min(r.length(), v4.byteSize())));
            if (r.length() >= 24) {
                f.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN), 16, (short) (r.length() - 14));
            }
            if (r.length() >= 24 && (r.gso() == 5 || r.gso() == 0x85)) {
                f.set(ValueLayout.JAVA_BYTE, 23, (byte) GuestFrames.UDP);
            }
            txHdr.fill((byte) 0);
            txHdr.set(ValueLayout.JAVA_BYTE, 0, (byte) r.flags());
            txHdr.set(ValueLayout.JAVA_BYTE, 1, (byte) r.gso());
            ValueLayout.OfShort le = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
            txHdr.set(le, 2, (short) r.hdrLen());
            txHdr.set(le, 4, (short) r.gsoSize());
            txHdr.set(le, 6, (short) r.start());
            txHdr.set(le, 8, (short) r.offset());
            String why = Tap.explainMalformed(TapMode.TAP, txHdr, r.length());
            assertTrue(why.contains(r.says()), r + ": explained as " + why);
            assertEquals(Tap.MALFORMED, o.a.write(txHdr, f), r + ": the kernel refuses it (" + why + ")");
        }
        o.drain();
    }
}
