package dev.nettap.tool;

import dev.nettap.Tap;
import dev.nettap.vnet.Checksums;
import dev.nettap.vnet.VirtioNetHdr;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.HexFormat;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * A tiny host behind a TAP: answers ARP requests for its IPv4 address and ICMP echo requests sent
 * to it, and describes every frame it sees. Used by the demo and by the kernel tests, so what the
 * kernel's {@code ping} gets back went through nettap's frame path both ways.
 *
 * <p>Not thread-safe: one thread runs {@link #run}. Owns its buffers (closed by {@link #close()});
 * does not own the {@link Tap}.
 */
public final class EchoResponder implements AutoCloseable {
    private static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt BE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final int ETH = 14;

    private final Tap tap;
    private final byte[] mac;
    private final int ip;
    private final int l2;      // 14 in TAP mode, 0 in TUN mode (IP packets)
    private byte[] ip6;        // answered when set: see ipv6(byte[])
    private final Arena arena = Arena.ofShared();
    private final MemorySegment rxHdr = arena.allocate(VirtioNetHdr.SIZE);
    private final MemorySegment txHdr = arena.allocate(VirtioNetHdr.SIZE); // all zero: no offload
    private final MemorySegment rx = arena.allocate(65535);
    private final MemorySegment tx = arena.allocate(65535);
    private final MemorySegment[] rxParts; // scatter mode: three separate buffers; null otherwise
    private final MemorySegment[] txParts = new MemorySegment[3];
    private long arpReplies;
    private long echoReplies;
    private long frames;

    /**
     * @param tap the TAP queue to serve (TAP mode)
     * @param mac this host's MAC address, 6 bytes
     * @param ip  this host's IPv4 address, as a big-endian int
     */
    public EchoResponder(Tap tap, byte[] mac, int ip) {
        this(tap, mac, ip, false);
    }

    /**
     * @param tap     the TAP queue to serve (TAP mode)
     * @param mac     this host's MAC address, 6 bytes
     * @param ip      this host's IPv4 address, as a big-endian int
     * @param scatter read every frame into three separate buffers (6, 8 and the rest, so the
     *                Ethernet header itself is split) and write every reply from three segments
     */
    public EchoResponder(Tap tap, byte[] mac, int ip, boolean scatter) {
        this.rxParts = scatter ? new MemorySegment[] {arena.allocate(6), arena.allocate(8), arena.allocate(65535 - 14)} : null;
        if (mac.length != 6) {
            throw new IllegalArgumentException("MAC address must be 6 bytes");
        }
        this.tap = tap;
        this.mac = mac.clone();
        this.ip = ip;
        this.l2 = tap.mode() == dev.nettap.TapMode.TUN ? 0 : ETH;
    }

    /**
     * Also answers ICMPv6 echo requests to {@code address} (TUN mode: no neighbour discovery is
     * answered, so in TAP mode the kernel needs a static neighbour entry).
     *
     * @param address 16 bytes
     * @return this
     */
    public EchoResponder ipv6(byte[] address) {
        if (address.length != 16) {
            throw new IllegalArgumentException("IPv6 address must be 16 bytes");
        }
        this.ip6 = address.clone();
        return this;
    }

    /** {@return ARP replies sent} */
    public long arpReplies() {
        return arpReplies;
    }

    /** {@return ICMP echo replies sent} */
    public long echoReplies() {
        return echoReplies;
    }

    /** {@return frames read} */
    public long frames() {
        return frames;
    }

    /**
     * Serves until {@code stop} says so or the TAP is closed or gone, waking at least every 100 ms
     * to check.
     *
     * @param stop checked between frames
     * @param log  receives one line per frame seen
     */
    public void run(BooleanSupplier stop, Consumer<String> log) {
        try {
            serve(stop, log);
        } catch (IllegalStateException e) {
            if (!tap.isClosed()) {
                throw e;
            } // closed under us (shutdown): that ends the run
        }
    }

    private void serve(BooleanSupplier stop, Consumer<String> log) {
        while (!stop.getAsBoolean()) {
            long w = tap.awaitReadable(Duration.ofMillis(100));
            if (w == Tap.CLOSED || w == Tap.DEVICE_GONE) {
                return;
            }
            while (true) {
                long n = rxParts == null ? tap.read(rxHdr, rx) : readScattered();
                if (n == Tap.POSSIBLY_TRUNCATED) {
                    frames++;
                    log.accept("a frame filled every buffer: possibly truncated (ignored)");
                    continue;
                }
                if (n < 0) {
                    if (n == Tap.DEVICE_GONE) {
                        return;
                    }
                    break;
                }
                frames++;
                log.accept(handle((int) n));
            }
        }
    }

    private long readScattered() {
        long n = tap.read(rxHdr, rxParts, 3);
        if (n > 0) { // parse from one place: gather the parts (the frame path itself copied nothing)
            long off = 0;
            for (MemorySegment part : rxParts) {
                long len = Math.min(part.byteSize(), n - off);
                if (len <= 0) {
                    break;
                }
                MemorySegment.copy(part, 0, rx, off, len);
                off += len;
            }
        }
        return n;
    }

    private long send(MemorySegment frame) {
        if (rxParts == null || frame.byteSize() < 15) {
            return tap.write(txHdr, frame);
        }
        txParts[0] = frame.asSlice(0, 6);
        txParts[1] = frame.asSlice(6, 8);
        txParts[2] = frame.asSlice(14);
        return tap.write(txHdr, txParts, 3);
    }

    /** Handles the frame of {@code n} bytes in {@code rx}; returns its description. */
    String handle(int n) {
        if (l2 == 0) { // TUN: an IP packet, its version in the first nibble
            int version = n > 0 ? (rx.get(ValueLayout.JAVA_BYTE, 0) & 0xff) >>> 4 : 0;
            return version == 4 ? handleIp4(n, "") : version == 6 ? handleIp6(n, "")
                    : "packet of " + n + " bytes, IP version " + version + " (ignored)";
        }
        if (n < ETH) {
            return "runt frame of " + n + " bytes";
        }
        int type = Short.toUnsignedInt(rx.get(BE16, 12));
        String head = mac(rx, 6) + " > " + mac(rx, 0) + " ";
        if (type == 0x0806 && n >= ETH + 28) {
            int op = Short.toUnsignedInt(rx.get(BE16, ETH + 6));
            int spa = rx.get(BE32, ETH + 14);
            int tpa = rx.get(BE32, ETH + 24);
            String d = head + "ARP " + (op == 1 ? "who-has " + ip(tpa) + " tell " + ip(spa) : "op " + op);
            if (op == 1 && tpa == ip) {
                long r = send(arpReply(spa));
                arpReplies += r > 0 ? 1 : 0;
                return d + " -> replied " + ip(ip) + " is-at " + mac(MemorySegment.ofArray(mac), 0) + status(r);
            }
            return d;
        }
        if (type == 0x0800) {
            return handleIp4(n, head);
        }
        if (type == 0x86dd) {
            return handleIp6(n, head);
        }
        return head + "ethertype 0x" + Integer.toHexString(type) + ", " + n + " bytes (ignored)";
    }

    private String handleIp4(int n, String head) {
        final int at = l2; // the IP header's offset in this mode
        if (n >= at + 20) {
            int ihl = (rx.get(ValueLayout.JAVA_BYTE, at) & 0x0f) * 4;
            int total = Short.toUnsignedInt(rx.get(BE16, at + 2));
            int proto = rx.get(ValueLayout.JAVA_BYTE, at + 9) & 0xff;
            int src = rx.get(BE32, at + 12);
            int dst = rx.get(BE32, at + 16);
            String d = head + "IPv4 " + ip(src) + " > " + ip(dst) + " proto " + proto + " len " + total;
            if (proto == 1 && ihl >= 20 && total >= ihl + 8 && at + total <= n) {
                int icmpType = rx.get(ValueLayout.JAVA_BYTE, at + ihl) & 0xff;
                int id = Short.toUnsignedInt(rx.get(BE16, at + ihl + 4));
                int seq = Short.toUnsignedInt(rx.get(BE16, at + ihl + 6));
                d = head + "IPv4 " + ip(src) + " > " + ip(dst) + " ICMP type " + icmpType + (icmpType == 8
                        ? " echo request id " + id + " seq " + seq : "") + " len " + total;
                if (icmpType == 8 && dst == ip) {
                    long r = send(echoReply(at + total, ihl, total));
                    echoReplies += r > 0 ? 1 : 0;
                    return d + " -> echo reply" + status(r);
                }
            }
            return d;
        }
        return head + "IPv4 packet of " + (n - at) + " bytes (too short)";
    }

    private String handleIp6(int n, String head) {
        int at = l2;
        if (n < at + 40) {
            return head + "IPv6 packet of " + (n - at) + " bytes (too short)";
        }
        int next = rx.get(ValueLayout.JAVA_BYTE, at + 6) & 0xff;
        int payload = Short.toUnsignedInt(rx.get(BE16, at + 4));
        int type = next == 58 && n > at + 40 ? rx.get(ValueLayout.JAVA_BYTE, at + 40) & 0xff : -1;
        String d = head + "IPv6 next header " + next + (type >= 0 ? " ICMPv6 type " + type : "");
        boolean toUs = ip6 != null && MemorySegment.mismatch(rx, at + 24, at + 40, MemorySegment.ofArray(ip6), 0, 16) == -1;
        if (type == 128 && toUs && payload >= 8 && at + 40 + payload <= n) {
            long r = send(echoReply6(at, payload));
            echoReplies += r > 0 ? 1 : 0;
            return d + " echo request -> echo reply" + status(r);
        }
        return d + " (ignored)";
    }

    private MemorySegment echoReply6(int at, int payload) {
        MemorySegment o = tx;
        int len = at + 40 + payload;
        MemorySegment.copy(rx, 0, o, 0, len);
        if (at > 0) {
            MemorySegment.copy(rx, 6, o, 0, 6);
            MemorySegment.copy(mac, 0, o, ValueLayout.JAVA_BYTE, 6, 6);
        }
        MemorySegment.copy(rx, at + 24, o, at + 8, 16);  // source: the address asked for
        MemorySegment.copy(rx, at + 8, o, at + 24, 16);  // destination: the requester
        o.set(ValueLayout.JAVA_BYTE, at + 7, (byte) 64); // hop limit
        int icmp = at + 40;
        o.set(ValueLayout.JAVA_BYTE, icmp, (byte) 129);  // echo reply, code stays 0
        o.set(BE16, icmp + 2, (short) 0);
        int sum = Checksums.rfc1071(o, icmp, payload, Checksums.pseudoHeaderSumIpv6(o, at, 58, payload));
        o.set(BE16, icmp + 2, (short) ~sum);
        return o.asSlice(0, len);
    }

    private static String status(long r) {
        return r >= 0 ? "" : " (write status " + r + ")";
    }

    private MemorySegment arpReply(int requesterIp) {
        MemorySegment o = tx;
        MemorySegment.copy(rx, 6, o, 0, 6); // to the requester
        MemorySegment.copy(mac, 0, o, ValueLayout.JAVA_BYTE, 6, 6);
        o.set(BE16, 12, (short) 0x0806);
        o.set(BE16, ETH, (short) 1);          // Ethernet
        o.set(BE16, ETH + 2, (short) 0x0800); // IPv4
        o.set(ValueLayout.JAVA_BYTE, ETH + 4, (byte) 6);
        o.set(ValueLayout.JAVA_BYTE, ETH + 5, (byte) 4);
        o.set(BE16, ETH + 6, (short) 2);      // reply
        MemorySegment.copy(mac, 0, o, ValueLayout.JAVA_BYTE, ETH + 8, 6);
        o.set(BE32, ETH + 14, ip);
        MemorySegment.copy(rx, ETH + 8, o, ETH + 18, 6); // target hardware address: the requester's
        o.set(BE32, ETH + 24, requesterIp);
        return o.asSlice(0, ETH + 28);
    }

    private MemorySegment echoReply(int len, int ihl, int total) {
        final int at = l2;
        MemorySegment o = tx;
        MemorySegment.copy(rx, 0, o, 0, len);
        if (at > 0) {
            MemorySegment.copy(rx, 6, o, 0, 6);
            MemorySegment.copy(mac, 0, o, ValueLayout.JAVA_BYTE, 6, 6);
        }
        o.set(BE32, at + 12, rx.get(BE32, at + 16));
        o.set(BE32, at + 16, rx.get(BE32, at + 12));
        o.set(ValueLayout.JAVA_BYTE, at + 8, (byte) 64); // TTL
        Checksums.setIpv4HeaderChecksum(o, at);
        int icmp = at + ihl;
        o.set(ValueLayout.JAVA_BYTE, icmp, (byte) 0); // echo reply, code stays 0
        o.set(BE16, icmp + 2, (short) 0);
        o.set(BE16, icmp + 2, (short) Checksums.checksum(o, icmp, total - ihl));
        return o.asSlice(0, len);
    }

    static String mac(MemorySegment s, long off) {
        return HexFormat.ofDelimiter(":").formatHex(s.asSlice(off, 6).toArray(ValueLayout.JAVA_BYTE));
    }

    static String ip(int a) {
        return (a >>> 24) + "." + ((a >>> 16) & 0xff) + "." + ((a >>> 8) & 0xff) + "." + (a & 0xff);
    }

    /** Frees the buffers; does not close the {@link Tap}. */
    @Override
    public void close() {
        arena.close();
    }
}
