package dev.nettap.vnet;

import dev.nettap.vnet.FrameException.Reason;
import dev.nettap.vnet.RxMetadata.ChecksumState;
import dev.nettap.vnet.RxMetadata.L4Protocol;
import dev.nettap.vnet.VirtioNetHdr.Flag;
import dev.nettap.vnet.VirtioNetHdr.GsoType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;

/**
 * The translation between a guest NIC model's per-frame offload metadata and the virtio-net header
 * the kernel understands, in both directions, with the in-place frame fix-ups real guests need.
 *
 * <p><b>TX</b> ({@link #buildTxHeader}): the first offload that applies, in the order TCP
 * segmentation, UDP segmentation, TCP checksum, UDP checksum, none, sets {@code NEEDS_CSUM},
 * {@code csum_start = l2 + l3}, {@code csum_offset} (16 for TCP, 6 for UDP), {@code hdr_len},
 * {@code gso_size} and {@code gso_type} (from the IP version, with the ECN bit for TCP
 * segmentation of a CWR frame; none for TCP segmentation of a payload that fits one segment). For every L4 offload it also repairs frames built the NDIS way:
 * an IPv4 total length or IPv6 payload length that is 0 or inconsistent is rewritten from the
 * frame's length, and the L4 checksum field is seeded with the pseudo-header sum including the
 * full L4 length and the final destination of a source route (IPv4 options and IPv6 extension
 * headers are walked); for UDP segmentation a UDP length field that disagrees with that L4 length
 * is rewritten too, because the kernel derives each datagram's checksum from it. A frame whose IP
 * length is already consistent keeps it, and bytes after the datagram are left out of the length
 * it returns. The IPv4 header checksum is computed in software when asked (and whenever a fix-up
 * changed the IPv4 header); the header length comes from IHL. An L2 length of 0 serves TUN mode.
 * A malformed frame is refused with a status, not an exception: see {@link #buildTxHeader}.
 *
 * <p><b>RX</b> ({@link #parseRxHeader}): {@code DATA_VALID} means good checksums,
 * {@code NEEDS_CSUM} a partial L4 checksum with its start and offset, GSO fields are passed on, and
 * the header length is recomputed from the frame, never taken from {@code hdr_len}.
 * {@link #completeChecksum} finishes a partial checksum in software for NIC models that accept
 * neither partial checksums nor GSO.
 *
 * <p>Every method validates all of its input before writing anything: on a refusal or a
 * {@link FrameException}, the frame, the header and an RX metadata object are as they were.
 * Stateless and thread-safe; a frame or header segment must not be used by another thread during a
 * call (a guest writing its own frame meanwhile can spoil only that frame's checksums: see
 * {@link #buildTxHeader}). Nothing here allocates on a well-formed frame, nor on a refused TX
 * frame. Frame segments may be heap or native; each method states what it reads and writes.
 */
public final class OffloadTranslation {

    /**
     * The transmit offloads the TAP path performs: a NIC model may advertise all of these to its
     * guest. An unmodifiable set.
     */
    public static final Set<TxOffload> TAP_TX_OFFLOADS =
            Collections.unmodifiableSet(EnumSet.allOf(TxOffload.class));

    /**
     * What {@link #buildTxHeader} returns for a refused frame: nothing was written, and the
     * metadata's {@link TxMetadata#refusal()} says why.
     */
    public static final long REFUSED = -1;

    /** An Ethernet header without VLAN tags. */
    private static final int ETHERNET_HEADER = 14;

    private static final ValueLayout.OfShort BE16 =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final int TCP_CSUM_OFFSET = 16;
    private static final int UDP_CSUM_OFFSET = 6;
    private static final int UDP_LENGTH_OFFSET = 4;
    private static final int UDP_HEADER = 8;
    private static final int IPV6_HEADER = 40;
    private static final int MAX_EXTENSION_HEADERS = 16;
    /** The kernel's {@code GSO_BY_FRAGS}: a {@code gso_size} no write may carry. */
    static final int GSO_BY_FRAGS = 0xFFFF;
    /** The kernel's {@code UDP_MAX_SEGMENTS}: datagrams one USO write may make. */
    static final int UDP_MAX_SEGMENTS = 128;
    private static final int TCP_CWR = 0x80;
    private static final int IPV4_OPT_LSRR = 0x83;
    private static final int IPV4_OPT_SSRR = 0x89;

    private OffloadTranslation() {
    }

    // ---------------------------------------------------------------------------------------- TX

