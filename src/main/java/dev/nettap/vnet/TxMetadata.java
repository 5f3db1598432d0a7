package dev.nettap.vnet;

import java.util.Objects;

/**
 * What a guest NIC model says about one frame it transmits: which offloads it asks for and where
 * the headers end; and, after {@link OffloadTranslation#buildTxHeader}, what the translation did
 * with it (the <em>outcome</em>: {@link #refusal()}, {@link #refusalMessage()},
 * {@link #frameChanged()}).
 *
 * <p>Mutable and caller-owned: keep one per transmit queue, {@link #clear()} it and fill it for
 * each frame, so a busy loop allocates nothing (a refusal included: its message is only formatted
 * when {@link #refusalMessage()} is called). Not thread-safe; confine an instance to one thread
 * at a time. Setters return {@code this} for chaining and check only their own argument;
 * consistency with the frame is checked by the translation.
 */
public final class TxMetadata {

    private IpVersion ipVersion = IpVersion.UNSPECIFIED;
    private boolean ipv4HeaderChecksum;
    private boolean tcpChecksum;
    private boolean udpChecksum;
    private boolean tcpSegmentation;
    private int tcpMss;
    private boolean udpSegmentation;
    private int udpSegmentSize;
    private int l2Length;
    private int l3Length;
    private int l4Length;
    private boolean tcpEcn;

    // The outcome of the last translation: written by the TX translation (TxHeaderBuilder, IpHeaderWalker) only.
    private FrameException.Reason refusal;
    private String refusalFormat;
    private long refusalA;
    private long refusalB;
    private boolean frameChanged;

    /** Creates metadata in the {@linkplain #clear() cleared} state. */
    public TxMetadata() {
    }

    /**
     * Resets every field: no offload, IP version unspecified, every length and size 0.
     *
     * @return this
     */
    public TxMetadata clear() {
        ipVersion = IpVersion.UNSPECIFIED;
        ipv4HeaderChecksum = false;
        tcpChecksum = false;
        udpChecksum = false;
        tcpSegmentation = false;
        tcpMss = 0;
        udpSegmentation = false;
        udpSegmentSize = 0;
        l2Length = 0;
        l3Length = 0;
        l4Length = 0;
        tcpEcn = false;
        clearOutcome();
        return this;
    }

    void clearOutcome() {
        refusal = null;
        refusalFormat = null;
        frameChanged = false;
    }

    /** Records a refusal: a constant format with up to two {@code %d} values (no allocation). */
    void refuse(FrameException.Reason reason, String format, long a, long b) {
        refusal = reason;
        refusalFormat = format;
        refusalA = a;
        refusalB = b;
    }

    void frameChanged(boolean changed) {
        frameChanged = changed;
    }

    /**
     * Why the last {@link OffloadTranslation#buildTxHeader} refused the frame.
     *
     * @return the rule the frame broke, or null if the last translation accepted it (or none ran
     *         since {@link #clear()})
     */
    public FrameException.Reason refusal() {
        return refusal;
    }

    /**
     * A description of the last refusal naming the field and the values involved, for a log line.
     * Allocates: call it when a refusal is reported, not per frame.
     *
     * @return the message, or null if the last translation accepted the frame
     */
    public String refusalMessage() {
        return refusal == null ? null : refusal + ": " + String.format(refusalFormat, refusalA, refusalB);
    }

    /**
     * The last refusal as an exception, for callers that prefer to throw (allocates, with a
     * stack trace).
     *
     * @return a new exception, or null if the last translation accepted the frame
     */
    public FrameException refusalException() {
        return refusal == null ? null : new FrameException(refusal, String.format(refusalFormat, refusalA, refusalB));
    }

    /**
     * Whether the last accepted translation changed the frame (a length, a seed or an IPv4 header
     * checksum that differed from what the guest wrote).
     *
     * @return whether the frame was changed; false after a refusal
     */
    public boolean frameChanged() {
        return frameChanged;
    }

    /**
     * Whether the guest asked for the ECN bit of a TCP segmentation header (its super-frame
     * carries CWR).
     *
     * @return the request
     */
    public boolean tcpEcn() {
        return tcpEcn;
    }

    /**
     * Asks for the ECN bit ({@code VIRTIO_NET_HDR_GSO_ECN}) of a TCP segmentation header: the
     * super-frame carries CWR, which only the first segment keeps. Only TCP segmentation uses it
     * (the kernel refuses the bit with any other GSO type); the translation also sets it by itself
     * when the frame's TCP header has CWR set.
     *
     * @param on whether to set it
     * @return this
     */
    public TxMetadata tcpEcn(boolean on) {
        this.tcpEcn = on;
        return this;
    }

    /**
     * The IP version of the frame.
     *
     * @return the version, never null
     */
    public IpVersion ipVersion() {
        return ipVersion;
    }

    /**
     * Sets the IP version; needed by every offload.
     *
     * @param version the version, not null
     * @return this
     */
    public TxMetadata ipVersion(IpVersion version) {
        this.ipVersion = Objects.requireNonNull(version, "version");
        return this;
    }

    /**
     * Whether the IPv4 header checksum is to be computed (in software).
     *
     * @return the request
     */
    public boolean ipv4HeaderChecksum() {
        return ipv4HeaderChecksum;
    }

