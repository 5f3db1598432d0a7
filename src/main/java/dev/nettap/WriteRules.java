package dev.nettap;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Every rule the kernel applies to the virtio-net header and length of a TAP/TUN write before it
 * accepts the frame ({@code tun_get_user}, {@code tun_vnet_hdr_get}, {@code virtio_net_hdr_to_skb},
 * kernel 6.18), so that a {@link Tap#MALFORMED} (EINVAL) can be explained without a system call.
 * Pure and stateless; never throws, whatever the segment's size.
 */
final class WriteRules {
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int NEEDS_CSUM = 1;
    private static final int ECN = 0x80;
    private static final int ETH_HLEN = 14;
    /** {@code GSO_BY_FRAGS}: reserved, refused for every GSO type. */
    private static final int GSO_BY_FRAGS = 0xFFFF;
    /** {@code UDP_MAX_SEGMENTS}. */
    private static final long UDP_MAX_SEGMENTS = 128;

    private WriteRules() {}

    /**
     * The first rule a write of this header and frame length breaks.
     *
     * @param mode        TAP or TUN
     * @param hdr         the header that was written; any size (under 10 bytes is itself a broken rule)
     * @param frameLength the frame's length without the header
     * @return the rule, naming the fields and values, or a note that none of the known rules applies
     */
    static String explain(TapMode mode, MemorySegment hdr, long frameLength) {
        if (hdr == null || hdr.byteSize() < 10) {
            return "the header segment has " + (hdr == null ? "no" : String.valueOf(hdr.byteSize()))
                    + " bytes, shorter than a virtio-net header (10)";
        }
        if (frameLength < 0) {
            return "frame length " + frameLength + " is negative";
        }
        int flags = hdr.get(ValueLayout.JAVA_BYTE, 0) & 0xff;
        int gso = hdr.get(ValueLayout.JAVA_BYTE, 1) & 0xff;
        int hdrLen = Short.toUnsignedInt(hdr.get(LE16, 2));
        int gsoSize = Short.toUnsignedInt(hdr.get(LE16, 4));
        int csumStart = Short.toUnsignedInt(hdr.get(LE16, 6));
        int csumOffset = Short.toUnsignedInt(hdr.get(LE16, 8));
        int type = gso & ~ECN;
        boolean needsCsum = (flags & NEEDS_CSUM) != 0;
        boolean tcp = type == 1 || type == 4;
        boolean udp = type == 3 || type == 5;
        if (mode == TapMode.TAP && frameLength < ETH_HLEN) {
            return "frame of " + frameLength + " bytes is shorter than an Ethernet header (14)";
        }
        if (mode == TapMode.TAP && hdrLen != 0 && hdrLen < ETH_HLEN) {
            return "hdr_len " + hdrLen + " is shorter than an Ethernet header (14)";
        }
        // tun_vnet_hdr_get raises hdr_len to cover the checksum field, then checks it.
        long effective = needsCsum ? Math.max(hdrLen, (long) csumStart + csumOffset + 2) : hdrLen;
        if (effective > frameLength) {
            return needsCsum && effective > hdrLen
                    ? "csum_start " + csumStart + " + csum_offset " + csumOffset + " + 2 is past the frame's "
                            + frameLength + " bytes"
                    : "hdr_len " + hdrLen + " is beyond the frame's " + frameLength + " bytes";
        }
        if (gso != 0 && !tcp && !udp) {
            return type == 0 ? "the ECN bit of gso_type without a GSO type"
                    : "gso_type " + type + " is not NONE, TCPV4, UDP, TCPV6 or UDP_L4";
        }
        if (type != 0 && gsoSize == 0) {
            return "gso_type " + type + " with gso_size 0";
        }
        int thlen = type == 0 ? 0 : tcp ? 20 : 8;
        if (needsCsum && (long) csumStart + Math.max(csumOffset + 2, thlen) > frameLength) {
            return "the " + (tcp ? "TCP" : "UDP") + " header from csum_start " + csumStart + " ("
                    + thlen + " bytes) is past the frame's " + frameLength + " bytes";
        }
        if (type == 5) {
            if (!needsCsum) {
                return "UDP_L4 GSO without NEEDS_CSUM";
            }
            if ((gso & ECN) != 0) {
                return "the ECN bit with gso_type UDP_L4";
            }
            if (csumOffset != 6) {
                return "csum_offset " + csumOffset + " does not match gso_type UDP_L4 (6)";
            }
            long payload = frameLength - csumStart - 8;
            if (payload > gsoSize * UDP_MAX_SEGMENTS) {
                return "UDP_L4 of " + payload + " payload bytes with gso_size " + gsoSize + " makes more than "
                        + UDP_MAX_SEGMENTS + " datagrams (UDP_MAX_SEGMENTS)";
            }
        }
        if (tcp && needsCsum && csumOffset != 16) {
            return "csum_offset " + csumOffset + " does not match gso_type " + type + " (16)";
        }
        if (type != 0 && gsoSize == GSO_BY_FRAGS) {
            return "gso_size 65535 is the kernel's reserved GSO_BY_FRAGS";
        }
        if (type != 0 && !needsCsum) {
            return "GSO without NEEDS_CSUM: the kernel had to find the L4 header itself and did not";
        }
        return "none of the known rules: the kernel found the frame itself malformed (bad IP or L4 header for its GSO type?)";
    }
}
