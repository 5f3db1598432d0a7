package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.nettap.vnet.Checksums;
import dev.nettap.vnet.FrameException;
import dev.nettap.vnet.IpVersion;
import dev.nettap.vnet.OffloadTranslation;
import dev.nettap.vnet.RxMetadata;
import dev.nettap.vnet.TxMetadata;
import dev.nettap.vnet.VirtioNetHdr;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Seeded, time-bounded fuzzing of everything a guest or the kernel can feed the pure translation:
 * {@link OffloadTranslation#buildTxHeader} (refuses or accepts, never throws, writes nothing when
 * it refuses, returns a length inside the frame), {@link OffloadTranslation#parseRxHeader} and
 * {@link OffloadTranslation#completeChecksum} (only {@link FrameException}, nothing written then),
 * the {@link VirtioNetHdr} accessors (only {@link FrameException}), {@link Checksums} on any offset,
 * and {@link Tap#explainMalformed} (never throws). Frames are random well-formed ones from
 * {@link GuestFrames} with random bytes flipped, cut or extended, or random bytes; metadata and
 * headers are random, with the extreme values mixed in. {@code -Dnettap.seed} and
 * {@code -Dnettap.fuzz.millis} (default 3000) reproduce or extend a run; the seed is printed on
 * failure.
 */
class TranslationFuzzTest {
    private static final int[] EXTREMES = {0, 1, 2, 7, 8, 13, 14, 18, 20, 40, 60, 0xFFFE, 0xFFFF, 0x10000,
            Integer.MAX_VALUE - 1, Integer.MAX_VALUE};

    private static int pick(Random r, int bound) {
        return r.nextInt(3) == 0 ? EXTREMES[r.nextInt(EXTREMES.length)] : r.nextInt(bound);
    }

    private static MemorySegment frame(Random r, Arena arena, int i) {
        byte[] b;
        int kind = r.nextInt(4);
        if (kind == 0) {
            b = new byte[r.nextInt(200)];
            r.nextBytes(b);
        } else {
            b = GuestFrames.random(r, i).guest;
            if (kind == 1) {
                for (int k = 1 + r.nextInt(4); k > 0 && b.length > 0; k--) {
                    b[r.nextInt(Math.min(b.length, 120))] = (byte) r.nextInt();
                }
            } else if (kind == 2) {
                b = Arrays.copyOf(b, r.nextInt(b.length + 1));
            }
        }
        if (r.nextBoolean()) {
            return MemorySegment.ofArray(b);
        }
        MemorySegment s = arena.allocate(Math.max(1, b.length)).asSlice(0, b.length);
        return s.copyFrom(MemorySegment.ofArray(b));
    }

    private static TxMetadata metadata(Random r, TxMetadata md) {
        md.clear().ipVersion(IpVersion.values()[r.nextInt(3)]).l2Length(pick(r, 30)).l3Length(pick(r, 80))
                .l4Length(r.nextBoolean() ? 0 : pick(r, 40)).ipv4HeaderChecksum(r.nextBoolean())
                .tcpChecksum(r.nextInt(3) == 0).udpChecksum(r.nextInt(3) == 0).tcpEcn(r.nextInt(4) == 0);
        if (r.nextInt(3) == 0) {
            md.tcpSegmentation(pick(r, 3000));
        }
        if (r.nextInt(3) == 0) {
            md.udpSegmentation(pick(r, 3000));
        }
        return md;
    }

    @Test
    void nothingButTheDocumentedOutcomes() {
        long seed = Long.getLong("nettap.seed", System.nanoTime());
        long millis = Long.getLong("nettap.fuzz.millis", 3000);
        Random r = new Random(seed);
        long end = System.nanoTime() + millis * 1_000_000;
        TxMetadata md = new TxMetadata();
        RxMetadata rx = new RxMetadata();
        VirtioNetHdr.Fields fields = new VirtioNetHdr.Fields();
        int i = 0;
        int accepted = 0;
        int refused = 0;
        try (Arena arena = Arena.ofConfined()) {
            for (; System.nanoTime() < end; i++) {
                String what = "seed " + seed + " (rerun with -Dnettap.seed=" + seed + "), iteration " + i;
                try {
                    MemorySegment f = frame(r, arena, i);
                    // ---- TX
                    MemorySegment hdr = MemorySegment.ofArray(new byte[r.nextBoolean() ? 12 : 10]);
                    hdr.fill((byte) 0xA5);
                    byte[] before = f.toArray(ValueLayout.JAVA_BYTE);
                    byte[] hdrBefore = hdr.toArray(ValueLayout.JAVA_BYTE);
                    metadata(r, md);
                    long n = OffloadTranslation.buildTxHeader(md, f, hdr);
                    if (n == OffloadTranslation.REFUSED) {
                        refused++;
                        assertNotNull(md.refusal(), what);
                        assertTrue(md.refusalMessage().startsWith(md.refusal().name()), what);
                        assertArrayEquals(before, f.toArray(ValueLayout.JAVA_BYTE), what + ": frame written by a refusal");
                        assertArrayEquals(hdrBefore, hdr.toArray(ValueLayout.JAVA_BYTE), what + ": header written by a refusal");
                    } else {
                        accepted++;
                        assertNull(md.refusal(), what);
                        assertTrue(n >= 0 && n <= f.byteSize(), what + ": length " + n + " of " + f.byteSize());
                        VirtioNetHdr.read(hdr, fields);
                        assertNotNull(Tap.explainMalformed(TapMode.TAP, hdr, n), what);
                        if (fields.hasFlag(VirtioNetHdr.Flag.NEEDS_CSUM)) {
                            assertTrue(fields.csumStart() + fields.csumOffset() + 2 <= n, what + ": checksum inside");
                            assertTrue(fields.hdrLen() <= n, what + ": hdr_len inside");
                        }
                    }
                    // ---- RX: a random header (or the one just built) over the frame
                    MemorySegment rh = MemorySegment.ofArray(new byte[r.nextInt(14)]);
                    if (r.nextBoolean() && rh.byteSize() >= 10) {
                        MemorySegment.copy(hdr, 0, rh, 0, Math.min(hdr.byteSize(), rh.byteSize()));
                    } else {
                        for (long k = 0; k < rh.byteSize(); k++) {
                            rh.set(ValueLayout.JAVA_BYTE, k, (byte) (r.nextInt(4) == 0 ? pick(r, 256) : r.nextInt(8)));
                        }
                    }
                    String rxBefore = rx.toString();
                    try {
                        OffloadTranslation.parseRxHeader(rh, f, rx);
                        byte[] fb = f.toArray(ValueLayout.JAVA_BYTE);
                        try {
                            OffloadTranslation.completeChecksum(rx, f);
                        } catch (FrameException e) {
                            assertArrayEquals(fb, f.toArray(ValueLayout.JAVA_BYTE), what + ": completeChecksum wrote and threw");
                        }
                    } catch (FrameException e) {
                        assertEquals(rxBefore, rx.toString(), what + ": parseRxHeader changed the metadata and threw");
                    }
                    // ---- header accessors on any size
                    accessors(rh, r);
                    // ---- explainMalformed, any segment, any length
                    long len = switch (r.nextInt(4)) {
                        case 0 -> -1 - r.nextInt(100);
                        case 1 -> Long.MAX_VALUE - r.nextInt(3);
                        default -> r.nextInt(70_000);
                    };
                    assertNotNull(Tap.explainMalformed(r.nextBoolean() ? TapMode.TAP : TapMode.TUN, rh, len), what);
                    // ---- checksums at any offset
                    long off = switch (r.nextInt(3)) {
                        case 0 -> r.nextBoolean() ? Long.MAX_VALUE - r.nextInt(30) : Long.MIN_VALUE + r.nextInt(30);
                        default -> r.nextInt((int) f.byteSize() + 30) - 10;
                    };
                    try {
                        Checksums.ipv4HeaderChecksum(f, off);
                    } catch (FrameException e) {
                        // documented
                    }
                } catch (AssertionError e) {
                    throw e;
                } catch (Throwable t) {
                    fail(what + ": undocumented " + t, t);
                }
            }
        }
        assertTrue(accepted > 0 && refused > 0, "seed " + seed + ": both outcomes exercised (" + accepted + " accepted, "
                + refused + " refused in " + i + " iterations)");
    }

    /** Regression (issue 9): a header segment under 10 bytes threw IndexOutOfBoundsException. */
    @Test
    void explainMalformedOnASmallHeaderNamesItInsteadOfThrowing() {
        for (int size = 0; size < 10; size++) {
            String why = Tap.explainMalformed(TapMode.TAP, MemorySegment.ofArray(new byte[size]), 100);
            assertTrue(why.contains(size + " bytes, shorter than a virtio-net header (10)"), why);
        }
        assertTrue(Tap.explainMalformed(TapMode.TUN, null, 100).contains("shorter than a virtio-net header"));
        assertTrue(Tap.explainMalformed(TapMode.TUN, MemorySegment.ofArray(new byte[12]), -5).contains("negative"));
    }

    private static void accessors(MemorySegment h, Random r) {
        byte[] before = h.toArray(ValueLayout.JAVA_BYTE);
        Runnable[] calls = {
            () -> VirtioNetHdr.hasFlag(h, VirtioNetHdr.Flag.NEEDS_CSUM), () -> VirtioNetHdr.hasUnknownFlags(h),
            () -> VirtioNetHdr.gsoType(h), () -> VirtioNetHdr.gsoEcn(h), () -> VirtioNetHdr.hdrLen(h),
            () -> VirtioNetHdr.gsoSize(h), () -> VirtioNetHdr.csumStart(h), () -> VirtioNetHdr.csumOffset(h),
            () -> VirtioNetHdr.numBuffers(h), () -> VirtioNetHdr.read(h, new VirtioNetHdr.Fields()),
        };
        for (Runnable c : calls) {
            try {
                c.run();
            } catch (FrameException e) {
                // documented: too small, or an unknown GSO type
            }
        }
        assertArrayEquals(before, h.toArray(ValueLayout.JAVA_BYTE), "a getter wrote");
        int v = r.nextInt(3) == 0 ? -1 - r.nextInt(5) : pick(r, 0x20000);
        Runnable[] setters = {
            () -> VirtioNetHdr.setHdrLen(h, v), () -> VirtioNetHdr.setGsoSize(h, v), () -> VirtioNetHdr.setCsumStart(h, v),
            () -> VirtioNetHdr.setCsumOffset(h, v), () -> VirtioNetHdr.setNumBuffers(h, v),
            () -> VirtioNetHdr.set(h, true, VirtioNetHdr.GsoType.TCPV4, false, v, v, v, v),
        };
        for (Runnable c : setters) {
            byte[] b = h.toArray(ValueLayout.JAVA_BYTE);
            try {
                c.run();
            } catch (FrameException e) {
                assertArrayEquals(b, h.toArray(ValueLayout.JAVA_BYTE), "a setter wrote and threw");
            }
        }
    }
}
