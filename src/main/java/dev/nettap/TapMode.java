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

    /**
     * {@link OffloadTranslation#buildTxHeader(TxMetadata, MemorySegment, MemorySegment, boolean)}
     * for a frame written to a device of this mode: the metadata's L2 length must be exactly 0 for
     * {@link #TUN} (the frame starts with its IP header, so {@code csum_start} counts from there),
     * at least 14 for {@link #TAP} (an Ethernet header, 18 with one VLAN tag); a misfit is refused
     * with {@link FrameException.Reason#L2_LENGTH_FOR_MODE} left in {@code md}, like any other
     * refusal (nothing written, no exception, no allocation).
     *
     * @param md    what the guest asked for; its outcome is overwritten
     * @param frame the frame (IP packet in TUN mode), writable when a fix-up may be needed
     * @param hdr   the header to write, at least 10 bytes
     * @return the number of frame bytes to write after the header, or
     *         {@link OffloadTranslation#REFUSED}
     * @throws FrameException           if {@code hdr} is too small (misuse)
     * @throws IllegalArgumentException if {@code hdr}, or a frame that needs a fix-up, is read-only
     */
    public long buildTxHeader(TxMetadata md, MemorySegment frame, MemorySegment hdr) {
        return OffloadTranslation.buildTxHeader(md, frame, hdr, this == TUN);
    }
}
