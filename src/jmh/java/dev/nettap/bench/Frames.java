package dev.nettap.bench;

import dev.nettap.vnet.Checksums;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The frames the TAP benchmarks write, byte for byte the ones {@code src/jmh/c/tapwrite.c} builds:
 * IPv4/UDP to 10.99.9.9 behind MAC 02:00:00:00:00:99 (no such host: the kernel drops them after
 * parsing), and a 64 KiB TCP GSO super-frame whose header carries {@code gso_type TCPV4}.
 */
final class Frames {
    private Frames() {}

    static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt BE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    /** Size of the GSO case: a full 65535-byte IPv4 packet behind its Ethernet header. */
    static final int GSO_FRAME = 14 + 65535;

    /** Fills {@code frame} (its whole size) and {@code hdr} (12 bytes) for one benchmark case. */
    static void build(MemorySegment frame, MemorySegment hdr) {
        int size = (int) frame.byteSize();
        boolean gso = size == GSO_FRAME;
        frame.fill((byte) 0x5a);
        hdr.fill((byte) 0);
        byte[] dst = {2, 0, 0, 0, 0, (byte) 0x99};
        byte[] src = {2, 0, 0, 0, 0, 1};
        MemorySegment.copy(dst, 0, frame, ValueLayout.JAVA_BYTE, 0, 6);
        MemorySegment.copy(src, 0, frame, ValueLayout.JAVA_BYTE, 6, 6);
        frame.set(BE16, 12, (short) 0x0800);
        frame.set(ValueLayout.JAVA_BYTE, 14, (byte) 0x45);
        frame.set(ValueLayout.JAVA_BYTE, 15, (byte) 0);
        frame.set(BE16, 16, (short) (size - 14));
        frame.set(BE32, 18, 0);
        frame.set(ValueLayout.JAVA_BYTE, 22, (byte) 64);
        frame.set(ValueLayout.JAVA_BYTE, 23, (byte) (gso ? 6 : 17));
        frame.set(BE32, 26, 0x0a630001);
        frame.set(BE32, 30, 0x0a630909);
        frame.set(BE16, 24, (short) 0);
        Checksums.setIpv4HeaderChecksum(frame, 14);
        if (gso) {
            frame.set(BE16, 34, (short) 40000);
            frame.set(BE16, 36, (short) 5001);
            frame.set(BE32, 38, 1);
            frame.set(BE32, 42, 0);
            frame.set(ValueLayout.JAVA_BYTE, 46, (byte) 0x50); // data offset 5
            frame.set(ValueLayout.JAVA_BYTE, 47, (byte) 0x18); // PSH|ACK
            frame.set(BE16, 48, (short) 65535);
            frame.set(BE16, 50, (short) Checksums.pseudoHeaderSumIpv4(frame, 14, 6, size - 34));
            frame.set(BE16, 52, (short) 0);
            hdr.set(ValueLayout.JAVA_BYTE, 0, (byte) 1);  // NEEDS_CSUM
            hdr.set(ValueLayout.JAVA_BYTE, 1, (byte) 1);  // GSO TCPV4
            hdr.set(LE16, 2, (short) 54);                 // hdr_len
            hdr.set(LE16, 4, (short) 1448);               // gso_size
            hdr.set(LE16, 6, (short) 34);                 // csum_start
            hdr.set(LE16, 8, (short) 16);                 // csum_offset
        } else {
            frame.set(BE16, 34, (short) 40000);
            frame.set(BE16, 36, (short) 9);
            frame.set(BE16, 38, (short) (size - 34));
            frame.set(BE16, 40, (short) 0); // no UDP checksum
        }
    }
}
