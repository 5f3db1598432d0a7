package dev.nettap.vnet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ChecksumsTest {

    private static final ValueLayout.OfShort BE16 =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private static MemorySegment bytes(int... b) {
        byte[] a = new byte[b.length];
        for (int i = 0; i < b.length; i++) {
            a[i] = (byte) b[i];
        }
        return MemorySegment.ofArray(a);
    }

    @Test
    void rfc1071ExampleFromTheRfc() {
        // RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2.
        MemorySegment s = bytes(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7);
        assertEquals(0xddf2, Checksums.rfc1071Reference(s, 0, 8));
        assertEquals(0xddf2, Checksums.rfc1071(s, 0, 8));
        assertEquals(~0xddf2 & 0xFFFF, Checksums.checksum(s, 0, 8));
    }

    @Test
    void oddLengthPadsTheLastByteAsHighByte() {
        MemorySegment s = bytes(0x12, 0x34, 0x56);
        assertEquals(0x1234 + 0x5600, Checksums.rfc1071(s, 0, 3));
        assertEquals(0x1234 + 0x5600, Checksums.rfc1071Reference(s, 0, 3));
        assertEquals(0xAB00, Checksums.rfc1071(bytes(0xAB), 0, 1));
        assertEquals(0, Checksums.rfc1071(bytes(0xAB), 0, 0));
    }

    @Test
    void carriesFoldBackIn() {
        byte[] ff = new byte[4096];
        java.util.Arrays.fill(ff, (byte) 0xFF);
        assertEquals(0xFFFF, Checksums.rfc1071(MemorySegment.ofArray(ff), 0, ff.length));
        // 2047 words of 0xFFFF (ones'-complement zero) and a padded 0xFF00.
        assertEquals(0xFF00, Checksums.rfc1071(MemorySegment.ofArray(ff), 1, 4095));
        // 0xFFFF + 0x0001 = 0x10000 -> 0x0001 in ones'-complement arithmetic.
        assertEquals(0x0001, Checksums.rfc1071(bytes(0xFF, 0xFF, 0x00, 0x01), 0, 4));
    }

    private static void checkAllLengthsAndAlignments(MemorySegment seg, long base) {
        for (int align = 0; align < 8; align++) {
            for (int len = 0; len <= 2048; len++) {
                int ref = Checksums.rfc1071Reference(seg, base + align, len);
                int fast = Checksums.rfc1071(seg, base + align, len);
                if (ref != fast) {
                    assertEquals(ref, fast, "length " + len + " alignment " + align);
                }
            }
        }
    }

    @Test
    void fastEqualsReferenceHeapEveryLengthAndAlignment() {
        Random r = new Random(1071);
        byte[] a = new byte[2048 + 16];
        r.nextBytes(a);
        checkAllLengthsAndAlignments(MemorySegment.ofArray(a), 0);
        java.util.Arrays.fill(a, (byte) 0xFF); // every word at maximum: the carry path
        checkAllLengthsAndAlignments(MemorySegment.ofArray(a), 0);
    }

    @Test
    void fastEqualsReferenceNativeEveryLengthAndAlignment() {
        Random r = new Random(2048);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(2048 + 16, 8);
            for (long i = 0; i < seg.byteSize(); i++) {
                seg.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt());
            }
            checkAllLengthsAndAlignments(seg, 0);
            seg.fill((byte) 0xFF);
            checkAllLengthsAndAlignments(seg, 0);
        }
    }

    @Test
    void fastEqualsReferenceRandomLargeRanges() {
        Random r = new Random(42);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(70_000, 16);
            for (int round = 0; round < 200; round++) {
                for (long i = 0; i < seg.byteSize(); i += 8) {
                    seg.set(ValueLayout.JAVA_LONG_UNALIGNED, i, r.nextLong());
                }
                int off = r.nextInt(1000);
                int len = r.nextInt(68_000);
                assertEquals(Checksums.rfc1071Reference(seg, off, len), Checksums.rfc1071(seg, off, len),
                        "offset " + off + " length " + len);
                byte[] heap = seg.toArray(ValueLayout.JAVA_BYTE);
                assertEquals(Checksums.rfc1071Reference(seg, off, len),
                        Checksums.rfc1071(MemorySegment.ofArray(heap), off, len));
            }
        }
    }

    @Test
    void sumsOfEvenPiecesAdd() {
        Random r = new Random(7);
        byte[] a = new byte[1000];
        r.nextBytes(a);
        MemorySegment s = MemorySegment.ofArray(a);
        int whole = Checksums.rfc1071(s, 0, 999);
        assertEquals(whole, Checksums.rfc1071(s, 400, 599, Checksums.rfc1071(s, 0, 400)));
    }

    @Test
    void outOfRangeIsRefusedBeforeReading() {
        MemorySegment s = MemorySegment.ofArray(new byte[10]);
        assertThrows(IndexOutOfBoundsException.class, () -> Checksums.rfc1071(s, 5, 6));
        assertThrows(IndexOutOfBoundsException.class, () -> Checksums.rfc1071(s, -1, 2));
        assertThrows(IndexOutOfBoundsException.class, () -> Checksums.rfc1071Reference(s, 0, 11));
    }

    @Test
    void ipv4HeaderChecksumKnownVector() {
        // A widely quoted example header; its checksum is 0xb861.
        MemorySegment h = bytes(0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7);
        assertEquals(0xb861, Checksums.ipv4HeaderChecksum(h, 0));
        // The stored field does not influence the result.
        h.set(BE16, 10, (short) 0x1234);
        assertEquals(0xb861, Checksums.ipv4HeaderChecksum(h, 0));
        Checksums.setIpv4HeaderChecksum(h, 0);
        assertEquals(0xb861, h.get(BE16, 10) & 0xFFFF);
        assertEquals(0xFFFF, Checksums.rfc1071(h, 0, 20), "a correct header sums to 0xFFFF");
    }

    @Test
    void ipv4HeaderChecksumCoversOptionsFromIhl() {
        MemorySegment h = MemorySegment.ofArray(new byte[24]);
        h.set(ValueLayout.JAVA_BYTE, 0, (byte) 0x46);
        h.set(ValueLayout.JAVA_BYTE, 22, (byte) 0x77); // inside the option bytes
        Checksums.setIpv4HeaderChecksum(h, 0);
        assertEquals(0xFFFF, Checksums.rfc1071(h, 0, 24));
        int withOption = h.get(BE16, 10);
        h.set(ValueLayout.JAVA_BYTE, 22, (byte) 0);
        assertNotEquals(withOption, (short) Checksums.ipv4HeaderChecksum(h, 0));
    }

    @Test
    void ipv4HeaderChecksumBadIhlAndShortFrames() {
        MemorySegment h = MemorySegment.ofArray(new byte[20]);
        h.set(ValueLayout.JAVA_BYTE, 0, (byte) 0x44);
        assertEquals(FrameException.Reason.IHL_TOO_SMALL,
                assertThrows(FrameException.class, () -> Checksums.setIpv4HeaderChecksum(h, 0)).reason());
        h.set(ValueLayout.JAVA_BYTE, 0, (byte) 0x46); // 24 bytes claimed, 20 present
        assertEquals(FrameException.Reason.FRAME_TOO_SHORT,
                assertThrows(FrameException.class, () -> Checksums.setIpv4HeaderChecksum(h, 0)).reason());
        h.set(ValueLayout.JAVA_BYTE, 0, (byte) 0x65);
        assertEquals(FrameException.Reason.UNKNOWN_IP_VERSION,
                assertThrows(FrameException.class, () -> Checksums.ipv4HeaderChecksum(h, 0)).reason());
        assertEquals(0, h.get(BE16, 10), "nothing was written");
        assertEquals(FrameException.Reason.FRAME_TOO_SHORT,
                assertThrows(FrameException.class, () -> Checksums.ipv4HeaderChecksum(h, 20)).reason());
    }

    /** The plain definition: complement of the byte-pair sum of the header with bytes 10-11 as zero. */
    private static int ipv4HeaderReference(MemorySegment seg, long off, int ihlBytes) {
        byte[] copy = seg.asSlice(off, ihlBytes).toArray(ValueLayout.JAVA_BYTE);
        copy[10] = 0;
        copy[11] = 0;
        return ~Checksums.rfc1071Reference(MemorySegment.ofArray(copy), 0, ihlBytes) & 0xFFFF;
    }

    private static void checkIpv4FastPath(MemorySegment buf, Random r) {
        for (int round = 0; round < 500; round++) {
            for (int align = 0; align < 8; align++) {
                int ihl = round % 4 == 0 ? 5 + r.nextInt(11) : 5; // mostly the fast path, some options
                for (long i = 0; i < ihl * 4; i++) {
                    buf.set(ValueLayout.JAVA_BYTE, align + i, (byte) r.nextInt());
                }
                if (round % 50 == 0) { // every word at its maximum: the carry path
                    buf.asSlice(align, ihl * 4).fill((byte) 0xFF);
                }
                buf.set(ValueLayout.JAVA_BYTE, align, (byte) (0x40 | ihl));
                int want = ipv4HeaderReference(buf, align, ihl * 4);
                assertEquals(want, Checksums.ipv4HeaderChecksum(buf, align), "IHL " + ihl + " at " + align);
                assertEquals(want, Checksums.ipv4HeaderChecksumGeneral(buf, align), "general path");
            }
        }
    }

    @Test
    void ipv4HeaderFastPathEqualsTheReferenceHeapAndNative() {
        checkIpv4FastPath(MemorySegment.ofArray(new byte[72]), new Random(791));
        try (Arena arena = Arena.ofConfined()) {
            checkIpv4FastPath(arena.allocate(72, 8), new Random(792));
        }
    }

    @Test
    void ipv4HeaderFastPathKeepsItsValidation() {
        // Exactly 20 bytes at the end of the segment: the fast path; one byte less: a typed error.
        MemorySegment h = MemorySegment.ofArray(new byte[23]);
        h.set(ValueLayout.JAVA_BYTE, 3, (byte) 0x45);
        h.set(ValueLayout.JAVA_BYTE, 22, (byte) 0x12);
        assertEquals(ipv4HeaderReference(h, 3, 20), Checksums.ipv4HeaderChecksum(h, 3));
        assertEquals(FrameException.Reason.FRAME_TOO_SHORT,
                assertThrows(FrameException.class, () -> Checksums.ipv4HeaderChecksum(h.asSlice(0, 22), 3)).reason());
        assertEquals(FrameException.Reason.FRAME_TOO_SHORT,
                assertThrows(FrameException.class, () -> Checksums.ipv4HeaderChecksum(h, -1)).reason());
        // A version other than 4 and IHL below 5 are refused whatever the length.
        for (int b0 : new int[] {0x55, 0x65, 0x05, 0x44, 0x40}) {
            h.set(ValueLayout.JAVA_BYTE, 3, (byte) b0);
            FrameException.Reason want = (b0 >>> 4) != 4 ? FrameException.Reason.UNKNOWN_IP_VERSION
                    : FrameException.Reason.IHL_TOO_SMALL;
            assertEquals(want, assertThrows(FrameException.class, () -> Checksums.ipv4HeaderChecksum(h, 3)).reason(),
                    "first byte 0x" + Integer.toHexString(b0));
        }
    }

    @Test
    void pseudoHeaderSumsMatchHandComputation() {
        MemorySegment v4 = MemorySegment.ofArray(new byte[20]);
        v4.set(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN), 12, 0xC0A80001);
        v4.set(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN), 16, 0xC0A800C7);
        long expect = 0xC0A8 + 0x0001 + 0xC0A8 + 0x00C7 + 6 + 1000;
        assertEquals(Checksums.fold(expect), Checksums.pseudoHeaderSumIpv4(v4, 0, Checksums.PROTO_TCP, 1000));

        MemorySegment v6 = MemorySegment.ofArray(new byte[40]);
        long sum = 0;
        for (int i = 8; i < 40; i += 2) {
            v6.set(BE16, i, (short) (i * 0x1111));
            sum += (i * 0x1111) & 0xFFFF;
        }
        sum += 17 + 70_000L; // a 32-bit upper-layer length is summed as two words
        assertEquals(Checksums.fold(sum), Checksums.pseudoHeaderSumIpv6(v6, 0, Checksums.PROTO_UDP, 70_000));
    }

    @Test
    void incrementalUpdateEqualsFullRecompute() {
        Random r = new Random(1624);
        byte[] a = new byte[64];
        for (int round = 0; round < 10_000; round++) {
            r.nextBytes(a);
            a[0] = 0x45; // never all zero: the RFC 1624 result is then exact
            MemorySegment s = MemorySegment.ofArray(a);
            int checksum = Checksums.checksum(s, 0, a.length);
            int word = 2 * r.nextInt(a.length / 2);
            int old = s.get(BE16, word) & 0xFFFF;
            int neu = r.nextInt(0x10000);
            s.set(BE16, word, (short) neu);
            int updated = Checksums.incrementalUpdate(checksum, old, neu);
            assertEquals(Checksums.checksum(s, 0, a.length), updated, "round " + round);
        }
    }

    @Test
    void incrementalUpdateRfc1624Example() {
        // RFC 1624 section 4: HC = 0xDD2F, m = 0x5555 -> m' = 0x3285 gives HC' = 0x0000.
        assertEquals(0x0000, Checksums.incrementalUpdate(0xDD2F, 0x5555, 0x3285));
    }
}
