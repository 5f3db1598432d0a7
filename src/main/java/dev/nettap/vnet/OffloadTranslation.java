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
 * {@code gso_size} and {@code gso_type} (from the IP version). For segmentation it also repairs
 * frames built the NDIS way: an IPv4 total length or IPv6 payload length that is 0 or inconsistent
 * is rewritten from the frame's length, and the L4 checksum field is re-seeded with the
 * pseudo-header sum including the full L4 length (IPv6 extension headers are walked); for UDP
 * segmentation a UDP length field that disagrees with that L4 length is rewritten too, because the
 * kernel derives each datagram's checksum from it. A frame whose
 * IP length is already consistent, including one padded past its IP length, keeps its length. The
 * IPv4 header checksum is computed in software when asked (and whenever a fix-up changed the IPv4
 * header); the header length comes from IHL. An L2 length of 0 serves TUN mode.
 *
 * <p><b>RX</b> ({@link #parseRxHeader}): {@code DATA_VALID} means good checksums,
 * {@code NEEDS_CSUM} a partial L4 checksum with its start and offset, GSO fields are passed on, and
 * the header length is recomputed from the frame, never taken from {@code hdr_len}.
 * {@link #completeChecksum} finishes a partial checksum in software for NIC models that accept
 * neither partial checksums nor GSO.
 *
 * <p>Every method validates all of its input before writing anything: on a
 * {@link FrameException}, the frame, the header and the metadata are as they were. Stateless and
 * thread-safe; a frame or header segment must not be used by another thread during a call. Nothing
 * here allocates on a well-formed frame. Frame segments may be heap or native; each method states
 * what it reads and writes.
 */
public final class OffloadTranslation {

    /**
     * The transmit offloads the TAP path performs: a NIC model may advertise all of these to its
     * guest. An unmodifiable set.
     */
    public static final Set<TxOffload> TAP_TX_OFFLOADS =
            Collections.unmodifiableSet(EnumSet.allOf(TxOffload.class));

    private static final ValueLayout.OfShort BE16 =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final int TCP_CSUM_OFFSET = 16;
    private static final int UDP_CSUM_OFFSET = 6;
    private static final int UDP_LENGTH_OFFSET = 4;
    private static final int IPV6_HEADER = 40;
    private static final int MAX_EXTENSION_HEADERS = 16;

    private OffloadTranslation() {
    }

    // ---------------------------------------------------------------------------------------- TX

    /**
     * Writes the virtio-net header for a frame to transmit and applies the frame fix-ups the
     * metadata calls for. The header is written completely (fields not used are zeroed,
     * {@code num_buffers} is 0 when the segment has 12 bytes).
     *
     * @param md    what the guest asked for; read, not changed
     * @param frame the frame from its first byte (Ethernet header, or IP header in TUN mode) to its
     *              last byte (padding included), writable when a fix-up may be needed
     * @param hdr   the header to write, at least {@value VirtioNetHdr#LEGACY_SIZE} bytes
     * @return whether the frame was changed (a fix-up or an IPv4 header checksum that differed)
     * @throws FrameException if the metadata and the frame disagree; nothing was written then
     */
    public static boolean buildTxHeader(TxMetadata md, MemorySegment frame, MemorySegment hdr) {
        VirtioNetHdr.requireSize(hdr, VirtioNetHdr.LEGACY_SIZE);
        long n = frame.byteSize();
        int l2 = md.l2Length();
        int l3 = md.l3Length();
        int l4 = md.l4Length();
        if ((long) l2 + l3 + l4 > n) {
            throw new FrameException(Reason.LENGTHS_BEYOND_FRAME, "l2Length " + l2 + " + l3Length " + l3
                    + " + l4Length " + l4 + " = " + ((long) l2 + l3 + l4) + " exceeds the frame's "
                    + n + " bytes");
        }
        boolean tso = md.tcpSegmentation();
        boolean uso = !tso && md.udpSegmentation();
        boolean tcp = tso || (!uso && md.tcpChecksum());
        boolean udp = uso || (!tcp && md.udpChecksum());
        boolean l4Offload = tcp || udp;
        boolean segment = tso || uso;
        IpVersion v = md.ipVersion();
        boolean ipv4Csum = md.ipv4HeaderChecksum() && v == IpVersion.IPV4;

        if (!l4Offload && !ipv4Csum) {
            VirtioNetHdr.clear(hdr);
            return false;
        }
        if (v == IpVersion.UNSPECIFIED) {
            throw new FrameException(Reason.UNKNOWN_IP_VERSION,
                    "ipVersion is UNSPECIFIED but " + (tso ? "TCP segmentation" : uso ? "UDP segmentation"
                            : tcp ? "TCP checksum" : "UDP checksum") + " needs the IP header");
        }
        checkIpVersion(frame, l2, v);

        int ihl = v == IpVersion.IPV4 ? Checksums.ipv4HeaderLength(frame, l2) : 0;
        if (!l4Offload) {
            // Only the IPv4 header checksum: nothing else to check.
            int c = Checksums.ipv4HeaderChecksum(frame, l2);
            boolean changed = (frame.get(BE16, l2 + 10L) & 0xFFFF) != c;
            frame.set(BE16, l2 + 10L, (short) c);
            VirtioNetHdr.clear(hdr);
            return changed;
        }

        // The L3 header: IHL for IPv4, the extension header chain for IPv6, both must match l3.
        int proto;
        if (v == IpVersion.IPV4) {
            if (l3 != ihl) {
                throw new FrameException(Reason.L3_LENGTH_MISMATCH,
                        "l3Length is " + l3 + " but the IPv4 IHL gives " + ihl + " bytes");
            }
            proto = frame.get(ValueLayout.JAVA_BYTE, l2 + 9L) & 0xFF;
        } else {
            long walked = walkIpv6(frame, l2);
            int chainLength = (int) (walked >>> 8);
            if (l3 != chainLength) {
                throw new FrameException(Reason.L3_LENGTH_MISMATCH, "l3Length is " + l3
                        + " but the IPv6 header and its extension headers take " + chainLength + " bytes");
            }
            proto = (int) (walked & 0xFF);
        }
        int wantProto = tcp ? Checksums.PROTO_TCP : Checksums.PROTO_UDP;
        if (proto != wantProto) {
            throw new FrameException(Reason.L4_PROTOCOL_MISMATCH, (tcp ? "TCP" : "UDP")
                    + " offload asked but the IP header's protocol is " + proto);
        }

        int csumStart = l2 + l3;
        int csumOffset = tcp ? TCP_CSUM_OFFSET : UDP_CSUM_OFFSET;
        if ((long) csumStart + csumOffset + 2 > n) {
            throw new FrameException(Reason.CSUM_BEYOND_FRAME, "csum_start " + csumStart + " + csum_offset "
                    + csumOffset + " + 2 = " + (csumStart + csumOffset + 2) + " exceeds the frame's " + n
                    + " bytes");
        }
        int l4Header = l4;
        if (tcp) {
            int doff = ((frame.get(ValueLayout.JAVA_BYTE, csumStart + 12L) & 0xFF) >>> 4) * 4;
            if (doff < 20) {
                throw new FrameException(Reason.BAD_HEADER_FIELD,
                        "TCP data offset is " + doff / 4 + " words (" + doff + " bytes), minimum is 5");
            }
            if (l4Header == 0) {
                l4Header = doff;
            }
        } else if (l4Header == 0) {
            l4Header = 8;
        }
        int hdrLen = csumStart + l4Header;
        if (hdrLen > n) {
            throw new FrameException(Reason.FRAME_TOO_SHORT, "headers end at " + hdrLen + " (csum_start "
                    + csumStart + " + L4 header " + l4Header + ") but the frame has " + n + " bytes");
        }
        checkU16(csumStart, "csum_start");
        checkU16(hdrLen, "hdr_len");

        int gsoSize = 0;
        int newIpLength = -1;   // IPv4 total length / IPv6 payload length to store, -1 = keep
        int seed = -1;          // pseudo-header seed to store, -1 = keep
        int newUdpLength = -1;  // UDP length field to store (USO), -1 = keep
        if (segment) {
            gsoSize = tso ? md.tcpMss() : md.udpSegmentSize();
            String what = tso ? "tcpMss" : "udpSegmentSize";
            if (gsoSize == 0) {
                throw new FrameException(Reason.SEGMENT_SIZE_ZERO, what + " is 0 for "
                        + (tso ? "TCP" : "UDP") + " segmentation");
            }
            checkU16(gsoSize, what);
            // IP length: keep a consistent one (exact or padded frame), otherwise take the frame's.
            long fixed = v == IpVersion.IPV4 ? 0 : IPV6_HEADER;  // bytes not counted by the field
            long lenOffset = v == IpVersion.IPV4 ? 2 : 4;
            int stored = frame.get(BE16, l2 + lenOffset) & 0xFFFF;
            long available = n - l2 - fixed;
            long minimum = (long) l3 + l4Header - fixed;
            long ipLength;
            if (stored >= minimum && stored <= available) {
                ipLength = stored;
            } else {
                ipLength = available;
                if (ipLength > 0xFFFF) {
                    throw new FrameException(Reason.L3_PAYLOAD_TOO_LARGE, (v == IpVersion.IPV4
                            ? "IPv4 total length" : "IPv6 payload length") + " would be " + ipLength
                            + " (frame " + n + " bytes, l2Length " + l2 + "), maximum is 65535");
                }
                newIpLength = (int) ipLength;
            }
            long l4Total = ipLength + fixed - l3;
            // The kernel's UDP segmentation (__udp_gso_segment) derives each datagram's seed from
            // the super-frame's seed minus its UDP length field plus the datagram's length, so the
            // field must hold the length the seed was built with; a correct frame already has it.
            if (uso && (frame.get(BE16, (long) csumStart + UDP_LENGTH_OFFSET) & 0xFFFF) != l4Total) {
                newUdpLength = (int) l4Total;
            }
            seed = v == IpVersion.IPV4
                    ? Checksums.pseudoHeaderSumIpv4(frame, l2, proto, (int) l4Total)
                    : Checksums.pseudoHeaderSumIpv6(frame, l2, proto, l4Total);
        }

        // Everything is valid: write the frame fix-ups, then the header.
        boolean changed = false;
        if (newIpLength >= 0) {
            long at = l2 + (v == IpVersion.IPV4 ? 2L : 4L);
            changed = (frame.get(BE16, at) & 0xFFFF) != newIpLength;
            frame.set(BE16, at, (short) newIpLength);
        }
        if (newUdpLength >= 0) {
            long at = (long) csumStart + UDP_LENGTH_OFFSET;
            changed |= (frame.get(BE16, at) & 0xFFFF) != newUdpLength;
            frame.set(BE16, at, (short) newUdpLength);
        }
        if (seed >= 0) {
            long at = (long) csumStart + csumOffset;
            changed |= (frame.get(BE16, at) & 0xFFFF) != seed;
            frame.set(BE16, at, (short) seed);
        }
        if (v == IpVersion.IPV4 && (ipv4Csum || newIpLength >= 0)) {
            int c = Checksums.ipv4HeaderChecksum(frame, l2);
            changed |= (frame.get(BE16, l2 + 10L) & 0xFFFF) != c;
            frame.set(BE16, l2 + 10L, (short) c);
        }
        GsoType type = !segment ? GsoType.NONE
                : uso ? GsoType.UDP_L4 : v == IpVersion.IPV4 ? GsoType.TCPV4 : GsoType.TCPV6;
        VirtioNetHdr.set(hdr, true, type, false, hdrLen, gsoSize, csumStart, csumOffset);
        return changed;
    }

    private static void checkIpVersion(MemorySegment frame, int l2, IpVersion v) {
        if (l2 >= frame.byteSize()) {
            throw new FrameException(Reason.FRAME_TOO_SHORT,
                    "no IP header: l2Length is " + l2 + " and the frame has " + frame.byteSize() + " bytes");
        }
        int nibble = (frame.get(ValueLayout.JAVA_BYTE, l2) & 0xFF) >>> 4;
        IpVersion actual = nibble == 4 ? IpVersion.IPV4 : nibble == 6 ? IpVersion.IPV6 : null;
        if (actual == null) {
            throw new FrameException(Reason.UNKNOWN_IP_VERSION,
                    "IP version nibble at offset " + l2 + " is " + nibble + ", neither 4 nor 6");
        }
        if (actual != v) {
            throw new FrameException(Reason.IP_VERSION_MISMATCH,
                    "ipVersion is " + v + " but the frame's IP header at offset " + l2 + " is " + actual);
        }
    }

    /**
     * Walks the IPv6 header and its extension headers (hop-by-hop 0, routing 43, fragment 44,
     * destination options 60, authentication 51).
     *
     * @return {@code (chainLength << 8) | upperLayerProtocol}
     */
    private static long walkIpv6(MemorySegment frame, int l2) {
        long n = frame.byteSize();
        if (l2 + (long) IPV6_HEADER > n) {
            throw new FrameException(Reason.FRAME_TOO_SHORT, "IPv6 header at offset " + l2
                    + " needs 40 bytes but the frame has " + n);
        }
        int next = frame.get(ValueLayout.JAVA_BYTE, l2 + 6L) & 0xFF;
        long pos = l2 + (long) IPV6_HEADER;
        for (int i = 0; i <= MAX_EXTENSION_HEADERS; i++) {
            if (next != 0 && next != 43 && next != 44 && next != 60 && next != 51) {
                return ((pos - l2) << 8) | next;
            }
            if (i == MAX_EXTENSION_HEADERS) {
                break;
            }
            if (pos + 2 > n) {
                throw new FrameException(Reason.FRAME_TOO_SHORT, "IPv6 extension header " + next
                        + " at offset " + pos + " runs past the frame's " + n + " bytes");
            }
            int lenField = frame.get(ValueLayout.JAVA_BYTE, pos + 1) & 0xFF;
            long len = next == 44 ? 8 : next == 51 ? (lenField + 2) * 4L : (lenField + 1) * 8L;
            if (pos + len > n) {
                throw new FrameException(Reason.FRAME_TOO_SHORT, "IPv6 extension header " + next
                        + " at offset " + pos + " is " + len + " bytes, past the frame's " + n + " bytes");
            }
            next = frame.get(ValueLayout.JAVA_BYTE, pos) & 0xFF;
            pos += len;
        }
        throw new FrameException(Reason.BAD_HEADER_FIELD,
                "more than " + MAX_EXTENSION_HEADERS + " IPv6 extension headers");
    }

    private static void checkU16(long value, String field) {
        if (value > 0xFFFF) {
            throw new FrameException(Reason.FIELD_OVERFLOW, field + " = " + value + " does not fit 16 bits");
        }
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
