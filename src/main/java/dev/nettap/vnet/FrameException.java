package dev.nettap.vnet;

import java.io.Serial;
import java.util.Objects;

/**
 * A frame, a virtio-net header or offload metadata is inconsistent. The {@link #reason()} says
 * which rule was broken; the message names the field and the values involved.
 *
 * <p>Methods that throw this validate everything first: when it is thrown, neither the frame nor
 * the header has been changed. Instances are immutable and thread-safe.
 *
 * <p><b>Where it is thrown, and where not.</b> The transmit translation,
 * {@link OffloadTranslation#buildTxHeader}, is the one entry point fed what a guest put in its
 * memory, at whatever rate the guest likes; it never throws this: it returns
 * {@link OffloadTranslation#REFUSED} and leaves the {@link Reason} (and the values for a message,
 * formatted only on demand) in the caller's {@link TxMetadata}, so a refusal allocates nothing and
 * costs no more than an acceptance. Everything that still throws this is handed an argument by
 * the host that breaks a documented precondition: a header segment that is too small, a value
 * that does not fit a 16-bit field, a received header the kernel wrote inconsistently, a frame a
 * host component asked to checksum. For those, {@link IllegalArgumentException} is the right
 * family: they are rare, a stack trace helps find the caller, and a VMM that catches
 * {@code IllegalArgumentException} around a host call catches them too.
 */
public final class FrameException extends IllegalArgumentException {

    @Serial
    private static final long serialVersionUID = 1L;

    /** Which rule the input broke. */
    public enum Reason {
        /** A header length (L2, L3 or L4) is negative, or together they run past the frame. */
        LENGTHS_BEYOND_FRAME,
        /** {@code csum_start + csum_offset + 2} is past the end of the frame. */
        CSUM_BEYOND_FRAME,
        /** TCP segmentation asked with an MSS of 0 (or UDP segmentation with a size of 0). */
        SEGMENT_SIZE_ZERO,
        /** A segment size or header length does not fit the header's 16-bit field. */
        FIELD_OVERFLOW,
        /** The IPv4 IHL is below 5. */
        IHL_TOO_SMALL,
        /** The frame is shorter than the headers it claims (IHL, TCP data offset, IPv6 chain). */
        FRAME_TOO_SHORT,
        /** The IP version is neither 4 nor 6, or the metadata gives none where one is needed. */
        UNKNOWN_IP_VERSION,
        /** The metadata says IPv4 and the frame says IPv6, or the other way round. */
        IP_VERSION_MISMATCH,
        /** The L3 payload would be larger than 65535 bytes (no jumbograms). */
        L3_PAYLOAD_TOO_LARGE,
        /** The L3 length in the metadata disagrees with the IP header (IHL or IPv6 extension chain). */
        L3_LENGTH_MISMATCH,
        /** The L4 protocol in the IP header is not the one the offload is for. */
        L4_PROTOCOL_MISMATCH,
        /** A header field holds a value the translation does not accept (e.g. an unknown GSO type). */
        BAD_HEADER_FIELD,
        /** A segment given for the virtio-net header is smaller than the header. */
        HEADER_TOO_SMALL,
        /**
         * The segment size is 65535, the kernel's reserved {@code GSO_BY_FRAGS}: a write with it
         * always fails with {@code EINVAL}.
         */
        SEGMENT_SIZE_RESERVED,
        /**
         * UDP segmentation would make more datagrams than the kernel allows
         * ({@code UDP_MAX_SEGMENTS}, 128): a write fails with {@code EINVAL}.
         */
        TOO_MANY_SEGMENTS,
        /**
         * An L4 offload was asked for an IP fragment (an IPv4 header with MF or a fragment offset,
         * an IPv6 fragment header): the L4 checksum covers the whole datagram, and the kernel drops
         * a TSO6 frame with a fragment header, counted only in {@code tx_dropped}.
         */
        FRAGMENTED,
        /**
         * A source route (IPv4 LSRR/SSRR option, IPv6 routing header with segments left) whose
         * final destination, which the L4 pseudo-header uses, cannot be found: a routing type
         * without addresses to read (RPL, unknown types), more than one, or a malformed one.
         */
        FINAL_DESTINATION_UNKNOWN,
        /** The L2 length does not fit the device: 0 in TUN mode (IP packets), an Ethernet header in TAP mode. */
        L2_LENGTH_FOR_MODE,
        /**
         * A non-zero L4 length in the metadata disagrees with the frame: it is not 8 for UDP, or not
         * the TCP header's data offset times 4 (0 means "read it from the frame").
         */
        L4_LENGTH_MISMATCH
    }

    /** Which rule was broken. */
    private final Reason reason;

    /**
     * Creates an exception.
     *
     * @param reason  which rule was broken, not null
     * @param message what was wrong, naming the field and values
     */
    public FrameException(Reason reason, String message) {
        super(reason + ": " + message);
        this.reason = Objects.requireNonNull(reason, "reason");
    }

    /**
     * Which rule the input broke.
     *
     * @return the reason, never null
     */
    public Reason reason() {
        return reason;
    }
}
