package dev.nettap.vnet;

/**
 * What a received frame's virtio-net header says, in the terms a guest NIC model uses: checksum
 * state, GSO, L4 protocol and a header length recomputed from the frame.
 * {@link OffloadTranslation#parseRxHeader} fills it.
 *
 * <p>Mutable and caller-owned: keep one per receive queue and let the translation overwrite it for
 * each frame, so a busy loop allocates nothing. Not thread-safe; confine an instance to one thread
 * at a time. Only the translation writes it; callers read.
 */
public final class RxMetadata {

    /** The state of a checksum in a received frame. */
    public enum ChecksumState {
        /** Nothing known: the guest must verify it. */
        UNKNOWN,
        /** Verified (or made correct) by the host: the guest may trust it. */
        GOOD,
        /**
         * Not computed yet: the field holds the pseudo-header seed and the checksum over the bytes
         * from {@link #partialStart()} must be stored at {@link #partialStart()} +
         * {@link #partialOffset()}.
         */
        PARTIAL
    }

    /** The L4 protocol of a received frame, as far as the header tells. */
    public enum L4Protocol {
        /** The header does not say. */
        UNKNOWN,
        /** TCP. */
        TCP,
        /** UDP. */
        UDP
    }

    private ChecksumState ipChecksum = ChecksumState.UNKNOWN;
    private ChecksumState l4Checksum = ChecksumState.UNKNOWN;
    private int partialStart;
    private int partialOffset;
    private VirtioNetHdr.GsoType gsoType = VirtioNetHdr.GsoType.NONE;
    private boolean gsoEcn;
    private int gsoSize;
    private L4Protocol l4Protocol = L4Protocol.UNKNOWN;
    private IpVersion ipVersion = IpVersion.UNSPECIFIED;
    private int headerLength;

    /** Creates metadata in the {@linkplain #clear() cleared} state. */
    public RxMetadata() {
    }

    /**
     * Resets every field: checksums unknown, no GSO, protocol and version unknown, lengths 0.
     *
     * @return this
     */
    public RxMetadata clear() {
        ipChecksum = ChecksumState.UNKNOWN;
        l4Checksum = ChecksumState.UNKNOWN;
        partialStart = 0;
        partialOffset = 0;
        gsoType = VirtioNetHdr.GsoType.NONE;
        gsoEcn = false;
        gsoSize = 0;
        l4Protocol = L4Protocol.UNKNOWN;
        ipVersion = IpVersion.UNSPECIFIED;
        headerLength = 0;
        return this;
    }

    /**
     * The IPv4 header checksum state: {@code GOOD} when the host validated the frame, otherwise
     * {@code UNKNOWN} (never {@code PARTIAL}).
     *
     * @return the state, never null
     */
    public ChecksumState ipChecksum() {
        return ipChecksum;
    }

    /**
     * The L4 (TCP/UDP) checksum state.
     *
     * @return the state, never null
     */
    public ChecksumState l4Checksum() {
        return l4Checksum;
    }

    /**
     * Where checksumming starts, from the start of the frame; meaningful when
     * {@link #l4Checksum()} is {@code PARTIAL}.
     *
     * @return the byte offset
     */
    public int partialStart() {
        return partialStart;
    }

    /**
     * Where the checksum goes, from {@link #partialStart()}; meaningful when {@link #l4Checksum()} is
     * {@code PARTIAL}.
     *
     * @return the byte offset (16 for TCP, 6 for UDP)
     */
    public int partialOffset() {
        return partialOffset;
    }

    /**
     * The GSO type of the frame.
     *
     * @return {@code NONE} for an ordinary frame, never null
     */
    public VirtioNetHdr.GsoType gsoType() {
        return gsoType;
    }

    /**
     * Whether the ECN bit of {@code gso_type} was set.
     *
     * @return the bit
     */
    public boolean gsoEcn() {
        return gsoEcn;
    }

    /**
     * The payload bytes per segment of a GSO frame.
     *
     * @return the size, 0 when not GSO
     */
    public int gsoSize() {
        return gsoSize;
    }

    /**
     * The L4 protocol, from the GSO type or the checksum offset.
     *
     * @return the protocol, never null
     */
    public L4Protocol l4Protocol() {
        return l4Protocol;
    }

    /**
     * The IP version, known from a TCP GSO type only.
     *
     * @return the version, {@code UNSPECIFIED} when the header does not tell
     */
    public IpVersion ipVersion() {
        return ipVersion;
    }

    /**
     * The length of the headers up to the end of L4, recomputed from the frame
     * ({@code csum_start} plus the TCP data offset, or plus 8 for UDP); the header's own
     * {@code hdr_len} is never used. 0 when there is no partial checksum to anchor it.
     *
     * @return bytes
     */
    public int headerLength() {
        return headerLength;
    }

    void set(ChecksumState ip, ChecksumState l4, int start, int offset, VirtioNetHdr.GsoType gso,
             boolean ecn, int size, L4Protocol proto, IpVersion version, int hdrLen) {
        ipChecksum = ip;
        l4Checksum = l4;
        partialStart = start;
        partialOffset = offset;
        gsoType = gso;
        gsoEcn = ecn;
        gsoSize = size;
        l4Protocol = proto;
        ipVersion = version;
        headerLength = hdrLen;
    }

    void markL4Good() {
        l4Checksum = ChecksumState.GOOD;
        partialStart = 0;
        partialOffset = 0;
    }

    /**
     * A description of every field, for diagnostics (allocates).
     *
     * @return a string naming every field and its value
     */
    @Override
    public String toString() {
        return "RxMetadata[ip=" + ipChecksum + ", l4=" + l4Checksum + ", partialStart=" + partialStart
                + ", partialOffset=" + partialOffset + ", gso=" + gsoType + (gsoEcn ? "+ECN" : "")
                + ", gsoSize=" + gsoSize + ", l4Protocol=" + l4Protocol + ", ipVersion=" + ipVersion
                + ", headerLength=" + headerLength + "]";
    }
}
