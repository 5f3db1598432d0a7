package dev.nettap.vnet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.vnet.FrameException.Reason;
import dev.nettap.vnet.VirtioNetHdr.Flag;
import dev.nettap.vnet.VirtioNetHdr.GsoType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

class VirtioNetHdrTest {

    @Test
    void layoutIsTwelveLittleEndianBytes() {
        assertEquals(12, VirtioNetHdr.LAYOUT.byteSize());
        assertEquals(12, VirtioNetHdr.SIZE);
        assertEquals(10, VirtioNetHdr.LEGACY_SIZE);
        assertEquals(1, VirtioNetHdr.LAYOUT.byteAlignment());
        assertEquals(10, VirtioNetHdr.LAYOUT.byteOffset(MemoryLayout.PathElement.groupElement("num_buffers")));
        assertEquals(6, VirtioNetHdr.LAYOUT.byteOffset(MemoryLayout.PathElement.groupElement("csum_start")));
    }

    @Test
    void fieldsLandAtTheKernelOffsets() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment h = arena.allocate(VirtioNetHdr.LAYOUT);
            VirtioNetHdr.setFlag(h, Flag.NEEDS_CSUM, true);
            VirtioNetHdr.setGso(h, GsoType.TCPV6, true);
            VirtioNetHdr.setHdrLen(h, 0x0102);
            VirtioNetHdr.setGsoSize(h, 0x0304);
            VirtioNetHdr.setCsumStart(h, 0x0506);
            VirtioNetHdr.setCsumOffset(h, 0x0708);
            VirtioNetHdr.setNumBuffers(h, 0x090A);
            assertArrayEquals(new byte[] {1, (byte) 0x84, 2, 1, 4, 3, 6, 5, 8, 7, 0x0A, 9},
                    h.toArray(ValueLayout.JAVA_BYTE));
            assertTrue(VirtioNetHdr.hasFlag(h, Flag.NEEDS_CSUM));
            assertFalse(VirtioNetHdr.hasFlag(h, Flag.DATA_VALID));
            assertEquals(GsoType.TCPV6, VirtioNetHdr.gsoType(h));
            assertTrue(VirtioNetHdr.gsoEcn(h));
            assertEquals(0x0102, VirtioNetHdr.hdrLen(h));
            assertEquals(0x0304, VirtioNetHdr.gsoSize(h));
            assertEquals(0x0506, VirtioNetHdr.csumStart(h));
            assertEquals(0x0708, VirtioNetHdr.csumOffset(h));
            assertEquals(0x090A, VirtioNetHdr.numBuffers(h));
            VirtioNetHdr.setFlag(h, Flag.DATA_VALID, true);
            VirtioNetHdr.setFlag(h, Flag.NEEDS_CSUM, false);
            assertEquals(2, h.get(ValueLayout.JAVA_BYTE, 0));
            VirtioNetHdr.clear(h);
            assertArrayEquals(new byte[12], h.toArray(ValueLayout.JAVA_BYTE));
        }
    }

    @Test
    void unsignedSixteenBitValues() {
        MemorySegment h = MemorySegment.ofArray(new byte[12]);
        VirtioNetHdr.setGsoSize(h, 0xFFFF);
        assertEquals(0xFFFF, VirtioNetHdr.gsoSize(h));
        assertEquals(Reason.FIELD_OVERFLOW,
                assertThrows(FrameException.class, () -> VirtioNetHdr.setCsumStart(h, 0x10000)).reason());
        assertThrows(FrameException.class, () -> VirtioNetHdr.setHdrLen(h, -1));
    }

    @Test
    void setWritesTheSameBytesAsTheSetters() {
        java.util.Random r = new java.util.Random(12);
        for (int i = 0; i < 2000; i++) {
            for (int size : new int[] {VirtioNetHdr.SIZE, VirtioNetHdr.LEGACY_SIZE}) {
                boolean needs = r.nextBoolean();
                boolean ecn = r.nextBoolean();
                GsoType t = GsoType.values()[r.nextInt(GsoType.values().length)];
                int[] v = {r.nextInt(0x10000), r.nextInt(0x10000), r.nextInt(0x10000), i == 0 ? 0xFFFF : r.nextInt(0x10000)};
                byte[] junk = new byte[size];
                r.nextBytes(junk);
                MemorySegment a = MemorySegment.ofArray(junk.clone());
                MemorySegment b = MemorySegment.ofArray(junk.clone());
                VirtioNetHdr.set(a, needs, t, ecn, v[0], v[1], v[2], v[3]);
                VirtioNetHdr.clear(b);
                VirtioNetHdr.setFlag(b, Flag.NEEDS_CSUM, needs);
                VirtioNetHdr.setGso(b, t, ecn);
                VirtioNetHdr.setHdrLen(b, v[0]);
                VirtioNetHdr.setGsoSize(b, v[1]);
                VirtioNetHdr.setCsumStart(b, v[2]);
                VirtioNetHdr.setCsumOffset(b, v[3]);
                assertArrayEquals(b.toArray(ValueLayout.JAVA_BYTE), a.toArray(ValueLayout.JAVA_BYTE));
            }
        }
        MemorySegment h = MemorySegment.ofArray(new byte[12]);
        FrameException e = assertThrows(FrameException.class,
                () -> VirtioNetHdr.set(h, true, GsoType.TCPV4, false, 54, 1448, 0x10000, 16));
        assertEquals(Reason.FIELD_OVERFLOW, e.reason());
        assertTrue(e.getMessage().contains("csum_start"), e.getMessage());
        assertArrayEquals(new byte[12], h.toArray(ValueLayout.JAVA_BYTE), "nothing written");
        assertEquals(Reason.HEADER_TOO_SMALL, assertThrows(FrameException.class,
                () -> VirtioNetHdr.set(MemorySegment.ofArray(new byte[9]), false, GsoType.NONE, false, 0, 0, 0, 0)).reason());
    }

    @Test
    void legacyHeaderHasNoNumBuffers() {
        MemorySegment h = MemorySegment.ofArray(new byte[10]);
        VirtioNetHdr.setCsumOffset(h, 16);
        VirtioNetHdr.clear(h);
        assertEquals(0, VirtioNetHdr.csumOffset(h));
        assertEquals(Reason.HEADER_TOO_SMALL,
                assertThrows(FrameException.class, () -> VirtioNetHdr.numBuffers(h)).reason());
        assertEquals(Reason.HEADER_TOO_SMALL, assertThrows(FrameException.class,
                () -> VirtioNetHdr.gsoSize(MemorySegment.ofArray(new byte[9]))).reason());
    }

    @Test
    void gsoCodesAndUnknownBits() {
        for (GsoType t : GsoType.values()) {
            assertEquals(t, GsoType.ofCode(t.code()));
        }
        assertEquals(5, GsoType.UDP_L4.code());
        assertEquals(Reason.BAD_HEADER_FIELD, assertThrows(FrameException.class, () -> GsoType.ofCode(2)).reason());
        assertThrows(FrameException.class, () -> GsoType.ofCode(6));
        MemorySegment h = MemorySegment.ofArray(new byte[12]);
        assertFalse(VirtioNetHdr.hasUnknownFlags(h));
        h.set(ValueLayout.JAVA_BYTE, 0, (byte) 4);
        assertTrue(VirtioNetHdr.hasUnknownFlags(h));
    }
    private static void checkReadEqualsGetters(MemorySegment buf, Random r) {
        VirtioNetHdr.Fields f = new VirtioNetHdr.Fields();
        int[] codes = {0, 1, 3, 4, 5};
        for (int size : new int[] {VirtioNetHdr.LEGACY_SIZE, VirtioNetHdr.SIZE}) {
            for (int align = 0; align < 8; align++) {
                MemorySegment h = buf.asSlice(align, size);
                for (int round = 0; round < 50; round++) {
                    for (int i = 0; i < size; i++) {
                        h.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt());
                    }
                    h.set(ValueLayout.JAVA_BYTE, 1, (byte) (codes[r.nextInt(codes.length)] | (r.nextBoolean() ? 0x80 : 0)));
                    String where = "size " + size + " alignment " + align;
                    assertEquals(f, VirtioNetHdr.read(h, f));
                    for (Flag flag : Flag.values()) {
                        assertEquals(VirtioNetHdr.hasFlag(h, flag), f.hasFlag(flag), where);
                    }
                    assertEquals(VirtioNetHdr.hasUnknownFlags(h), f.hasUnknownFlags(), where);
                    assertEquals(VirtioNetHdr.gsoType(h), f.gsoType(), where);
                    assertEquals(VirtioNetHdr.gsoEcn(h), f.gsoEcn(), where);
                    assertEquals(VirtioNetHdr.hdrLen(h), f.hdrLen(), where);
                    assertEquals(VirtioNetHdr.gsoSize(h), f.gsoSize(), where);
                    assertEquals(VirtioNetHdr.csumStart(h), f.csumStart(), where);
                    assertEquals(VirtioNetHdr.csumOffset(h), f.csumOffset(), where);
                    assertEquals(size == VirtioNetHdr.SIZE ? VirtioNetHdr.numBuffers(h) : 0, f.numBuffers(), where);
                    // set() then read() round-trips, at this alignment too.
                    boolean csum = r.nextBoolean();
                    GsoType t = GsoType.values()[r.nextInt(GsoType.values().length)];
                    boolean ecn = r.nextBoolean();
                    int a = r.nextInt(0x10000), b = r.nextInt(0x10000), c = r.nextInt(0x10000), d = r.nextInt(0x10000);
                    VirtioNetHdr.set(h, csum, t, ecn, a, b, c, d);
                    VirtioNetHdr.read(h, f);
                    assertEquals(csum, f.hasFlag(Flag.NEEDS_CSUM), where);
                    assertFalse(f.hasFlag(Flag.DATA_VALID), where);
                    assertEquals(t, f.gsoType(), where);
                    assertEquals(ecn, f.gsoEcn(), where);
                    assertEquals(a, f.hdrLen(), where);
                    assertEquals(b, f.gsoSize(), where);
                    assertEquals(c, f.csumStart(), where);
                    assertEquals(d, f.csumOffset(), where);
                    assertEquals(0, f.numBuffers(), where);
                }
            }
        }
    }

    @Test
    void readEqualsTheGettersAtEveryAlignmentHeapAndNative() {
        checkReadEqualsGetters(MemorySegment.ofArray(new byte[24]), new Random(4));
        try (Arena arena = Arena.ofConfined()) {
            checkReadEqualsGetters(arena.allocate(24, 8), new Random(5));
        }
    }

    @Test
    void readRejectsBadHeadersAndLeavesTheHolderUnchanged() {
        VirtioNetHdr.Fields f = new VirtioNetHdr.Fields();
        MemorySegment good = MemorySegment.ofArray(new byte[12]);
        VirtioNetHdr.set(good, true, GsoType.TCPV4, false, 54, 1448, 34, 16);
        VirtioNetHdr.read(good, f);
        assertEquals(Reason.HEADER_TOO_SMALL, assertThrows(FrameException.class,
                () -> VirtioNetHdr.read(MemorySegment.ofArray(new byte[9]), f)).reason());
        MemorySegment bad = MemorySegment.ofArray(new byte[12]);
        bad.set(ValueLayout.JAVA_BYTE, 1, (byte) 2);
        assertEquals(Reason.BAD_HEADER_FIELD, assertThrows(FrameException.class, () -> VirtioNetHdr.read(bad, f)).reason());
        assertEquals(GsoType.TCPV4, f.gsoType());
        assertTrue(f.hasFlag(Flag.NEEDS_CSUM));
        assertEquals(54, f.hdrLen());
        assertEquals(1448, f.gsoSize());
        assertEquals(34, f.csumStart());
        assertEquals(16, f.csumOffset());
    }
}
