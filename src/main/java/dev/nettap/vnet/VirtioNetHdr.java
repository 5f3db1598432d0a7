package dev.nettap.vnet;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Static accessors over a {@code struct virtio_net_hdr} held in a {@link MemorySegment}: the 12-byte
 * v1 layout ({@code flags}, {@code gso_type}, {@code hdr_len}, {@code gso_size},
 * {@code csum_start}, {@code csum_offset}, {@code num_buffers}), all little-endian. The first
 * {@value #LEGACY_SIZE} bytes are the legacy layout, so every accessor but those of
 * {@code num_buffers} also works on a 10-byte header.
 *
 * <p>Segments: every accessor needs at least {@link #LEGACY_SIZE} bytes, the {@code num_buffers}
 * accessors {@link #SIZE}; a smaller segment gets a {@link FrameException} with reason
 * {@link FrameException.Reason#HEADER_TOO_SMALL}. Heap and native segments both work, at any
 * alignment. Allocate one with {@code arena.allocate(VirtioNetHdr.LAYOUT)}.
 *
 * <p>This class holds no state: it is thread-safe, and a segment shared between threads needs the
 * caller's own synchronization. No accessor allocates.
 */
public final class VirtioNetHdr {

    /** Size in bytes of the v1 header, with {@code num_buffers}. */
    public static final int SIZE = 12;
    /** Size in bytes of the legacy header, without {@code num_buffers}. */
    public static final int LEGACY_SIZE = 10;

    private static final ValueLayout.OfShort U16 =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 =
            ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The 12-byte v1 layout, byte-aligned, little-endian fields. */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            ValueLayout.JAVA_BYTE.withName("flags"),
            ValueLayout.JAVA_BYTE.withName("gso_type"),
            U16.withName("hdr_len"),
            U16.withName("gso_size"),
            U16.withName("csum_start"),
            U16.withName("csum_offset"),
            U16.withName("num_buffers")).withName("virtio_net_hdr_v1");

    private static final long FLAGS = 0;
    private static final long GSO_TYPE = 1;
    private static final long HDR_LEN = 2;
    private static final long GSO_SIZE = 4;
    private static final long CSUM_START = 6;
    private static final long CSUM_OFFSET = 8;
    private static final long NUM_BUFFERS = 10;
    private static final int ECN_BIT = 0x80;

    /** A bit of the {@code flags} field. */
    public enum Flag {
        /** {@code VIRTIO_NET_HDR_F_NEEDS_CSUM}: the L4 checksum is partial, from {@code csum_start}. */
        NEEDS_CSUM(1),
        /** {@code VIRTIO_NET_HDR_F_DATA_VALID}: the receiver validated the checksum. */
        DATA_VALID(2);

        private final int bit;

        Flag(int bit) {
            this.bit = bit;
        }

        /**
         * The bit's value in the {@code flags} byte.
         *
         * @return 1 or 2
         */
        public int bit() {
            return bit;
        }
    }

    /** The protocol part of the {@code gso_type} field (the ECN bit is separate). */
    public enum GsoType {
        /** {@code VIRTIO_NET_HDR_GSO_NONE}: not a GSO frame. */
        NONE(0),
        /** {@code VIRTIO_NET_HDR_GSO_TCPV4}: TCP segmentation over IPv4. */
        TCPV4(1),
        /** {@code VIRTIO_NET_HDR_GSO_UDP}: UDP fragmentation offload (UFO); accepted, obsolete. */
        UDP(3),
        /** {@code VIRTIO_NET_HDR_GSO_TCPV6}: TCP segmentation over IPv6. */
        TCPV6(4),
        /** {@code VIRTIO_NET_HDR_GSO_UDP_L4}: UDP segmentation (USO), IPv4 or IPv6. */
        UDP_L4(5);

        private static final GsoType[] BY_CODE = {NONE, TCPV4, null, UDP, TCPV6, UDP_L4};

        private final int code;

        GsoType(int code) {
            this.code = code;
        }

        /**
         * The value in the {@code gso_type} field, without the ECN bit.
         *
         * @return 0, 1, 3, 4 or 5
         */
        public int code() {
            return code;
        }

        /**
         * The type with a given code.
         *
         * @param code a {@code gso_type} value with the ECN bit cleared
         * @return the type
         * @throws FrameException with {@link FrameException.Reason#BAD_HEADER_FIELD} for an
         *                        unknown code
         */
        public static GsoType ofCode(int code) {
            GsoType t = code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
            if (t == null) {
                throw new FrameException(FrameException.Reason.BAD_HEADER_FIELD,
                        "gso_type " + code + " is not one of 0, 1, 3, 4, 5");
            }
            return t;
        }
    }

    private VirtioNetHdr() {
    }

    static void requireSize(MemorySegment hdr, long size) {
        if (hdr.byteSize() < size) {
            throw new FrameException(FrameException.Reason.HEADER_TOO_SMALL,
                    "virtio-net header segment has " + hdr.byteSize() + " bytes, needs " + size);
        }
    }

    /**
     * Zeroes the header: no flags, no GSO, every length 0. Writes {@value #SIZE} bytes when the
     * segment has them, otherwise {@value #LEGACY_SIZE}.
     *
     * @param hdr a header segment of at least {@value #LEGACY_SIZE} bytes
     */
    public static void clear(MemorySegment hdr) {
        requireSize(hdr, LEGACY_SIZE);
        hdr.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, 0L);
        hdr.set(U16, CSUM_OFFSET, (short) 0);
        if (hdr.byteSize() >= SIZE) {
            hdr.set(U16, NUM_BUFFERS, (short) 0);
        }
    }

    /**
     * Writes a whole header at once (two stores, little-endian): {@code flags} holds
     * {@code NEEDS_CSUM} or nothing, {@code DATA_VALID} is clear, {@code num_buffers} is 0 when the
     * segment has {@value #SIZE} bytes. The same result as {@link #clear} followed by every setter,
     * for a transmit path that builds one header per frame.
     *
     * @param hdr        a header segment of at least {@value #LEGACY_SIZE} bytes
     * @param needsCsum  whether to set {@code NEEDS_CSUM}
     * @param gsoType    the GSO protocol, not null
     * @param ecn        whether to set the ECN bit of {@code gso_type}
     * @param hdrLen     {@code hdr_len}, {@code [0, 0xFFFF]}
     * @param gsoSize    {@code gso_size}, {@code [0, 0xFFFF]}
     * @param csumStart  {@code csum_start}, {@code [0, 0xFFFF]}
     * @param csumOffset {@code csum_offset}, {@code [0, 0xFFFF]}
     * @throws FrameException with {@link FrameException.Reason#FIELD_OVERFLOW} naming the first
     *                        field out of range; nothing is written then
     */
    public static void set(MemorySegment hdr, boolean needsCsum, GsoType gsoType, boolean ecn, int hdrLen,
                           int gsoSize, int csumStart, int csumOffset) {
        boolean v1 = hdr.byteSize() >= SIZE;
        if (!v1) {
            requireSize(hdr, LEGACY_SIZE);
        }
        if (((hdrLen | gsoSize | csumStart | csumOffset) & ~0xFFFF) != 0) {
            checkU16(hdrLen, "hdr_len");
            checkU16(gsoSize, "gso_size");
            checkU16(csumStart, "csum_start");
            checkU16(csumOffset, "csum_offset");
        }
        long w = (needsCsum ? Flag.NEEDS_CSUM.bit : 0)
                | (long) (gsoType.code | (ecn ? ECN_BIT : 0)) << 8
                | (long) hdrLen << 16
                | (long) gsoSize << 32
                | (long) csumStart << 48;
        // Stores at constant offsets into a constant-size slice: no range check per store.
        if (v1) {
            MemorySegment h = hdr.asSlice(0, SIZE);
            h.set(U64, FLAGS, w);
            h.set(U32, CSUM_OFFSET, csumOffset); // csum_offset, and num_buffers 0
        } else {
            MemorySegment h = hdr.asSlice(0, LEGACY_SIZE);
            h.set(U64, FLAGS, w);
            h.set(U16, CSUM_OFFSET, (short) csumOffset);
        }
    }

    /**
     * Reads a whole header at once into a caller-owned holder (one 8-byte and one 2- or 4-byte
     * load): the same values as every getter called in turn, for a receive path that parses one
     * header per frame.
     *
     * @param hdr a header segment of at least {@value #LEGACY_SIZE} bytes; {@code num_buffers} is
     *            read when it has {@value #SIZE}, otherwise reported as 0
     * @param out the holder to fill, not null
     * @return {@code out}
     * @throws FrameException with {@link FrameException.Reason#HEADER_TOO_SMALL} for a segment
     *                        under {@value #LEGACY_SIZE} bytes or
     *                        {@link FrameException.Reason#BAD_HEADER_FIELD} for an unknown GSO type;
     *                        {@code out} is unchanged then
     */
    public static Fields read(MemorySegment hdr, Fields out) {
        long w;
        int tail;
        if (hdr.byteSize() >= SIZE) {
            MemorySegment h = hdr.asSlice(0, SIZE);
            w = h.get(U64, FLAGS);
            tail = h.get(U32, CSUM_OFFSET);
        } else {
            requireSize(hdr, LEGACY_SIZE);
            MemorySegment h = hdr.asSlice(0, LEGACY_SIZE);
            w = h.get(U64, FLAGS);
            tail = h.get(U16, CSUM_OFFSET) & 0xFFFF;
        }
        int gso = (int) (w >>> 8) & 0xFF;
        GsoType.ofCode(gso & ~ECN_BIT); // validates; the holder keeps the byte (no reference store)
        out.flags = (int) w & 0xFF;
        out.gso = gso;
        out.hdrLen = (int) (w >>> 16) & 0xFFFF;
        out.gsoSize = (int) (w >>> 32) & 0xFFFF;
        out.csumStart = (int) (w >>> 48);
        out.csumOffset = tail & 0xFFFF;
        out.numBuffers = tail >>> 16;
        return out;
    }

    /**
     * Every field of a header, as {@link #read} decodes it: mutable, caller-owned, reused per frame.
     * Not thread-safe.
     */
    public static final class Fields {
        private int flags;
        private int gso;
        private int hdrLen;
        private int gsoSize;
        private int csumStart;
        private int csumOffset;
        private int numBuffers;

        /** An empty holder: no flags, GSO {@code NONE}, every length 0. */
        public Fields() {
        }

        /**
         * Whether a flag is set.
         *
         * @param flag the flag
         * @return whether its bit is set
         */
        public boolean hasFlag(Flag flag) {
            return (flags & flag.bit) != 0;
        }

        /**
         * Whether the {@code flags} byte holds bits other than {@code NEEDS_CSUM} and
         * {@code DATA_VALID}.
         *
         * @return whether an unknown flag bit is set
         */
        public boolean hasUnknownFlags() {
            return (flags & ~(Flag.NEEDS_CSUM.bit | Flag.DATA_VALID.bit)) != 0;
        }

        /** {@return the GSO protocol, ECN bit ignored} */
        public GsoType gsoType() {
            return GsoType.BY_CODE[gso & ~ECN_BIT];
        }

        /** {@return whether the ECN bit of {@code gso_type} is set} */
        public boolean gsoEcn() {
            return (gso & ECN_BIT) != 0;
        }

        /** {@return {@code hdr_len}, unsigned 16-bit} */
        public int hdrLen() {
            return hdrLen;
        }

        /** {@return {@code gso_size}, unsigned 16-bit} */
        public int gsoSize() {
            return gsoSize;
        }

        /** {@return {@code csum_start}, unsigned 16-bit} */
        public int csumStart() {
            return csumStart;
        }

        /** {@return {@code csum_offset}, unsigned 16-bit} */
        public int csumOffset() {
            return csumOffset;
        }

        /** {@return {@code num_buffers}, unsigned 16-bit; 0 for a legacy 10-byte header} */
        public int numBuffers() {
            return numBuffers;
        }
    }

    private static void checkU16(int value, String field) {
        if ((value & ~0xFFFF) != 0) {
            throw new FrameException(FrameException.Reason.FIELD_OVERFLOW,
                    field + " = " + value + " does not fit 16 bits");
        }
    }

    /**
     * Whether a flag is set.
     *
     * @param hdr  a header segment of at least {@value #LEGACY_SIZE} bytes
     * @param flag the flag
     * @return whether its bit is set
     */
    public static boolean hasFlag(MemorySegment hdr, Flag flag) {
        requireSize(hdr, LEGACY_SIZE);
        return (hdr.get(ValueLayout.JAVA_BYTE, FLAGS) & flag.bit) != 0;
    }

    /**
     * Sets or clears one flag, leaving the others.
     *
     * @param hdr  a header segment of at least {@value #LEGACY_SIZE} bytes
     * @param flag the flag
     * @param on   whether to set it
     */
    public static void setFlag(MemorySegment hdr, Flag flag, boolean on) {
        requireSize(hdr, LEGACY_SIZE);
        int f = hdr.get(ValueLayout.JAVA_BYTE, FLAGS) & 0xFF;
        hdr.set(ValueLayout.JAVA_BYTE, FLAGS, (byte) (on ? f | flag.bit : f & ~flag.bit));
    }

    /**
     * Whether the {@code flags} byte holds bits this class does not name (e.g. a newer
     * {@code RSC_INFO}), which a careful reader refuses.
     *
     * @param hdr a header segment of at least {@value #LEGACY_SIZE} bytes
     * @return whether any bit other than {@code NEEDS_CSUM} and {@code DATA_VALID} is set
     */
    public static boolean hasUnknownFlags(MemorySegment hdr) {
        requireSize(hdr, LEGACY_SIZE);
        return (hdr.get(ValueLayout.JAVA_BYTE, FLAGS) & ~(Flag.NEEDS_CSUM.bit | Flag.DATA_VALID.bit)) != 0;
    }

    /**
     * The GSO protocol.
     *
     * @param hdr a header segment of at least {@value #LEGACY_SIZE} bytes
     * @return the type, ECN bit ignored
     * @throws FrameException with {@link FrameException.Reason#BAD_HEADER_FIELD} for an unknown type
     */
    public static GsoType gsoType(MemorySegment hdr) {
        requireSize(hdr, LEGACY_SIZE);
        return GsoType.ofCode(hdr.get(ValueLayout.JAVA_BYTE, GSO_TYPE) & ~ECN_BIT & 0xFF);
    }

    /**
     * Whether the ECN bit ({@code VIRTIO_NET_HDR_GSO_ECN}, 0x80) of {@code gso_type} is set: the
     * super-frame carries CWR and segments after the first must keep it.
     *
     * @param hdr a header segment of at least {@value #LEGACY_SIZE} bytes
     * @return whether the ECN bit is set
     */
    public static boolean gsoEcn(MemorySegment hdr) {
        requireSize(hdr, LEGACY_SIZE);
        return (hdr.get(ValueLayout.JAVA_BYTE, GSO_TYPE) & ECN_BIT) != 0;
    }

    /**
     * Writes {@code gso_type}.
     *
     * @param hdr  a header segment of at least {@value #LEGACY_SIZE} bytes
     * @param type the protocol, not null
     * @param ecn  whether to set the ECN bit
     */
    public static void setGso(MemorySegment hdr, GsoType type, boolean ecn) {
        requireSize(hdr, LEGACY_SIZE);
        hdr.set(ValueLayout.JAVA_BYTE, GSO_TYPE, (byte) (type.code | (ecn ? ECN_BIT : 0)));
    }

    /**
     * {@code hdr_len}: on TX, the length of the headers up to the end of L4; on RX only a hint,
     * which {@link OffloadTranslation} does not trust.
     *
     * @param hdr a header segment of at least {@value #LEGACY_SIZE} bytes
     * @return the unsigned 16-bit value
     */
    public static int hdrLen(MemorySegment hdr) {
        return u16(hdr, HDR_LEN);
    }

    /**
     * Writes {@code hdr_len}.
     *
     * @param hdr   a header segment of at least {@value #LEGACY_SIZE} bytes
     * @param value {@code [0, 0xFFFF]}
     * @throws FrameException with {@link FrameException.Reason#FIELD_OVERFLOW} if out of range
     */
    public static void setHdrLen(MemorySegment hdr, int value) {
        setU16(hdr, HDR_LEN, value, "hdr_len");
    }

    /**
     * {@code gso_size}: the payload bytes per segment (MSS for TCP).
     *
     * @param hdr a header segment of at least {@value #LEGACY_SIZE} bytes
     * @return the unsigned 16-bit value
     */
    public static int gsoSize(MemorySegment hdr) {
        return u16(hdr, GSO_SIZE);
    }

    /**
     * Writes {@code gso_size}.
     *
     * @param hdr   a header segment of at least {@value #LEGACY_SIZE} bytes
     * @param value {@code [0, 0xFFFF]}
     * @throws FrameException with {@link FrameException.Reason#FIELD_OVERFLOW} if out of range
     */
    public static void setGsoSize(MemorySegment hdr, int value) {
        setU16(hdr, GSO_SIZE, value, "gso_size");
    }

    /**
     * {@code csum_start}: where checksumming starts, counted from the start of the frame (so it
     * includes the Ethernet header in TAP mode).
     *
     * @param hdr a header segment of at least {@value #LEGACY_SIZE} bytes
     * @return the unsigned 16-bit value
     */
    public static int csumStart(MemorySegment hdr) {
        return u16(hdr, CSUM_START);
    }

    /**
     * Writes {@code csum_start}.
     *
     * @param hdr   a header segment of at least {@value #LEGACY_SIZE} bytes
     * @param value {@code [0, 0xFFFF]}
     * @throws FrameException with {@link FrameException.Reason#FIELD_OVERFLOW} if out of range
     */
    public static void setCsumStart(MemorySegment hdr, int value) {
        setU16(hdr, CSUM_START, value, "csum_start");
    }

    /**
     * {@code csum_offset}: where the checksum is stored, counted from {@code csum_start}
     * (16 for TCP, 6 for UDP).
     *
     * @param hdr a header segment of at least {@value #LEGACY_SIZE} bytes
     * @return the unsigned 16-bit value
     */
    public static int csumOffset(MemorySegment hdr) {
        return u16(hdr, CSUM_OFFSET);
    }

    /**
     * Writes {@code csum_offset}.
     *
     * @param hdr   a header segment of at least {@value #LEGACY_SIZE} bytes
     * @param value {@code [0, 0xFFFF]}
     * @throws FrameException with {@link FrameException.Reason#FIELD_OVERFLOW} if out of range
     */
    public static void setCsumOffset(MemorySegment hdr, int value) {
        setU16(hdr, CSUM_OFFSET, value, "csum_offset");
    }

    /**
     * {@code num_buffers} (v1 header only): receive buffers merged for this frame.
     *
     * @param hdr a header segment of at least {@value #SIZE} bytes
     * @return the unsigned 16-bit value
     */
    public static int numBuffers(MemorySegment hdr) {
        requireSize(hdr, SIZE);
        return hdr.get(U16, NUM_BUFFERS) & 0xFFFF;
    }

    /**
     * Writes {@code num_buffers} (v1 header only).
     *
     * @param hdr   a header segment of at least {@value #SIZE} bytes
     * @param value {@code [0, 0xFFFF]}
     * @throws FrameException with {@link FrameException.Reason#FIELD_OVERFLOW} if out of range
     */
    public static void setNumBuffers(MemorySegment hdr, int value) {
        requireSize(hdr, SIZE);
        setU16(hdr, NUM_BUFFERS, value, "num_buffers");
    }

    private static int u16(MemorySegment hdr, long offset) {
        requireSize(hdr, LEGACY_SIZE);
        return hdr.get(U16, offset) & 0xFFFF;
    }

    private static void setU16(MemorySegment hdr, long offset, int value, String field) {
        requireSize(hdr, LEGACY_SIZE);
        checkU16(value, field);
        hdr.set(U16, offset, (short) value);
    }
}
