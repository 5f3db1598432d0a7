package dev.nettap.vnet;

import dev.nettap.vnet.FrameException.Reason;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The walk of a transmitted frame's IP header for the TX translation ({@code TxHeaderBuilder}):
 * IPv4 options for a source route's final destination, and the IPv6 extension header chain for
 * its length, the upper-layer protocol, the final destination of a routing header and fragments.
 *
 * <p><b>Invariants.</b> Every read is bounded by what the caller validated (the IPv4 IHL fits the
 * frame; the 40-byte IPv6 header fits it) or by a check against the frame's size before the read;
 * the IPv6 walk stops after {@value #MAX_EXTENSION_HEADERS} extension headers. Nothing is written
 * to the frame. Results come back as primitives (an offset, or three fields packed in a
 * {@code long}), a refusal as {@link #REFUSED} with its reason stored in the {@link TxMetadata}:
 * nothing is allocated on any path.
 *
 * <p><b>Threading.</b> Stateless: static methods only, safe from any thread; the frame and the
 * metadata belong to the calling thread for the duration of a call.
 */
final class IpHeaderWalker {

    /** What a walk returns for a refused frame: the value {@code TxHeaderBuilder} returns for one too. */
    static final long REFUSED = -1;

    /** The fixed IPv6 header. */
    static final int IPV6_HEADER = 40;
    private static final int MAX_EXTENSION_HEADERS = 16;
    private static final int IPV4_OPT_LSRR = 0x83;
    private static final int IPV4_OPT_SSRR = 0x89;

    private IpHeaderWalker() {
    }

    /**
     * Walks the IPv4 options (IHL above 5) for a source route.
     *
     * @return the absolute offset of the final destination's address: the last address of an
     *         LSRR/SSRR option with addresses left, otherwise the header's destination; or
     *         {@link #REFUSED} with the refusal recorded
     */
    static long ipv4FinalDestination(TxMetadata md, MemorySegment frame, long l2, int ihl) {
        long dst = l2 + 16;
        boolean route = false;
        long end = l2 + ihl;
        long pos = l2 + 20;
        while (pos < end) {
            int type = frame.get(ValueLayout.JAVA_BYTE, pos) & 0xFF;
            if (type == 0) {        // end of options
                break;
            }
            if (type == 1) {        // no operation
                pos++;
                continue;
            }
            if (pos + 2 > end) {
                return refuse(md, Reason.BAD_HEADER_FIELD, "IPv4 option %d at offset %d has no length byte", type, pos);
            }
            int len = frame.get(ValueLayout.JAVA_BYTE, pos + 1) & 0xFF;
            if (len < 2 || pos + len > end) {
                return refuse(md, Reason.BAD_HEADER_FIELD, "IPv4 option length %d at offset %d runs outside the header",
                        len, pos);
            }
            if (type == IPV4_OPT_LSRR || type == IPV4_OPT_SSRR) {
                int pointer = len >= 3 ? frame.get(ValueLayout.JAVA_BYTE, pos + 2) & 0xFF : 0;
                if (route || len < 7 || (len - 3) % 4 != 0 || pointer < 4) {
                    return refuse(md, Reason.FINAL_DESTINATION_UNKNOWN,
                            "IPv4 source route option at offset %d is malformed or repeated (length %d)", pos, len);
                }
                route = true;
                if (pointer <= len) {   // addresses left: the last one is the final destination
                    dst = pos + len - 4;
                }
            }
            pos += len;
        }
        return dst;
    }

    /**
     * Walks the IPv6 header and its extension headers (hop-by-hop 0, routing 43, fragment 44,
     * destination options 60, authentication 51); refuses a fragment header and a routing header
     * with segments left whose final destination it cannot read.
     *
     * @return {@code (upperLayerProtocol << 48) | (finalDestinationOffset << 24) | chainLength},
     *         offsets from the IPv6 header, or {@link #REFUSED} with the refusal recorded
     */
    static long walkIpv6(TxMetadata md, MemorySegment frame, long l2) {
        long n = frame.byteSize();
        int next = frame.get(ValueLayout.JAVA_BYTE, l2 + 6) & 0xFF;
        long pos = l2 + IPV6_HEADER;
        long dst = 24;
        boolean routed = false;
        for (int i = 0; i <= MAX_EXTENSION_HEADERS; i++) {
            if (next != 0 && next != 43 && next != 44 && next != 60 && next != 51) {
                return ((long) next << 48) | (dst << 24) | (pos - l2);
            }
            if (i == MAX_EXTENSION_HEADERS) {
                break;
            }
            if (next == 44) {
                return refuse(md, Reason.FRAGMENTED, "an L4 offload for an IPv6 fragment (fragment header at offset %d, frame %d bytes)",
                        pos, n);
            }
            if (pos + 8 > n) {
                return refuse(md, Reason.FRAME_TOO_SHORT, "IPv6 extension header at offset %d runs past the frame's %d bytes",
                        pos, n);
            }
            int lenField = frame.get(ValueLayout.JAVA_BYTE, pos + 1) & 0xFF;
            long len = next == 51 ? (lenField + 2) * 4L : (lenField + 1) * 8L;
            if (pos + len > n) {
                return refuse(md, Reason.FRAME_TOO_SHORT, "IPv6 extension header at offset %d is %d bytes, past the frame",
                        pos, len);
            }
            if (next == 43) {
                int type = frame.get(ValueLayout.JAVA_BYTE, pos + 2) & 0xFF;
                int left = frame.get(ValueLayout.JAVA_BYTE, pos + 3) & 0xFF;
                if (routed) {
                    return refuse(md, Reason.FINAL_DESTINATION_UNKNOWN, "a second IPv6 routing header at offset %d (type %d)",
                            pos, type);
                }
                routed = true;
                if (left != 0) {
                    long addresses = lenField / 2;
                    if (type == 0 && lenField % 2 == 0 && addresses >= 1 && left <= addresses) {
                        dst = pos - l2 + 8 + 16 * (addresses - 1);  // the last address
                    } else if (type == 2 && lenField == 2 && left == 1) {
                        dst = pos - l2 + 8;                          // the home address
                    } else if (type == 4 && addresses >= 1 && left < addresses) {
                        dst = pos - l2 + 8;                          // segment list[0]
                    } else {
                        return refuse(md, Reason.FINAL_DESTINATION_UNKNOWN,
                                "IPv6 routing header type %d with %d segments left: no final destination to read",
                                type, left);
                    }
                }
            }
            next = frame.get(ValueLayout.JAVA_BYTE, pos) & 0xFF;
            pos += len;
        }
        return refuse(md, Reason.BAD_HEADER_FIELD, "more than %d IPv6 extension headers (frame %d bytes)",
                MAX_EXTENSION_HEADERS, n);
    }

    private static long refuse(TxMetadata md, Reason reason, String format, long a, long b) {
        md.refuse(reason, format, a, b);
        return REFUSED;
    }
}