    /**
     * {@link #buildTxHeader(TxMetadata, MemorySegment, MemorySegment)} for a device whose frames
     * start at a known layer, after checking that the metadata's L2 length fits it: exactly 0 when
     * {@code ipFrame} (a TUN device: the frame starts with its IP header, so {@code csum_start}
     * counts from there), at least 14 otherwise (a TAP device: an Ethernet header, 18 with one VLAN
     * tag). A misfit is a refusal like any other ({@link FrameException.Reason#L2_LENGTH_FOR_MODE}
     * in {@code md}, nothing written, no allocation).
     *
     * @param md      as for the three-argument form
     * @param frame   as for the three-argument form
     * @param hdr     as for the three-argument form
     * @param ipFrame whether frames start with the IP header (TUN) rather than Ethernet (TAP)
     * @return as for the three-argument form
     * @throws FrameException           as for the three-argument form
     * @throws IllegalArgumentException as for the three-argument form
     */
    public static long buildTxHeader(TxMetadata md, MemorySegment frame, MemorySegment hdr, boolean ipFrame) {
        int l2 = md.l2Length();
        if (ipFrame ? l2 != 0 : l2 < ETHERNET_HEADER) {
            VirtioNetHdr.requireSize(hdr, VirtioNetHdr.LEGACY_SIZE); // misuse is reported first, as below
            md.clearOutcome();
            return refuse(md, Reason.L2_LENGTH_FOR_MODE, ipFrame
                    ? "l2Length %d for a frame that starts with its IP header (TUN): it must be 0"
                    : "l2Length %d for an Ethernet frame (TAP): it must be at least %d", l2, ETHERNET_HEADER);
        }
        return buildTxHeader(md, frame, hdr);
    }

