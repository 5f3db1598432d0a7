package dev.nettap;

import dev.nettap.vnet.Checksums;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Frames the io_uring kernel tests build and answer: ARP and ICMP echo replies, ARP requests. */
final class RingFrames {
    private RingFrames() {}

    static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    static final ValueLayout.OfInt BE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    static final int ETH = 14;

    /** What a reply answered. */
    enum Kind { NONE, ARP, ECHO }

    /**
     * The reply a host at {@code mac}/{@code ip} owes to the {@code n}-byte frame at {@code rx}:
     * written to {@code out}; returns its length, 0 when the frame needs none. {@code kind[0]} says
     * which reply it is.
     */
    static int reply(MemorySegment rx, int n, MemorySegment out, byte[] mac, int ip, Kind[] kind) {
        kind[0] = Kind.NONE;
        if (n < ETH) {
            return 0;
        }
        int type = Short.toUnsignedInt(rx.get(BE16, 12));
        if (type == 0x0806 && n >= ETH + 28 && rx.get(BE16, ETH + 6) == 1 && rx.get(BE32, ETH + 24) == ip) {
            MemorySegment.copy(rx, 6, out, 0, 6);
            arp(out, mac, ip, 2);
            MemorySegment.copy(rx, ETH + 8, out, ETH + 18, 10); // requester's MAC and IP become the target
            kind[0] = Kind.ARP;
            return ETH + 28;
        }
        if (type == 0x0800 && n >= ETH + 28) {
            int ihl = (rx.get(ValueLayout.JAVA_BYTE, ETH) & 0x0f) * 4;
            int total = Short.toUnsignedInt(rx.get(BE16, ETH + 2));
            if (rx.get(ValueLayout.JAVA_BYTE, ETH + 9) != 1 || ihl < 20 || total < ihl + 8 || ETH + total > n
                    || rx.get(BE32, ETH + 16) != ip || rx.get(ValueLayout.JAVA_BYTE, ETH + ihl) != 8) {
                return 0;
            }
            MemorySegment.copy(rx, 0, out, 0, ETH + total);
            MemorySegment.copy(rx, 6, out, 0, 6);
            MemorySegment.copy(mac, 0, out, ValueLayout.JAVA_BYTE, 6, 6);
            out.set(BE32, ETH + 12, ip);
            out.set(BE32, ETH + 16, rx.get(BE32, ETH + 12));
            out.set(ValueLayout.JAVA_BYTE, ETH + 8, (byte) 64);
            Checksums.setIpv4HeaderChecksum(out, ETH);
            out.set(ValueLayout.JAVA_BYTE, ETH + ihl, (byte) 0); // echo reply
            out.set(BE16, ETH + ihl + 2, (short) 0);
            out.set(BE16, ETH + ihl + 2, (short) Checksums.checksum(out, ETH + ihl, total - ihl));
            kind[0] = Kind.ECHO;
            return ETH + total;
        }
        return 0;
    }

    /** A broadcast ARP request "who-has {@code targetIp} tell {@code ip}" from {@code mac}: 42 bytes at {@code out}. */
    static int arpRequest(MemorySegment out, byte[] mac, int ip, int targetIp) {
        for (int i = 0; i < 6; i++) {
            out.set(ValueLayout.JAVA_BYTE, i, (byte) 0xff);
        }
        arp(out, mac, ip, 1);
        for (int i = 0; i < 6; i++) {
            out.set(ValueLayout.JAVA_BYTE, ETH + 18 + i, (byte) 0);
        }
        out.set(BE32, ETH + 24, targetIp);
        return ETH + 28;
    }

    /**
     * The part of an Ethernet/IPv4 ARP frame a request and a reply share: source MAC, ethertype, the
     * fixed ARP header with operation {@code op} (1 request, 2 reply) and {@code mac}/{@code ip} as
     * the sender. The caller writes the destination MAC (bytes 0-5) and the target (ARP bytes 18-27).
     */
    private static void arp(MemorySegment out, byte[] mac, int ip, int op) {
        MemorySegment.copy(mac, 0, out, ValueLayout.JAVA_BYTE, 6, 6);
        out.set(BE16, 12, (short) 0x0806);
        out.set(BE16, ETH, (short) 1);
        out.set(BE16, ETH + 2, (short) 0x0800);
        out.set(ValueLayout.JAVA_BYTE, ETH + 4, (byte) 6);
        out.set(ValueLayout.JAVA_BYTE, ETH + 5, (byte) 4);
        out.set(BE16, ETH + 6, (short) op);
        MemorySegment.copy(mac, 0, out, ValueLayout.JAVA_BYTE, ETH + 8, 6);
        out.set(BE32, ETH + 14, ip);
    }

    /** True if the frame at {@code rx} is an ARP reply telling {@code ip} that {@code senderIp} is somewhere. */
    static boolean isArpReply(MemorySegment rx, int n, int senderIp, int ip) {
        return n >= ETH + 28 && rx.get(BE16, 12) == 0x0806 && rx.get(BE16, ETH + 6) == 2
                && rx.get(BE32, ETH + 14) == senderIp && rx.get(BE32, ETH + 24) == ip;
    }
}
