package dev.nettap.vnet;

import dev.nettap.vnet.FrameException.Reason;
import dev.nettap.vnet.VirtioNetHdr.GsoType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The TX translation behind {@link OffloadTranslation#buildTxHeader}: guest offload metadata to a
 * virtio-net header, with the hostile-guest checks and the NDIS-style frame fix-ups (IP length,
 * UDP length, L4 checksum seed, IPv4 header checksum). The facade's javadoc is the contract; this
 * class is its implementation, kept apart from the IP header walk ({@link IpHeaderWalker}) and the
 * RX side ({@link RxHeaderParser}).
 *
 * <p><b>Invariants.</b> Every guest field that decides a bound, a branch or a value to store is
 * read once into a local; every rule is checked before the first write to the frame or the
 * header, so a refusal ({@link #REFUSED}, reason and values in the {@link TxMetadata}) leaves both
 * untouched. Lengths are added in {@code long}. Nothing is allocated on an accepted or a refused
 * frame: the walker returns its results as primitives, refusals are stored through
 * {@link TxMetadata#refuse} with constant formats; only host misuse throws.
 *
 * <p><b>Threading.</b> Stateless: static methods only, safe from any thread; the frame, the header
 * and the metadata belong to the calling thread for the duration of a call.
 */
final class TxHeaderBuilder {

    /** What {@link #build} returns for a refused frame; the same value as {@link OffloadTranslation#REFUSED}. */
    static final long REFUSED = IpHeaderWalker.REFUSED;

    /** An Ethernet header without VLAN tags. */
    private static final int ETHERNET_HEADER = 14;

    private static final ValueLayout.OfShort BE16 =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final int TCP_CSUM_OFFSET = 16;
    private static final int UDP_CSUM_OFFSET = 6;
    private static final int UDP_LENGTH_OFFSET = 4;
    private static final int UDP_HEADER = 8;
    private static final int IPV6_HEADER = IpHeaderWalker.IPV6_HEADER;
    /** The kernel's {@code GSO_BY_FRAGS}: a {@code gso_size} no write may carry. */
    static final int GSO_BY_FRAGS = 0xFFFF;
    /** The kernel's {@code UDP_MAX_SEGMENTS}: datagrams one USO write may make. */
    static final int UDP_MAX_SEGMENTS = 128;
    private static final int TCP_CWR = 0x80;

    private TxHeaderBuilder() {
    }

    /**
     * {@link OffloadTranslation#buildTxHeader(TxMetadata, MemorySegment, MemorySegment, boolean)}:
     * the L2 length checked against the device's mode, then {@link #build(TxMetadata, MemorySegment,
     * MemorySegment)}.
     */
    static long build(TxMetadata md, MemorySegment frame, MemorySegment hdr, boolean ipFrame) {
        int l2 = md.l2Length();
        if (ipFrame ? l2 != 0 : l2 < ETHERNET_HEADER) {
            VirtioNetHdr.requireSize(hdr, VirtioNetHdr.LEGACY_SIZE); // misuse is reported first, as below
            md.clearOutcome();
            return refuse(md, Reason.L2_LENGTH_FOR_MODE, ipFrame
                    ? "l2Length %d for a frame that starts with its IP header (TUN): it must be 0"
                    : "l2Length %d for an Ethernet frame (TAP): it must be at least %d", l2, ETHERNET_HEADER);
        }
        return build(md, frame, hdr);
    }

    /**
     * {@link OffloadTranslation#buildTxHeader(TxMetadata, MemorySegment, MemorySegment)}: validates
     * the request against the frame, then writes the fix-ups and the header.
     *
     * @return the number of bytes of {@code frame} to write, or {@link #REFUSED} with nothing written
     */
    static long build(TxMetadata md, MemorySegment frame, MemorySegment hdr) {
        VirtioNetHdr.requireSize(hdr, VirtioNetHdr.LEGACY_SIZE);
        if (hdr.isReadOnly()) {
            throw new IllegalArgumentException("the virtio-net header segment is read-only");
        }
        md.clearOutcome();
        long n = frame.byteSize();
        long l2 = md.l2Length();
        long l3 = md.l3Length();
        long l4 = md.l4Length();
        if (l2 + l3 + l4 > n) {
            return refuse(md, Reason.LENGTHS_BEYOND_FRAME,
                    "l2Length + l3Length + l4Length = %d exceeds the frame's %d bytes", l2 + l3 + l4, n);
        }
        boolean tso = md.tcpSegmentation();
        boolean uso = !tso && md.udpSegmentation();
        boolean tcp = tso || (!uso && md.tcpChecksum());
        boolean udp = uso || (!tcp && md.udpChecksum());
        boolean l4Offload = tcp || udp;
        boolean segment = tso || uso;
        IpVersion v = md.ipVersion();
        boolean v4 = v == IpVersion.IPV4;
        boolean ipv4Csum = md.ipv4HeaderChecksum() && v4;

        if (!l4Offload && !ipv4Csum) {
            VirtioNetHdr.clear(hdr);
            return n;
        }
        if (v == IpVersion.UNSPECIFIED) {
            return refuse(md, Reason.UNKNOWN_IP_VERSION,
                    "ipVersion is UNSPECIFIED but an offload needs the IP header (l2Length %d, frame %d bytes)", l2, n);
        }
        if (l2 >= n) {
            return refuse(md, Reason.FRAME_TOO_SHORT, "no IP header: l2Length is %d and the frame has %d bytes", l2, n);
        }
        int b0 = frame.get(ValueLayout.JAVA_BYTE, l2) & 0xFF;
        int nibble = b0 >>> 4;
        if (nibble != 4 && nibble != 6) {
            return refuse(md, Reason.UNKNOWN_IP_VERSION, "IP version nibble at offset %d is %d, neither 4 nor 6",
                    l2, nibble);
        }
        if ((nibble == 4) != v4) {
            return refuse(md, Reason.IP_VERSION_MISMATCH, v4
                    ? "ipVersion is IPV4 but the IP header at offset %d says %d"
                    : "ipVersion is IPV6 but the IP header at offset %d says %d", l2, nibble);
        }

        // ---- L3: every field read once.
        int word0 = 0;          // IPv4 bytes 0-1
        int ihl = 0;            // IPv4 header bytes
        int storedIpCsum = 0;   // IPv4 header checksum as stored
        int storedLen;          // IPv4 total length / IPv6 payload length as stored
        int proto;
        long dst;               // the final destination's address, absolute offset
        if (v4) {
            ihl = (b0 & 0xF) * 4;
            if (ihl < 20) {
                return refuse(md, Reason.IHL_TOO_SMALL, "IPv4 IHL is %d (%d bytes), minimum is 5", ihl / 4, ihl);
            }
            if (ihl > n - l2) {
                return refuse(md, Reason.FRAME_TOO_SHORT, "IPv4 header needs %d bytes after l2Length but the frame has %d",
                        ihl, n - l2);
            }
            // The fixed 20 bytes through one constant-size slice: one range check for every load.
            MemorySegment ip = frame.asSlice(l2, 20);
            word0 = (b0 << 8) | (ip.get(ValueLayout.JAVA_BYTE, 1) & 0xFF);
            storedLen = ip.get(BE16, 2) & 0xFFFF;
            storedIpCsum = ip.get(BE16, 10) & 0xFFFF;
            if (!l4Offload) {
                // Only the IPv4 header checksum: the frame is written whole.
                int c = Checksums.ipv4HeaderChecksum(frame, l2, ihl, word0, storedLen);
                boolean changed = c != storedIpCsum;
                if (changed) {
                    requireWritable(frame);
                    frame.set(BE16, l2 + 10, (short) c);
                }
                VirtioNetHdr.clear(hdr);
                md.frameChanged(changed);
                return n;
            }
            if (l3 != ihl) {
                return refuse(md, Reason.L3_LENGTH_MISMATCH, "l3Length is %d but the IPv4 IHL gives %d bytes", l3, ihl);
            }
            int frag = ip.get(BE16, 6) & 0xFFFF;
            if ((frag & 0x3FFF) != 0) {
                return refuse(md, Reason.FRAGMENTED, "an L4 offload for an IPv4 fragment (MF %d, fragment offset %d)",
                        (frag >>> 13) & 1, frag & 0x1FFF);
            }
            proto = ip.get(ValueLayout.JAVA_BYTE, 9) & 0xFF;
            dst = l2 + 16;
            if (ihl > 20) {
                dst = IpHeaderWalker.ipv4FinalDestination(md, frame, l2, ihl);
                if (dst < 0) {
                    return REFUSED;
                }
            }
        } else {
            if (IPV6_HEADER > n - l2) {
                return refuse(md, Reason.FRAME_TOO_SHORT, "IPv6 header needs 40 bytes after l2Length but the frame has %d",
                        n - l2, 0);
            }
            storedLen = frame.get(BE16, l2 + 4) & 0xFFFF;
            long walked = IpHeaderWalker.walkIpv6(md, frame, l2);
            if (walked < 0) {
                return REFUSED;
            }
            long chain = walked & 0xFF_FFFF;
            if (l3 != chain) {
                return refuse(md, Reason.L3_LENGTH_MISMATCH,
                        "l3Length is %d but the IPv6 header and its extension headers take %d bytes", l3, chain);
            }
            proto = (int) (walked >>> 48) & 0xFF;
            dst = l2 + ((walked >>> 24) & 0xFF_FFFF);
        }
        int wantProto = tcp ? Checksums.PROTO_TCP : Checksums.PROTO_UDP;
        if (proto != wantProto) {
            return refuse(md, Reason.L4_PROTOCOL_MISMATCH, tcp
                    ? "TCP offload asked but the IP header's protocol is %d (frame %d bytes)"
                    : "UDP offload asked but the IP header's protocol is %d (frame %d bytes)", proto, n);
        }

        // ---- L4
        long csumStart = l2 + l3;
        int csumOffset = tcp ? TCP_CSUM_OFFSET : UDP_CSUM_OFFSET;
        if (csumStart + csumOffset + 2 > n) {
            return refuse(md, Reason.CSUM_BEYOND_FRAME, "csum_start + csum_offset + 2 = %d exceeds the frame's %d bytes",
                    csumStart + csumOffset + 2, n);
        }
        long l4Header = l4;
        int doff = 0;
        boolean cwr = false;
        int storedUdpLen = 0;
        if (tcp) {
            int w = frame.get(BE16, csumStart + 12) & 0xFFFF; // data offset and flags, read once
            doff = (w >>> 12) * 4;
            if (doff < 20) {
                return refuse(md, Reason.BAD_HEADER_FIELD, "TCP data offset is %d words (%d bytes), minimum is 5",
                        doff / 4, doff);
            }
            cwr = (w & TCP_CWR) != 0;
            // The L4 length is a fact of the frame, like l3Length: any other non-zero value would cut
            // the TCP header (hdr_len) or count payload as header. Exact, not "at least": the kernel
            // segments by the data offset, so a larger hint is metadata that disagrees with the frame.
            if (l4Header != 0 && l4Header != doff) {
                return refuse(md, Reason.L4_LENGTH_MISMATCH, "l4Length is %d but the TCP data offset says %d bytes",
                        l4Header, doff);
            }
            l4Header = doff;
        } else {
            storedUdpLen = frame.get(BE16, csumStart + UDP_LENGTH_OFFSET) & 0xFFFF;
            if (l4Header != 0 && l4Header != UDP_HEADER) {
                return refuse(md, Reason.L4_LENGTH_MISMATCH, "l4Length is %d but a UDP header is always %d bytes",
                        l4Header, UDP_HEADER);
            }
            l4Header = UDP_HEADER;
        }
        long hdrLen = csumStart + l4Header;
        if (hdrLen > n) {
            return refuse(md, Reason.FRAME_TOO_SHORT, "headers end at %d (csum_start + L4 header) but the frame has %d bytes",
                    hdrLen, n);
        }
        if (hdrLen > 0xFFFF) {
            return refuse(md, Reason.FIELD_OVERFLOW, "hdr_len = %d (csum_start %d + L4 header) does not fit 16 bits",
                    hdrLen, csumStart);
        }
        int storedSeed = frame.get(BE16, csumStart + csumOffset) & 0xFFFF;

        // ---- IP length: keep a consistent one (the frame may be longer: only the datagram is
        // written), otherwise take the frame's (NDIS leaves 0).
        long fixed = v4 ? 0 : IPV6_HEADER;  // bytes not counted by the field
        long available = n - l2 - fixed;
        long minimum = l3 + l4Header - fixed;
        long ipLength;
        int newIpLength = -1;
        if (storedLen >= minimum && storedLen <= available) {
            ipLength = storedLen;
        } else {
            if (available > 0xFFFF) {
                return refuse(md, Reason.L3_PAYLOAD_TOO_LARGE, v4
                        ? "IPv4 total length would be %d (frame %d bytes), maximum is 65535"
                        : "IPv6 payload length would be %d (frame %d bytes), maximum is 65535", available, n);
            }
            ipLength = available;
            newIpLength = (int) available;
        }
        long writeLength = l2 + fixed + ipLength;
        long l4Total = ipLength + fixed - l3;

        int gsoSize = 0;
        int newUdpLength = -1;
        if (segment) {
            gsoSize = tso ? md.tcpMss() : md.udpSegmentSize();
            if (gsoSize == 0) {
                return refuse(md, Reason.SEGMENT_SIZE_ZERO, tso ? "tcpMss is %d for TCP segmentation (frame %d bytes)"
                        : "udpSegmentSize is %d for UDP segmentation (frame %d bytes)", 0, n);
            }
            if (gsoSize > 0xFFFF) {
                return refuse(md, Reason.FIELD_OVERFLOW, tso ? "tcpMss = %d does not fit 16 bits (frame %d bytes)"
                        : "udpSegmentSize = %d does not fit 16 bits (frame %d bytes)", gsoSize, n);
            }
            if (gsoSize == GSO_BY_FRAGS) {
                return refuse(md, Reason.SEGMENT_SIZE_RESERVED,
                        "segment size %d is the kernel's reserved GSO_BY_FRAGS (frame %d bytes)", gsoSize, n);
            }
            if (uso) {
                long payload = writeLength - csumStart - UDP_HEADER;
                if (payload > (long) gsoSize * UDP_MAX_SEGMENTS) {
                    return refuse(md, Reason.TOO_MANY_SEGMENTS,
                            "USO of %d payload bytes with udpSegmentSize %d makes more than 128 datagrams",
                            payload, gsoSize);
                }
                // The kernel's UDP segmentation derives each datagram's seed from the super-frame's
                // seed minus its UDP length field plus the datagram's length: the field must hold
                // the length the seed is built with.
                if (storedUdpLen != l4Total) {
                    newUdpLength = (int) l4Total;
                }
            }
        }
        int seed = Checksums.pseudoHeaderSum(frame, l2 + (v4 ? 12 : 8), dst, v4 ? 4 : 16, proto, l4Total);
        int ipCsum = -1;
        if (v4 && (ipv4Csum || newIpLength >= 0)) {
            ipCsum = Checksums.ipv4HeaderChecksum(frame, l2, ihl, word0, newIpLength >= 0 ? newIpLength : storedLen);
        }

        // ---- Everything is valid: write what differs, then the header.
        boolean lenChanged = newIpLength >= 0 && newIpLength != storedLen;
        boolean udpChanged = newUdpLength >= 0;
        boolean seedChanged = seed != storedSeed;
        boolean csumChanged = ipCsum >= 0 && ipCsum != storedIpCsum;
        boolean changed = lenChanged || udpChanged || seedChanged || csumChanged;
        if (changed) {
            requireWritable(frame);
            if (lenChanged) {
                frame.set(BE16, l2 + (v4 ? 2 : 4), (short) newIpLength);
            }
            if (udpChanged) {
                frame.set(BE16, csumStart + UDP_LENGTH_OFFSET, (short) newUdpLength);
            }
            if (seedChanged) {
                frame.set(BE16, csumStart + csumOffset, (short) seed);
            }
            if (csumChanged) {
                frame.set(BE16, l2 + 10, (short) ipCsum);
            }
        }
        // A TSO frame whose payload fits one segment goes out as a checksum-only frame: the kernel
        // measures "bigger than gso_size" past a 20-byte TCP header (TCP options count as payload),
        // keeps GSO, and its TCP segmentation then drops the frame because the payload after the
        // real header is not bigger than the MSS (tx_dropped, no error to the writer).
        boolean oneSegment = tso && writeLength - csumStart - doff <= gsoSize;
        GsoType type = !segment || oneSegment ? GsoType.NONE : uso ? GsoType.UDP_L4 : v4 ? GsoType.TCPV4 : GsoType.TCPV6;
        boolean ecn = tso && !oneSegment && (cwr || md.tcpEcn());
        if (oneSegment) {
            gsoSize = 0;
        }
        VirtioNetHdr.set(hdr, true, type, ecn, (int) hdrLen, gsoSize, (int) csumStart, csumOffset);
        md.frameChanged(changed);
        return writeLength;
    }

    private static long refuse(TxMetadata md, Reason reason, String format, long a, long b) {
        md.refuse(reason, format, a, b);
        return REFUSED;
    }

    private static void requireWritable(MemorySegment frame) {
        if (frame.isReadOnly()) {
            throw new IllegalArgumentException("the frame needs a fix-up but its segment is read-only");
        }
    }
}