    /**
     * Writes the virtio-net header for a frame to transmit, applies the frame fix-ups the metadata
     * calls for, and says how many bytes of the frame to write. The header is written completely
     * (fields not used are zeroed, {@code num_buffers} is 0 when the segment has 12 bytes).
     *
     * <p><b>A refusal is a return value, not an exception.</b> The frame is guest memory, and a
     * guest can send malformed frames at line rate: a refused frame returns {@link #REFUSED}, the
     * reason and the values for a message are stored in {@code md} (see
     * {@link TxMetadata#refusal()}, {@link TxMetadata#refusalMessage()}), and nothing is
     * allocated. The refusal paths do a subset of the work of an acceptance (they stop at the
     * first broken rule), so refusing costs no more than translating; the JMH benchmark
     * {@code TranslateBench} measures both. A preallocated stackless exception was the other
     * option; it was not taken because it cannot carry the values of each refusal without
     * allocating or sharing mutable state across threads, and because a refusal is an expected
     * outcome for a hostile guest, which a status models better than control flow through
     * {@code catch}. Only misuse by the host throws.
     *
     * <p><b>Reads once, writes last.</b> Every guest field that decides a bound, a branch or a
     * value to store (version and IHL, lengths, fragment bits, protocol, option and extension
     * header lengths, routing type and segments left, TCP data offset and flags, UDP length, the
     * stored checksums) is read exactly once, everything is validated, and only then are the
     * frame and the header written; on a refusal neither was touched. Bytes that are only summed
     * (addresses, options) are read where they are summed: a guest that rewrites its frame during
     * the call can only spoil that frame's own checksums, never make this method write outside
     * what it validated.
     *
     * <p><b>What the kernel would mishandle, and what happens to it:</b>
     * <ul>
     *   <li>Source routes: the L4 seed is always (re)computed from the pseudo-header with the
     *       <em>final</em> destination: the last address of an IPv4 LSRR/SSRR option that has
     *       addresses left, the last address of an IPv6 type 0 routing header or the home address
     *       of a type 2 one, segment 0 of a segment routing header (type 4), when segments are
     *       left. <em>Repaired.</em> A route whose final destination cannot be read (RPL, unknown
     *       types, two routes, malformed) is <em>refused</em>,
     *       {@link FrameException.Reason#FINAL_DESTINATION_UNKNOWN}.</li>
     *   <li>Bytes after the IP datagram (Ethernet padding, a total length shorter than the
     *       buffer), for GSO and checksum-only frames alike: <em>repaired</em> by returning the
     *       length of the datagram (L2 + IP length), shorter than the buffer; the caller writes
     *       only that many bytes, so the kernel neither segments nor sums the trailing bytes. An
     *       IP length of 0 (NDIS) or one that does not fit the frame is rewritten from the frame's
     *       length, for checksum-only frames too, and the seed with it; a length over 65535 is
     *       <em>refused</em> ({@link FrameException.Reason#L3_PAYLOAD_TOO_LARGE}) on every L4
     *       offload, whether or not the length is rewritten.</li>
     *   <li>A segment size of 65535 ({@code GSO_BY_FRAGS}): <em>refused</em>,
     *       {@link FrameException.Reason#SEGMENT_SIZE_RESERVED}.</li>
     *   <li>UDP segmentation into more than 128 datagrams: <em>refused</em>,
     *       {@link FrameException.Reason#TOO_MANY_SEGMENTS}.</li>
     *   <li>Any L4 offload on an IP fragment (IPv4 MF or fragment offset, IPv6 fragment header,
     *       which the kernel silently drops under TSO6): <em>refused</em>,
     *       {@link FrameException.Reason#FRAGMENTED}.</li>
     *   <li>Lengths are added in {@code long}: metadata lengths near {@link Integer#MAX_VALUE}
     *       are refused with {@link FrameException.Reason#LENGTHS_BEYOND_FRAME} or
     *       {@link FrameException.Reason#FIELD_OVERFLOW}, never an arithmetic wrap.</li>
     *   <li>TCP segmentation of a frame whose payload (after the TCP header its data offset gives)
     *       fits one segment: the kernel decides whether a frame is GSO by measuring past a
     *       20-byte TCP header, so with TCP options a payload of up to the options' length less
     *       than the MSS stays GSO, and the kernel's segmentation then silently drops it
     *       ({@code tx_dropped}). <em>Repaired:</em> such a frame is sent as a checksum-only frame
     *       ({@code gso_type} NONE, {@code gso_size} 0, no ECN bit), which is the one segment the
     *       kernel would have made.</li>
     *   <li>ECN: TCP segmentation sets the header's ECN bit when the metadata asks
     *       ({@link TxMetadata#tcpEcn(boolean)}) or the TCP header carries CWR.</li>
     * </ul>
     *
     * @param md    what the guest asked for; its request is read, not changed; its outcome
     *              ({@link TxMetadata#refusal()}, {@link TxMetadata#frameChanged()}) is
     *              overwritten
     * @param frame the frame from its first byte (Ethernet header, or IP header in TUN mode) to
     *              the end of the guest's buffer (padding included); must be writable when a
     *              fix-up is needed
     * @param hdr   the header to write, writable, at least {@value VirtioNetHdr#LEGACY_SIZE} bytes
     * @return the number of bytes of {@code frame}, from its start, to write after the header
     *         ({@code frame.byteSize()}, or less when bytes follow the IP datagram), or
     *         {@link #REFUSED}; nothing was written then
     * @throws FrameException           with {@link FrameException.Reason#HEADER_TOO_SMALL} if
     *                                  {@code hdr} is too small (misuse; nothing written)
     * @throws IllegalArgumentException if {@code hdr} is read-only, or {@code frame} is read-only
     *                                  and needs a fix-up (misuse; nothing written)
     */
    public static long buildTxHeader(TxMetadata md, MemorySegment frame, MemorySegment hdr) {
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
                dst = ipv4FinalDestination(md, frame, l2, ihl);
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
            long walked = walkIpv6(md, frame, l2);
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

    /**
     * Walks the IPv4 options (IHL above 5) for a source route.
     *
     * @return the absolute offset of the final destination's address: the last address of an
     *         LSRR/SSRR option with addresses left, otherwise the header's destination; or
     *         {@link #REFUSED} with the refusal recorded
     */
    private static long ipv4FinalDestination(TxMetadata md, MemorySegment frame, long l2, int ihl) {
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
    private static long walkIpv6(TxMetadata md, MemorySegment frame, long l2) {
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

    // ---------------------------------------------------------------------------------------- RX

    /**
     * Reads a received frame's virtio-net header into metadata. The header's {@code hdr_len} is
     * ignored; the header length is recomputed from {@code csum_start} and the frame. Unknown flag
     * bits are ignored.
     *
     * @param hdr   the header as read, at least {@value VirtioNetHdr#LEGACY_SIZE} bytes; read only
     * @param frame the frame as read, exactly its length (from the Ethernet header in TAP mode, the
     *              IP header in TUN mode); read only
     * @param md    overwritten completely on success, untouched on an exception
     * @throws FrameException if the header is inconsistent with itself or the frame: an unknown GSO
     *                        type, GSO without {@code NEEDS_CSUM} or with a size of 0, a checksum
     *                        position past the frame, a TCP GSO offset other than 16 or a UDP one
     *                        other than 6, a TCP data offset below 5 or past the frame
     */
    public static void parseRxHeader(MemorySegment hdr, MemorySegment frame, RxMetadata md) {
        VirtioNetHdr.requireSize(hdr, VirtioNetHdr.LEGACY_SIZE);
        long n = frame.byteSize();
        boolean needsCsum = VirtioNetHdr.hasFlag(hdr, Flag.NEEDS_CSUM);
        boolean dataValid = VirtioNetHdr.hasFlag(hdr, Flag.DATA_VALID);
        GsoType gso = VirtioNetHdr.gsoType(hdr);
        boolean ecn = VirtioNetHdr.gsoEcn(hdr);
        int gsoSize = VirtioNetHdr.gsoSize(hdr);
        int start = VirtioNetHdr.csumStart(hdr);
        int offset = VirtioNetHdr.csumOffset(hdr);

        L4Protocol proto = L4Protocol.UNKNOWN;
        int hdrLen = 0;
        if (gso != GsoType.NONE) {
            if (!needsCsum) {
                throw new FrameException(Reason.BAD_HEADER_FIELD, "gso_type " + gso + " without NEEDS_CSUM");
            }
            if (gsoSize == 0) {
                throw new FrameException(Reason.SEGMENT_SIZE_ZERO, "gso_size is 0 for gso_type " + gso);
            }
            int want = gso == GsoType.TCPV4 || gso == GsoType.TCPV6 ? TCP_CSUM_OFFSET : UDP_CSUM_OFFSET;
            if (offset != want) {
                throw new FrameException(Reason.BAD_HEADER_FIELD,
                        "csum_offset is " + offset + " for gso_type " + gso + ", expected " + want);
            }
        }
        if (needsCsum) {
            if ((long) start + offset + 2 > n) {
                throw new FrameException(Reason.CSUM_BEYOND_FRAME, "csum_start " + start + " + csum_offset "
                        + offset + " + 2 = " + (start + offset + 2) + " exceeds the frame's " + n + " bytes");
            }
            if (offset == TCP_CSUM_OFFSET) {
                proto = L4Protocol.TCP;
                int doff = ((frame.get(ValueLayout.JAVA_BYTE, start + 12L) & 0xFF) >>> 4) * 4;
                if (doff < 20) {
                    throw new FrameException(Reason.BAD_HEADER_FIELD, "TCP data offset at " + (start + 12)
                            + " is " + doff / 4 + " words, minimum is 5");
                }
                if ((long) start + doff > n) {
                    throw new FrameException(Reason.FRAME_TOO_SHORT, "TCP header from csum_start " + start
                            + " is " + doff + " bytes, past the frame's " + n + " bytes");
                }
                hdrLen = start + doff;
            } else if (offset == UDP_CSUM_OFFSET) {
                proto = L4Protocol.UDP;
                hdrLen = start + 8;
            }
        }
        IpVersion version = gso == GsoType.TCPV4 ? IpVersion.IPV4
                : gso == GsoType.TCPV6 ? IpVersion.IPV6 : IpVersion.UNSPECIFIED;
        ChecksumState l4 = needsCsum ? ChecksumState.PARTIAL
                : dataValid ? ChecksumState.GOOD : ChecksumState.UNKNOWN;
        ChecksumState ip = dataValid ? ChecksumState.GOOD : ChecksumState.UNKNOWN;
        md.set(ip, l4, needsCsum ? start : 0, needsCsum ? offset : 0, gso, ecn,
                gso == GsoType.NONE ? 0 : gsoSize, proto, version, hdrLen);
    }

    /**
     * Completes a partial L4 checksum in software: sums the frame from {@link RxMetadata#partialStart()}
     * to its end (the checksum field already holds the pseudo-header seed), stores the complement at
     * {@code partialStart + partialOffset} and marks the L4 checksum {@code GOOD}. A UDP checksum
     * that comes out 0 is stored as {@code 0xFFFF}. Does nothing unless the L4 checksum is
     * {@code PARTIAL}.
     *
     * @param md    metadata from {@link #parseRxHeader} for this frame; updated on success
     * @param frame the frame, exactly its length (no padding: every byte to the end is summed),
     *              writable
     * @return whether a checksum was written
     * @throws FrameException with {@link FrameException.Reason#BAD_HEADER_FIELD} for a GSO frame
     *                        (segment it first), or {@link FrameException.Reason#CSUM_BEYOND_FRAME}
     *                        if the checksum position is past the end of {@code frame}
     */
    public static boolean completeChecksum(RxMetadata md, MemorySegment frame) {
        if (md.l4Checksum() != ChecksumState.PARTIAL) {
            return false;
        }
        if (md.gsoType() != GsoType.NONE) {
            throw new FrameException(Reason.BAD_HEADER_FIELD, "gso_type " + md.gsoType()
                    + ": a GSO frame must be segmented, its checksum cannot be completed as one frame");
        }
        long n = frame.byteSize();
        int start = md.partialStart();
        int offset = md.partialOffset();
        if ((long) start + offset + 2 > n) {
            throw new FrameException(Reason.CSUM_BEYOND_FRAME, "partialStart " + start + " + partialOffset "
                    + offset + " + 2 exceeds the frame's " + n + " bytes");
        }
        int c = Checksums.checksum(frame, start, n - start);
        if (c == 0 && md.l4Protocol() == L4Protocol.UDP) {
            c = 0xFFFF; // 0 means "no checksum" in UDP
        }
        frame.set(BE16, (long) start + offset, (short) c);
        md.markL4Good();
        return true;
    }
}
