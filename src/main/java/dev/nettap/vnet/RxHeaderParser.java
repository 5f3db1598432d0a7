package dev.nettap.vnet;

import dev.nettap.vnet.FrameException.Reason;
import dev.nettap.vnet.RxMetadata.ChecksumState;
import dev.nettap.vnet.RxMetadata.L4Protocol;
import dev.nettap.vnet.VirtioNetHdr.Flag;
import dev.nettap.vnet.VirtioNetHdr.GsoType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The RX side of the translation behind {@link OffloadTranslation#parseRxHeader} and
 * {@link OffloadTranslation#completeChecksum}: a received frame's virtio-net header read into
 * {@link RxMetadata} (the header length recomputed from the frame, never taken from
 * {@code hdr_len}), and a partial L4 checksum finished in software. The facade's javadoc is the
 * contract.
 *
 * <p><b>Invariants.</b> Every field is validated before anything is written: a
 * {@link FrameException} leaves the metadata (and, for {@link #completeChecksum}, the frame) as it
 * was. Each frame read is bounded by a check against the frame's size first. A well-formed frame
 * allocates nothing; the exceptions (the frame came from the kernel, not the guest) carry built
 * messages.
 *
 * <p><b>Threading.</b> Stateless: static methods only, safe from any thread; the header, the frame
 * and the metadata belong to the calling thread for the duration of a call.
 */
final class RxHeaderParser {

    private static final ValueLayout.OfShort BE16 =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final int TCP_CSUM_OFFSET = 16;
    private static final int UDP_CSUM_OFFSET = 6;

    private RxHeaderParser() {
    }

    /** {@link OffloadTranslation#parseRxHeader}: validates the header against the frame, then fills {@code md}. */
    static void parse(MemorySegment hdr, MemorySegment frame, RxMetadata md) {
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
     * {@link OffloadTranslation#completeChecksum}: sums from the partial start, stores the
     * complement, marks the L4 checksum good.
     */
    static boolean completeChecksum(RxMetadata md, MemorySegment frame) {
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
