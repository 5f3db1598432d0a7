package dev.nettap;

import dev.nettap.vnet.FrameException;
import dev.nettap.vnet.OffloadTranslation;
import dev.nettap.vnet.TxMetadata;
import java.lang.foreign.MemorySegment;

/** The kind of device behind a queue: what a frame read from or written to it starts with. */
public enum TapMode {
    /** Layer 2 ({@code IFF_TAP}): Ethernet frames. */
    TAP,
    /** Layer 3 ({@code IFF_TUN}): IP packets, no Ethernet header. */
    TUN;

    /** An Ethernet header without VLAN tags. */
    private static final int ETHERNET_HEADER = 14;

    /**
     * {@link OffloadTranslation#buildTxHeader} for a frame written to a device of this mode, after
     * checking that the metadata's L2 length fits it: exactly 0 for {@link #TUN} (the frame starts
     * with its IP header, so {@code csum_start} counts from there), at least 14 for {@link #TAP}
     * (an Ethernet header, 18 with one VLAN tag). Like the translation, it checks everything before
     * writing anything, and a refusal costs no stack trace beyond the exception's.
     *
     * @param md    what the guest asked for; read, not changed
     * @param frame the frame (IP packet in TUN mode), writable when a fix-up may be needed
     * @param hdr   the header to write, at least 10 bytes
     * @return whether the frame was changed
     * @throws FrameException of reason {@link FrameException.Reason#L2_LENGTH_FOR_MODE} if the L2
     *                        length does not fit this mode, or as the translation throws
     */
    public boolean buildTxHeader(TxMetadata md, MemorySegment frame, MemorySegment hdr) {
        int l2 = md.l2Length();
        if (this == TUN ? l2 != 0 : l2 < ETHERNET_HEADER) {
            throw new FrameException(FrameException.Reason.L2_LENGTH_FOR_MODE, "l2Length " + l2 + " in " + this
                    + " mode: " + (this == TUN ? "a TUN frame is an IP packet, its L2 length is 0"
                    : "a TAP frame starts with an Ethernet header, at least 14 bytes"));
        }
        return OffloadTranslation.buildTxHeader(md, frame, hdr);
    }
}
