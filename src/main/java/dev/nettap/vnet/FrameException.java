package dev.nettap.vnet;

import java.io.Serial;
import java.util.Objects;

/**
 * A frame, a virtio-net header or offload metadata is inconsistent. The {@link #reason()} says
 * which rule was broken; the message names the field and the values involved.
 *
 * <p>Methods that throw this validate everything first: when it is thrown, neither the frame nor
 * the header has been changed. Instances are immutable and thread-safe. Thrown only for bad input,
 * so its construction cost (a stack trace) is not on any path a well-formed frame takes.
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
        /** The L2 length does not fit the device: 0 in TUN mode (IP packets), an Ethernet header in TAP mode. */
        L2_LENGTH_FOR_MODE
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