    /**
     * Asks for the IPv4 header checksum; ignored for IPv6 frames.
     *
     * @param on whether to compute it
     * @return this
     */
    public TxMetadata ipv4HeaderChecksum(boolean on) {
        this.ipv4HeaderChecksum = on;
        return this;
    }

    /**
     * Whether the TCP checksum is to be completed.
     *
     * @return the request
     */
    public boolean tcpChecksum() {
        return tcpChecksum;
    }

    /**
     * Asks for the TCP checksum. The translation writes the pseudo-header seed (with the TCP length
     * and the final destination) into the L4 checksum field; the guest's seed is not trusted.
     *
     * @param on whether to offload it
     * @return this
     */
    public TxMetadata tcpChecksum(boolean on) {
        this.tcpChecksum = on;
        return this;
    }

    /**
     * Whether the UDP checksum is to be completed.
     *
     * @return the request
     */
    public boolean udpChecksum() {
        return udpChecksum;
    }

    /**
     * Asks for the UDP checksum. The translation writes the pseudo-header seed (with the UDP length
     * and the final destination) into the L4 checksum field; the guest's seed is not trusted.
     *
     * @param on whether to offload it
     * @return this
     */
    public TxMetadata udpChecksum(boolean on) {
        this.udpChecksum = on;
        return this;
    }

    /**
     * Whether TCP segmentation was asked.
     *
     * @return the request
     */
    public boolean tcpSegmentation() {
        return tcpSegmentation;
    }

    /**
     * The TCP maximum segment size for segmentation.
     *
     * @return the MSS in bytes
     */
    public int tcpMss() {
        return tcpMss;
    }

    /**
     * Asks for TCP segmentation (which implies the TCP checksum) with a maximum segment size.
     *
     * @param mss TCP payload bytes per segment; 0 is refused by the translation
     * @return this
     * @throws IllegalArgumentException if {@code mss} is negative
     */
    public TxMetadata tcpSegmentation(int mss) {
        this.tcpSegmentation = true;
        this.tcpMss = nonNegative(mss, "mss");
        return this;
    }

    /**
     * Whether UDP segmentation was asked.
     *
     * @return the request
     */
    public boolean udpSegmentation() {
        return udpSegmentation;
    }

    /**
     * The UDP payload size per segment.
     *
     * @return bytes per segment
     */
    public int udpSegmentSize() {
        return udpSegmentSize;
    }

    /**
     * Asks for UDP segmentation (which implies the UDP checksum) with a payload size per segment.
     *
     * @param size UDP payload bytes per segment; 0 is refused by the translation
     * @return this
     * @throws IllegalArgumentException if {@code size} is negative
     */
    public TxMetadata udpSegmentation(int size) {
        this.udpSegmentation = true;
        this.udpSegmentSize = nonNegative(size, "size");
        return this;
    }

    /**
     * The L2 header length.
     *
     * @return bytes
     */
    public int l2Length() {
        return l2Length;
    }

    /**
     * Sets the L2 header length: 14 for Ethernet, 18 with one VLAN tag, 0 in TUN mode.
     *
     * @param length bytes
     * @return this
     * @throws IllegalArgumentException if negative
     */
    public TxMetadata l2Length(int length) {
        this.l2Length = nonNegative(length, "l2Length");
        return this;
    }

    /**
     * The L3 header length.
     *
     * @return bytes
     */
    public int l3Length() {
        return l3Length;
    }

    /**
     * Sets the L3 header length: IHL * 4 for IPv4, 40 plus extension headers for IPv6.
     *
     * @param length bytes
     * @return this
     * @throws IllegalArgumentException if negative
     */
    public TxMetadata l3Length(int length) {
        this.l3Length = nonNegative(length, "l3Length");
        return this;
    }

    /**
     * The L4 header length.
     *
     * @return bytes; 0 means "take it from the frame"
     */
    public int l4Length() {
        return l4Length;
    }

    /**
     * Sets the L4 header length (TCP data offset * 4, or 8 for UDP). 0 lets the translation read
     * it from the frame.
     *
     * @param length bytes
     * @return this
     * @throws IllegalArgumentException if negative
     */
    public TxMetadata l4Length(int length) {
        this.l4Length = nonNegative(length, "l4Length");
        return this;
    }

    private static int nonNegative(int v, String name) {
        if (v < 0) {
            throw new IllegalArgumentException(name + " must not be negative: " + v);
        }
        return v;
    }

    /**
     * A description of every field, for diagnostics (allocates).
     *
     * @return a string naming every field and its value
     */
    @Override
    public String toString() {
        return "TxMetadata[ipVersion=" + ipVersion + ", ipv4HeaderChecksum=" + ipv4HeaderChecksum
                + ", tcpChecksum=" + tcpChecksum + ", udpChecksum=" + udpChecksum
                + ", tcpSegmentation=" + tcpSegmentation + ", tcpMss=" + tcpMss
                + ", udpSegmentation=" + udpSegmentation + ", udpSegmentSize=" + udpSegmentSize
                + ", tcpEcn=" + tcpEcn + ", l2=" + l2Length + ", l3=" + l3Length + ", l4=" + l4Length
                + (refusal != null ? ", refused=" + refusalMessage() : ", frameChanged=" + frameChanged) + "]";
    }
}
