package dev.nettap.vnet;

import java.lang.foreign.MemorySegment;
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
    public static final long REFUSED = TxHeaderBuilder.REFUSED; // -1

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
        return TxHeaderBuilder.build(md, frame, hdr, ipFrame);
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
        return TxHeaderBuilder.build(md, frame, hdr);
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
        RxHeaderParser.parse(hdr, frame, md);
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
        return RxHeaderParser.completeChecksum(md, frame);
    }
}
