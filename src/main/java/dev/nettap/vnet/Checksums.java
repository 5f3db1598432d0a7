package dev.nettap.vnet;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * The Internet checksum (RFC 1071) and the sums built on it: the IPv4 header checksum, the TCP/UDP
 * pseudo-header sums for IPv4 and IPv6, and the RFC 1624 incremental update.
 *
 * <p>Two kinds of value appear here. A <em>sum</em> is the folded 16-bit ones'-complement sum of
 * big-endian 16-bit words, in {@code [0, 0xFFFF]}, not complemented; sums can be added with
 * {@link #add(int, int)}. A <em>checksum</em> is the complement of a sum, the value stored in a
 * header field. A range whose stored checksum is right sums to {@code 0xFFFF}.
 *
 * <p>Every method is static, stateless and thread-safe, and allocates nothing. Segments may be heap
 * or native, of any alignment; each method states which bytes it reads, and a range outside the
 * segment gets an {@link IndexOutOfBoundsException} before anything is read. Nothing here writes,
 * except {@link #setIpv4HeaderChecksum(MemorySegment, long)}.
 */
public final class Checksums {

    private static final ValueLayout.OfLong LONG_NATIVE = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfInt INT_NATIVE = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfShort SHORT_NATIVE = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfShort SHORT_BE =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt INT_BE =
            ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final boolean LITTLE = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;
    /** Bytes 8-15 of an IPv4 header read as a native long, without the checksum (bytes 10-11). */
    private static final long IPV4_CSUM_MASK = LITTLE ? 0xFFFF_FFFF_0000_FFFFL : 0xFFFF_0000_FFFF_FFFFL;

    /** Bytes summed before the accumulators are folded: keeps them far from overflow. */
    private static final long BLOCK = 1L << 30;

    /** IP protocol number of TCP. */
    public static final int PROTO_TCP = 6;
    /** IP protocol number of UDP. */
    public static final int PROTO_UDP = 17;

    private Checksums() {
    }

    /**
     * The RFC 1071 sum of {@code length} bytes of {@code seg} from {@code offset}: 16-bit big-endian
     * words, an odd last byte padded with a zero byte, ones'-complement addition, folded to 16 bits.
     * Reads eight bytes at a time in native order and relies on the byte-order independence of
     * ones'-complement addition, so the result does not depend on the range's alignment.
     *
     * @param seg    any segment, heap or native
     * @param offset first byte of the range
     * @param length number of bytes, may be 0 (the sum is then 0)
     * @return the folded sum in {@code [0, 0xFFFF]}; {@code 0} only if every byte is zero
     * @throws IndexOutOfBoundsException if the range is not inside {@code seg}
     */
    public static int rfc1071(MemorySegment seg, long offset, long length) {
        Objects.checkFromIndexSize(offset, length, seg.byteSize());
        long acc = 0;
        long pos = offset;
        long end = offset + length;
        while (end - pos >= 32) {
            long blockEnd = pos + Math.min(BLOCK, (end - pos) & ~31L);
            long a = 0;
            long b = 0;
            for (; pos < blockEnd; pos += 32) {
                long w0 = seg.get(LONG_NATIVE, pos);
                long w1 = seg.get(LONG_NATIVE, pos + 8);
                long w2 = seg.get(LONG_NATIVE, pos + 16);
                long w3 = seg.get(LONG_NATIVE, pos + 24);
                a += (w0 & 0xFFFF_FFFFL) + (w0 >>> 32) + (w1 & 0xFFFF_FFFFL) + (w1 >>> 32);
                b += (w2 & 0xFFFF_FFFFL) + (w2 >>> 32) + (w3 & 0xFFFF_FFFFL) + (w3 >>> 32);
            }
            acc = fold64(acc) + fold64(a) + fold64(b);
        }
        long rest = end - pos;
        if (rest >= 16) {
            long w0 = seg.get(LONG_NATIVE, pos);
            long w1 = seg.get(LONG_NATIVE, pos + 8);
            acc += (w0 & 0xFFFF_FFFFL) + (w0 >>> 32) + (w1 & 0xFFFF_FFFFL) + (w1 >>> 32);
            pos += 16;
            rest -= 16;
        }
        if (rest >= 8) {
            long w = seg.get(LONG_NATIVE, pos);
            acc += (w & 0xFFFF_FFFFL) + (w >>> 32);
            pos += 8;
            rest -= 8;
        }
        if (rest >= 4) {
            acc += seg.get(INT_NATIVE, pos) & 0xFFFF_FFFFL;
            pos += 4;
            rest -= 4;
        }
        if (rest >= 2) {
            acc += seg.get(SHORT_NATIVE, pos) & 0xFFFFL;
            pos += 2;
            rest -= 2;
        }
        if (rest == 1) {
            // The odd byte is the high half of a big-endian word: in a native little-endian word
            // that is the low byte, which the final swap moves up.
            long b = seg.get(ValueLayout.JAVA_BYTE, pos) & 0xFFL;
            acc += LITTLE ? b : b << 8;
        }
        int s = fold16(fold64(acc));
        return LITTLE ? ((s & 0xFF) << 8) | (s >>> 8) : s;
    }

    /**
     * The RFC 1071 sum of a range added to a previous sum, for sums that span several pieces. Each
     * piece but the last must have an even length for the result to equal the sum of the
     * concatenation.
     *
     * @param seg     any segment
     * @param offset  first byte of the range
     * @param length  number of bytes
     * @param initial a previous folded sum in {@code [0, 0xFFFF]}
     * @return the folded sum of {@code initial} and the range
     * @throws IndexOutOfBoundsException if the range is not inside {@code seg}
     */
    public static int rfc1071(MemorySegment seg, long offset, long length, int initial) {
        return add(initial, rfc1071(seg, offset, length));
    }

    /**
     * The plain RFC 1071 sum, one big-endian byte pair at a time. Slow and obviously right: it is
     * the reference the fast {@link #rfc1071(MemorySegment, long, long)} is tested against.
     *
     * @param seg    any segment
     * @param offset first byte of the range
     * @param length number of bytes
     * @return the folded sum in {@code [0, 0xFFFF]}
     * @throws IndexOutOfBoundsException if the range is not inside {@code seg}
     */
    public static int rfc1071Reference(MemorySegment seg, long offset, long length) {
        Objects.checkFromIndexSize(offset, length, seg.byteSize());
        long sum = 0;
        long i = 0;
        for (; i + 1 < length; i += 2) {
            int hi = seg.get(ValueLayout.JAVA_BYTE, offset + i) & 0xFF;
            int lo = seg.get(ValueLayout.JAVA_BYTE, offset + i + 1) & 0xFF;
            sum += (hi << 8) | lo;
            if ((sum >>> 32) != 0) {
                sum = (sum & 0xFFFF) + (sum >>> 16);
            }
        }
        if (i < length) {
            sum += (seg.get(ValueLayout.JAVA_BYTE, offset + i) & 0xFF) << 8;
        }
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xFFFF) + (sum >>> 16);
        }
        return (int) sum;
    }

    /**
     * The checksum of a range: the complement of its {@linkplain #rfc1071(MemorySegment, long, long)
     * sum}, as stored in a header field.
     *
     * @param seg    any segment
     * @param offset first byte of the range
     * @param length number of bytes
     * @return {@code ~sum & 0xFFFF}
     * @throws IndexOutOfBoundsException if the range is not inside {@code seg}
     */
    public static int checksum(MemorySegment seg, long offset, long length) {
        return ~rfc1071(seg, offset, length) & 0xFFFF;
    }

    /**
     * Ones'-complement addition of two folded sums.
     *
     * @param a a sum in {@code [0, 0xFFFF]}
     * @param b a sum in {@code [0, 0xFFFF]}
     * @return the folded sum of both
     */
    public static int add(int a, int b) {
        return fold16((a & 0xFFFFL) + (b & 0xFFFFL));
    }

    /**
     * Folds a 64-bit accumulator of 16-bit big-endian words into a 16-bit ones'-complement sum.
     *
     * @param acc an accumulator, read as unsigned
     * @return the folded sum in {@code [0, 0xFFFF]}
     */
    public static int fold(long acc) {
        return fold16(fold64(acc));
    }

    private static long fold64(long acc) {
        // Fold 64 -> 33 bits -> 32 bits; the sum stays congruent modulo 0xFFFF.
        long s = (acc & 0xFFFF_FFFFL) + (acc >>> 32);
        return (s & 0xFFFF_FFFFL) + (s >>> 32);
    }

    private static int fold16(long s) {
        s = (s & 0xFFFF) + (s >>> 16);
        s = (s & 0xFFFF) + (s >>> 16);
        s = (s & 0xFFFF) + (s >>> 16);
        return (int) s;
    }

    /**
     * The IPv4 header checksum of the header at {@code offset}, computed as if its checksum field
     * (bytes 10-11) held zero. The header length comes from IHL and is bounds-checked.
     *
     * @param seg    segment holding at least the whole IPv4 header from {@code offset}
     * @param offset first byte of the IPv4 header
     * @return the checksum to store in bytes 10-11
     * @throws FrameException with {@link FrameException.Reason#UNKNOWN_IP_VERSION} if the version
     *                        nibble is not 4, {@link FrameException.Reason#IHL_TOO_SMALL} if IHL is
     *                        below 5, or {@link FrameException.Reason#FRAME_TOO_SHORT} if the
     *                        header does not fit in {@code seg}
     */
    public static int ipv4HeaderChecksum(MemorySegment seg, long offset) {
        // The common header, IHL 5, read through a 20-byte slice: its one range check replaces one
        // per load, and the loads at constant offsets in a constant-size slice need none (the JIT
        // removes the slice object itself). Anything else, a header that does not fit included,
        // takes the general path below, which reports every malformed header.
        MemorySegment h;
        try {
            h = seg.asSlice(offset, 20);
        } catch (IndexOutOfBoundsException e) {
            return ipv4HeaderChecksumGeneral(seg, offset);
        }
        long w0 = h.get(LONG_NATIVE, 0);
        if ((LITTLE ? w0 & 0xFF : w0 >>> 56) != 0x45) {
            return ipv4HeaderChecksumGeneral(seg, offset);
        }
        // Two 64-bit and one 32-bit load in native order, the checksum field (bytes 10-11) masked
        // out, added as 32-bit halves: ones'-complement addition does not care about byte order,
        // so one byte swap at the end makes the sum big-endian.
        long w1 = h.get(LONG_NATIVE, 8) & IPV4_CSUM_MASK;
        long acc = (w0 & 0xFFFF_FFFFL) + (w0 >>> 32) + (w1 & 0xFFFF_FFFFL) + (w1 >>> 32)
                + (h.get(INT_NATIVE, 16) & 0xFFFF_FFFFL);
        // Five 32-bit values: at most 35 bits; two folds reach 32 bits.
        acc = (acc & 0xFFFF_FFFFL) + (acc >>> 32);
        int x = (int) ((acc & 0xFFFF_FFFFL) + (acc >>> 32));
        // 32 -> 16 bits with the end-around carry: the high half of x + rotr(x, 16).
        x += Integer.rotateRight(x, 16);
        return LITTLE ? ~Integer.reverseBytes(x) & 0xFFFF : ~(x >>> 16) & 0xFFFF;
    }

    /**
     * The IPv4 header checksum through the general path, for any IHL: the reference the IHL-5 fast
     * path of {@link #ipv4HeaderChecksum(MemorySegment, long)} is tested against. Same contract.
     *
     * @param seg    segment holding at least the whole IPv4 header from {@code offset}
     * @param offset first byte of the IPv4 header
     * @return the checksum to store in bytes 10-11
     * @throws FrameException as {@link #ipv4HeaderChecksum(MemorySegment, long)}
     */
    static int ipv4HeaderChecksumGeneral(MemorySegment seg, long offset) {
        int ihlBytes = ipv4HeaderLength(seg, offset);
        // Everything but the checksum field (bytes 10-11); both pieces before it have even lengths.
        int sum = add(rfc1071(seg, offset, 10), rfc1071(seg, offset + 12, ihlBytes - 12));
        return ~sum & 0xFFFF;
    }

    /**
     * Computes the IPv4 header checksum of the header at {@code offset} and stores it in bytes 10-11.
     * Validates before writing: on an exception the segment is unchanged.
     *
     * @param seg    writable segment holding the whole IPv4 header from {@code offset}
     * @param offset first byte of the IPv4 header
     * @return the checksum stored
     * @throws FrameException as {@link #ipv4HeaderChecksum(MemorySegment, long)}
     */
    public static int setIpv4HeaderChecksum(MemorySegment seg, long offset) {
        int c = ipv4HeaderChecksum(seg, offset);
        seg.set(SHORT_BE, offset + 10, (short) c);
        return c;
    }

    /**
     * The header length in bytes of the IPv4 header at {@code offset}, from its IHL, checked against
     * the segment.
     */
    static int ipv4HeaderLength(MemorySegment seg, long offset) {
        if (offset < 0 || offset >= seg.byteSize()) {
            throw new FrameException(FrameException.Reason.FRAME_TOO_SHORT,
                    "IPv4 header at offset " + offset + " lies outside the " + seg.byteSize()
                            + "-byte frame");
        }
        int b0 = seg.get(ValueLayout.JAVA_BYTE, offset) & 0xFF;
        if ((b0 >>> 4) != 4) {
            throw new FrameException(FrameException.Reason.UNKNOWN_IP_VERSION,
                    "IP version nibble at offset " + offset + " is " + (b0 >>> 4) + ", expected 4");
        }
        int ihl = b0 & 0xF;
        if (ihl < 5) {
            throw new FrameException(FrameException.Reason.IHL_TOO_SMALL,
                    "IPv4 IHL is " + ihl + " (" + ihl * 4 + " bytes), minimum is 5");
        }
        if (ihl * 4L > seg.byteSize() - offset) { // no overflow: 0 <= offset < byteSize
            throw new FrameException(FrameException.Reason.FRAME_TOO_SHORT,
                    "IPv4 IHL " + ihl + " claims " + ihl * 4 + " header bytes at offset " + offset
                            + " but the frame has " + seg.byteSize() + " bytes");
        }
        return ihl * 4;
    }

    /**
     * The IPv4 header checksum of an already validated header, from values the caller read once:
     * bytes 0-1 (version, IHL, TOS) and 2-3 (total length) are taken from {@code word0} and
     * {@code totalLength} rather than re-read, the checksum field counts as zero. The translation
     * uses it so that a guest rewriting its frame during the call cannot make this disagree with
     * what was validated.
     *
     * @param seg         segment holding {@code headerBytes} bytes from {@code offset}
     * @param offset      first byte of the IPv4 header
     * @param headerBytes IHL * 4, already checked: {@code [20, 60]}, inside {@code seg}
     * @param word0       bytes 0-1 as read, big-endian
     * @param totalLength the total length to checksum with (the one to be stored)
     * @return the checksum to store in bytes 10-11
     */
    static int ipv4HeaderChecksum(MemorySegment seg, long offset, int headerBytes, int word0, int totalLength) {
        // A constant size for the common IHL 5: the loads below then need no range check each.
        MemorySegment h = headerBytes == 20 ? seg.asSlice(offset, 20) : seg.asSlice(offset, headerBytes);
        // Bytes 4-19 without the checksum field, as in the IHL-5 fast path; bytes 0-3 come from
        // the caller.
        long w0 = h.get(LONG_NATIVE, 0) & (LITTLE ? 0xFFFF_FFFF_0000_0000L : 0x0000_0000_FFFF_FFFFL);
        long w1 = h.get(LONG_NATIVE, 8) & IPV4_CSUM_MASK;
        long acc = (w0 >>> 32) + (w0 & 0xFFFF_FFFFL) + (w1 & 0xFFFF_FFFFL) + (w1 >>> 32)
                + (h.get(INT_NATIVE, 16) & 0xFFFF_FFFFL);
        acc = (acc & 0xFFFF_FFFFL) + (acc >>> 32);
        int x = (int) ((acc & 0xFFFF_FFFFL) + (acc >>> 32));
        x += Integer.rotateRight(x, 16);
        int sum = LITTLE ? Integer.reverseBytes(x) & 0xFFFF : x >>> 16;
        sum = add(add(sum, word0 & 0xFFFF), totalLength & 0xFFFF);
        if (headerBytes > 20) {
            sum = add(sum, rfc1071(h, 20, headerBytes - 20));
        }
        return ~sum & 0xFFFF;
    }

    /**
     * The TCP/UDP pseudo-header sum from addresses at any two offsets: the source, and the
     * destination the receiver checks against (the final one of a source route).
     *
     * @param seg       the frame
     * @param src       first byte of the source address
     * @param dst       first byte of the destination address
     * @param addrBytes 4 or 16
     * @param protocol  IP protocol number
     * @param l4Length  L4 header plus payload
     * @return the folded sum in {@code [0, 0xFFFF]}
     */
    static int pseudoHeaderSum(MemorySegment seg, long src, long dst, int addrBytes, int protocol, long l4Length) {
        long acc = (protocol & 0xFF) + (l4Length & 0xFFFF_FFFFL);
        if (addrBytes == 4 && dst == src + 4) {
            // IPv4 without a source route: both addresses in one 8-byte load.
            long w = seg.get(LONG_NATIVE, src);
            int s = fold16(fold64((w & 0xFFFF_FFFFL) + (w >>> 32)));
            return add(LITTLE ? ((s & 0xFF) << 8) | (s >>> 8) : s, fold(acc));
        }
        for (int i = 0; i < addrBytes; i += 4) {
            acc += (seg.get(INT_BE, src + i) & 0xFFFF_FFFFL) + (seg.get(INT_BE, dst + i) & 0xFFFF_FFFFL);
        }
        return fold(acc);
    }

    /**
     * The TCP/UDP pseudo-header sum for IPv4: source and destination address, protocol and L4
     * length. This, not complemented, is the seed a {@code NEEDS_CSUM} frame carries in its L4
     * checksum field.
     *
     * @param seg      segment holding at least 20 bytes of IPv4 header from {@code ipOffset}
     * @param ipOffset first byte of the IPv4 header (addresses at +12 and +16)
     * @param protocol IP protocol number, e.g. {@link #PROTO_TCP}
     * @param l4Length length of the L4 header plus payload, {@code [0, 0xFFFF]}
     * @return the folded sum in {@code [0, 0xFFFF]}
     * @throws IndexOutOfBoundsException if the addresses are not inside {@code seg}
     */
    public static int pseudoHeaderSumIpv4(MemorySegment seg, long ipOffset, int protocol, int l4Length) {
        Objects.checkFromIndexSize(ipOffset + 12, 8, seg.byteSize());
        long acc = (seg.get(INT_BE, ipOffset + 12) & 0xFFFF_FFFFL)
                + (seg.get(INT_BE, ipOffset + 16) & 0xFFFF_FFFFL)
                + (protocol & 0xFF) + (l4Length & 0xFFFFL);
        return fold(acc);
    }

    /**
     * The TCP/UDP pseudo-header sum for IPv6 (RFC 8200 section 8.1): source and destination
     * address, upper-layer length and next header. The destination is the one in the fixed header;
     * a routing header's final destination is not looked up here ({@link OffloadTranslation} does).
     *
     * @param seg        segment holding at least 40 bytes of IPv6 header from {@code ipOffset}
     * @param ipOffset   first byte of the IPv6 header (addresses at +8 and +24)
     * @param nextHeader upper-layer protocol number, e.g. {@link #PROTO_TCP}
     * @param l4Length   upper-layer length (L4 header plus payload), unsigned 32-bit
     * @return the folded sum in {@code [0, 0xFFFF]}
     * @throws IndexOutOfBoundsException if the addresses are not inside {@code seg}
     */
    public static int pseudoHeaderSumIpv6(MemorySegment seg, long ipOffset, int nextHeader, long l4Length) {
        Objects.checkFromIndexSize(ipOffset + 8, 32, seg.byteSize());
        long acc = 0;
        for (int i = 8; i < 40; i += 4) {
            acc += seg.get(INT_BE, ipOffset + i) & 0xFFFF_FFFFL;
        }
        acc += (l4Length & 0xFFFF_FFFFL) + (nextHeader & 0xFF);
        return fold(acc);
    }

    /**
     * RFC 1624 incremental update of a stored checksum after one 16-bit word of the covered data
     * changed: {@code HC' = ~(~HC + ~m + m')}. Several changed words are handled by calling this once
     * per word.
     *
     * @param checksum the stored checksum {@code HC}, {@code [0, 0xFFFF]}
     * @param oldWord  the word before the change {@code m}
     * @param newWord  the word after the change {@code m'}
     * @return the updated checksum {@code HC'}
     */
    public static int incrementalUpdate(int checksum, int oldWord, int newWord) {
        long s = (~checksum & 0xFFFFL) + (~oldWord & 0xFFFFL) + (newWord & 0xFFFFL);
        return ~fold16(s) & 0xFFFF;
    }
}
