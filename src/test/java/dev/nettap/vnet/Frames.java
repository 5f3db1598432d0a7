package dev.nettap.vnet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

/** Builds real Ethernet/IPv4/IPv6/TCP/UDP frames for tests and checks their checksums. */
final class Frames {

    static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    static final int ETH = 14;

    /** A built frame and where its layers start. */
    record Frame(MemorySegment seg, int l2, int l3, int l4, boolean v4, int proto) {
        int ipLengthField() {
            return u16(seg, l2 + (v4 ? 2 : 4));
        }

        int l4Checksum() {
            return u16(seg, l2 + l3 + (proto == Checksums.PROTO_TCP ? 16 : 6));
        }

        byte[] bytes() {
            return seg.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    private Frames() {
    }

    static int u16(MemorySegment s, long off) {
        return s.get(BE16, off) & 0xFFFF;
    }

    static void put8(MemorySegment s, long off, int v) {
        s.set(ValueLayout.JAVA_BYTE, off, (byte) v);
    }

    static void put16(MemorySegment s, long off, int v) {
        s.set(BE16, off, (short) v);
    }

    /**
     * A frame as a correct NEEDS_CSUM sender builds it: IP length right, IPv4 header checksum right,
     * L4 checksum field holding the pseudo-header seed with the L4 length.
     *
     * @param l2      14 (Ethernet) or 0 (TUN)
     * @param v4      IPv4 or IPv6
     * @param proto   6 or 17
     * @param ext     IPv6 extension header bytes (hop-by-hop + destination options, multiples of 8)
     * @param payload L4 payload bytes
     * @param padding bytes after the IP packet (Ethernet minimum padding)
     */
    static Frame build(int l2, boolean v4, int proto, int ext, int payload, int padding, long seed) {
        int l3 = v4 ? 20 : 40 + ext;
        int l4 = proto == Checksums.PROTO_TCP ? 20 : 8;
        int ipLen = l3 + l4 + payload;
        MemorySegment s = MemorySegment.ofArray(new byte[l2 + ipLen + padding]);
        Random r = new Random(seed);
        if (l2 > 0) {
            for (int i = 0; i < 12; i++) {
                put8(s, i, r.nextInt());
            }
            put16(s, 12, v4 ? 0x0800 : 0x86DD);
        }
        if (v4) {
            put8(s, l2, 0x45);
            put16(s, l2 + 2, ipLen);
            put16(s, l2 + 4, r.nextInt(0x10000));
            put16(s, l2 + 6, 0x4000);
            put8(s, l2 + 8, 64);
            put8(s, l2 + 9, proto);
            s.set(ValueLayout.JAVA_INT_UNALIGNED, l2 + 12, r.nextInt());
            s.set(ValueLayout.JAVA_INT_UNALIGNED, l2 + 16, r.nextInt());
            Checksums.setIpv4HeaderChecksum(s, l2);
        } else {
            put8(s, l2, 0x60);
            put16(s, l2 + 4, ipLen - 40);
            put8(s, l2 + 7, 64);
            for (int i = 8; i < 40; i += 4) {
                s.set(ValueLayout.JAVA_INT_UNALIGNED, l2 + i, r.nextInt());
            }
            // Extension chain: hop-by-hop (0) then destination options (60), each 8 bytes, or none.
            if (ext == 0) {
                put8(s, l2 + 6, proto);
            } else {
                put8(s, l2 + 6, 0);
                int pos = l2 + 40;
                int left = ext;
                while (left > 0) {
                    int len = left == ext && ext > 8 ? 8 : left;
                    left -= len;
                    put8(s, pos, left == 0 ? proto : 60);
                    put8(s, pos + 1, len / 8 - 1);
                    pos += len;
                }
            }
        }
        int l4Start = l2 + l3;
        put16(s, l4Start, 1000 + r.nextInt(60000));
        put16(s, l4Start + 2, 1000 + r.nextInt(60000));
        if (proto == Checksums.PROTO_TCP) {
            s.set(ValueLayout.JAVA_INT_UNALIGNED, l4Start + 4, r.nextInt());
            put8(s, l4Start + 12, 0x50);
            put8(s, l4Start + 13, 0x18);
            put16(s, l4Start + 14, 0xFFFF);
        } else {
            put16(s, l4Start + 4, l4 + payload);
        }
        for (int i = 0; i < payload; i++) {
            put8(s, l4Start + l4 + i, r.nextInt());
        }
        Frame f = new Frame(s, l2, l3, l4, v4, proto);
        put16(s, l4Start + (proto == Checksums.PROTO_TCP ? 16 : 6), seed(f, l4 + payload));
        return f;
    }

    static int seed(Frame f, long l4Length) {
        return f.v4 ? Checksums.pseudoHeaderSumIpv4(f.seg, f.l2, f.proto, (int) l4Length)
                : Checksums.pseudoHeaderSumIpv6(f.seg, f.l2, f.proto, l4Length);
    }

    /** Turns a correct frame into what an NDIS LSO sender hands over. */
    static void ndisify(Frame f) {
        if (f.v4) {
            put16(f.seg, f.l2 + 2, 0);
            put16(f.seg, f.l2 + 10, 0);
        } else {
            put16(f.seg, f.l2 + 4, 0);
        }
        int off = f.l2 + f.l3 + (f.proto == Checksums.PROTO_TCP ? 16 : 6);
        put16(f.seg, off, seed(f, 0));
    }

    /**
     * Translates as a test wants it: a refusal becomes the metadata's {@link FrameException}.
     *
     * @return whether the frame was changed
     */
    static boolean translate(TxMetadata md, MemorySegment frame, MemorySegment hdr) {
        long r = OffloadTranslation.buildTxHeader(md, frame, hdr);
        if (r == OffloadTranslation.REFUSED) {
            throw md.refusalException();
        }
        return md.frameChanged();
    }

    static TxMetadata tso(Frame f, int mss) {
        return new TxMetadata().ipVersion(f.v4 ? IpVersion.IPV4 : IpVersion.IPV6).l2Length(f.l2)
                .l3Length(f.l3).l4Length(f.l4).tcpSegmentation(mss).tcpChecksum(true).ipv4HeaderChecksum(f.v4);
    }

    /**
     * Completes the L4 checksum the way the kernel does for NEEDS_CSUM (sum from csum_start to the
     * end of the IP packet, field holding the seed), then checks it independently: pseudo-header
     * with the true L4 length plus the L4 bytes must sum to 0xFFFF.
     */
    static void assertSeedCompletesToValidChecksum(Frame f) {
        MemorySegment s = MemorySegment.ofArray(f.bytes());
        int ipEnd = f.v4 ? f.l2 + u16(s, f.l2 + 2) : f.l2 + 40 + u16(s, f.l2 + 4);
        int start = f.l2 + f.l3;
        int field = start + (f.proto == Checksums.PROTO_TCP ? 16 : 6);
        put16(s, field, Checksums.checksum(s, start, ipEnd - start));
        int l4Len = ipEnd - start;
        int pseudo = f.v4 ? Checksums.pseudoHeaderSumIpv4(s, f.l2, f.proto, l4Len)
                : Checksums.pseudoHeaderSumIpv6(s, f.l2, f.proto, l4Len);
        assertEquals(0xFFFF, Checksums.add(pseudo, Checksums.rfc1071Reference(s, start, l4Len)),
                "L4 checksum with the seed completed");
        if (f.v4) {
            assertEquals(0xFFFF, Checksums.rfc1071Reference(s, f.l2, 20), "IPv4 header checksum");
        }
    }
}
