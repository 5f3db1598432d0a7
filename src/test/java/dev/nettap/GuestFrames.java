package dev.nettap;

import dev.nettap.vnet.Checksums;
import dev.nettap.vnet.IpVersion;
import dev.nettap.vnet.TxMetadata;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Random well-formed frames as a guest builds them (IPv4 with options incl. LSRR/SSRR, IPv6 with
 * extension headers incl. routing headers with segments left, TCP/UDP, VLAN, padding, NDIS-style
 * lengths and seeds, ECN), with the metadata a NIC model would give, and the exact frames the
 * kernel must emit for them, computed here independently of the library: the segmentation of
 * TCP/UDP GSO (sequence numbers, flags, IPv4 IDs, lengths) and every checksum from scratch with the
 * pseudo-header of the final destination.
 */
final class GuestFrames {
    static final int TCP = 6;
    static final int UDP = 17;
    static final byte[] DST_MAC = {0x02, 0x6e, 0x74, 0x00, 0x00, 0x0b};
    /** Source MACs are 02:6e:74:01:hi:lo, lo/hi = the frame's index: a stray frame names its flow. */
    static final byte[] SRC_PREFIX = {0x02, 0x6e, 0x74, 0x01};
    /** B's MTU: a frame that is not GSO must fit it (the bridge drops longer ones). */
    static final int MTU = 1500;

    /** One generated case. */
    static final class Case {
        final String description;
        final byte[] correct;     // the datagram as it should leave (checksum field 0), with L2
        final byte[] guest;       // what the guest hands over (seed variant, NDIS lengths, padding)
        final TxMetadata md;
        final boolean v4;
        final int proto;
        final int l2;
        final int l3;
        final int l4h;
        final int dst;            // offset of the final destination address
        final int gsoSize;        // 0: checksum only
        final int index;

        Case(String description, byte[] correct, byte[] guest, TxMetadata md, boolean v4, int proto, int l2, int l3,
             int l4h, int dst, int gsoSize, int index) {
            this.description = description;
            this.correct = correct;
            this.guest = guest;
            this.md = md;
            this.v4 = v4;
            this.proto = proto;
            this.l2 = l2;
            this.l3 = l3;
            this.l4h = l4h;
            this.dst = dst;
            this.gsoSize = gsoSize;
            this.index = index;
        }

        int payloadLength() {
            return correct.length - l2 - l3 - l4h;
        }

        /** The frames the kernel must hand B's reader, in order. */
        List<byte[]> expected() {
            int payload = payloadLength();
            int size = gsoSize == 0 ? Math.max(payload, 1) : gsoSize;
            int count = Math.max(1, (payload + size - 1) / size);
            List<byte[]> out = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                int from = i * size;
                int len = gsoSize == 0 ? payload : Math.min(size, payload - from);
                out.add(segment(i, count, from, len));
            }
            return out;
        }

        private byte[] segment(int i, int count, int from, int len) {
            int head = l2 + l3 + l4h;
            byte[] s = new byte[head + len];
            System.arraycopy(correct, 0, s, 0, head);
            System.arraycopy(correct, head + from, s, head, len);
            ByteBuffer b = ByteBuffer.wrap(s);
            int ipLen = l3 + l4h + len;
            if (v4) {
                b.putShort(l2 + 2, (short) ipLen);
                b.putShort(l2 + 4, (short) (b.getShort(l2 + 4) + i));
                b.putShort(l2 + 10, (short) 0);
                b.putShort(l2 + 10, (short) ~sum(s, l2, l3));
            } else {
                b.putShort(l2 + 4, (short) (ipLen - 40));
            }
            int l4 = l2 + l3;
            int l4Len = l4h + len;
            if (proto == TCP) {
                b.putInt(l4 + 4, b.getInt(l4 + 4) + from);
                int flags = s[l4 + 13] & 0xFF;
                if (i < count - 1) {
                    flags &= ~0x09;     // FIN, PSH only on the last segment
                }
                if (i > 0) {
                    flags &= ~0x80;     // CWR only on the first
                }
                s[l4 + 13] = (byte) flags;
                b.putShort(l4 + 16, (short) 0);
                int c = ~add(pseudo(s, l4Len), sum(s, l4, l4Len)) & 0xFFFF;
                b.putShort(l4 + 16, (short) (c == 0 ? 0xFFFF : c)); // the kernel stores 0 as 0xFFFF
            } else {
                b.putShort(l4 + 4, (short) l4Len);
                b.putShort(l4 + 6, (short) 0);
                int c = ~add(pseudo(s, l4Len), sum(s, l4, l4Len)) & 0xFFFF;
                b.putShort(l4 + 6, (short) (c == 0 ? 0xFFFF : c));
            }
            return s;
        }

        private int pseudo(byte[] s, int l4Len) {
            int a = v4 ? 4 : 16;
            int src = l2 + (v4 ? 12 : 8);
            return add(add(sum(s, src, a), sum(s, dst, a)), add(proto, l4Len));
        }

        /** Whether a frame at B comes from this case. */
        boolean mine(byte[] mac12) {
            return mac12[9] == (byte) (index >>> 8) && mac12[10] == (byte) index;
        }
    }

    private GuestFrames() {}

    static int sum(byte[] s, int off, int len) {
        return Checksums.rfc1071Reference(java.lang.foreign.MemorySegment.ofArray(s), off, len);
    }

    static int add(int a, int b) {
        return Checksums.add(a, b);
    }

    /** A random case; {@code index} goes into the source MAC. */
    static Case random(Random r, int index) {
        boolean v4 = r.nextBoolean();
        int proto = r.nextBoolean() ? TCP : UDP;
        boolean vlan = r.nextInt(4) == 0;
        int l2 = vlan ? 18 : 14;
        StringBuilder d = new StringBuilder(v4 ? "IPv4" : "IPv6").append(proto == TCP ? "/TCP" : "/UDP");
        if (vlan) {
            d.append(" VLAN");
        }
        // ---- L3 header
        byte[] l3h;
        int dstRel;
        if (v4) {
            int kind = r.nextInt(4); // 0 none, 1 NOPs + EOL, 2 LSRR, 3 SSRR
            ByteBuffer o = ByteBuffer.allocate(40);
            dstRel = 16;
            if (kind == 1) {
                o.put((byte) 1).put((byte) 1).put((byte) 1).put((byte) 0);
                d.append(" opts(NOP)");
            } else if (kind >= 2) {
                int addrs = 1 + r.nextInt(3);
                int len = 3 + 4 * addrs;
                o.put((byte) 1); // a NOP before it: the option is not 4-aligned by itself
                int at = 20 + o.position();
                o.put((byte) (kind == 2 ? 0x83 : 0x89)).put((byte) len).put((byte) 4);
                for (int i = 0; i < addrs; i++) {
                    o.putInt(0x0a63_0000 | r.nextInt(0x10000));
                }
                dstRel = at + len - 4;
                d.append(kind == 2 ? " LSRR" : " SSRR").append(addrs);
            }
            while (o.position() % 4 != 0) {
                o.put((byte) 0);
            }
            int ihl = 20 + o.position();
            l3h = new byte[ihl];
            ByteBuffer h = ByteBuffer.wrap(l3h);
            h.put(0, (byte) (0x40 | ihl / 4)).put(1, (byte) (r.nextInt(64) << 2));
            h.putShort(4, (short) r.nextInt(0x10000)).putShort(6, (short) 0x4000);
            h.put(8, (byte) 64).put(9, (byte) proto);
            h.putInt(12, 0x0a4d_0000 | r.nextInt(0x10000)).putInt(16, 0x0a4d_0000 | r.nextInt(0x10000));
            System.arraycopy(o.array(), 0, l3h, 20, o.position());
        } else {
            ByteBuffer e = ByteBuffer.allocate(200);
            List<Integer> nexts = new ArrayList<>();
            dstRel = 24;
            if (r.nextInt(3) == 0) {                // hop-by-hop, PadN
                nexts.add(0);
                e.put((byte) 0).put((byte) 0).put((byte) 1).put((byte) 4).putInt(0);
                d.append(" HBH");
            }
            int rt = r.nextInt(4);                   // 0 none, 1 type 0, 2 SRH, 3 type 2
            if (rt != 0) {
                nexts.add(43);
                int at = 40 + e.position();
                if (rt == 1) {
                    int n = 1 + r.nextInt(3);
                    int left = 1 + r.nextInt(n);
                    e.put((byte) 0).put((byte) (2 * n)).put((byte) 0).put((byte) left).putInt(0);
                    for (int i = 0; i < n; i++) {
                        e.putLong(0xfd00_0000_0000_0000L).putLong(0x100 + r.nextInt(0x10000));
                    }
                    dstRel = at + 8 + 16 * (n - 1);
                    d.append(" RH0(").append(n).append(',').append(left).append(')');
                } else if (rt == 2) {
                    int n = 1 + r.nextInt(3);
                    int left = r.nextInt(n);        // SRH: 0..n-1; 0 means the header's destination is final
                    e.put((byte) 0).put((byte) (2 * n)).put((byte) 4).put((byte) left)
                            .put((byte) (n - 1)).put((byte) 0).putShort((short) 0);
                    for (int i = 0; i < n; i++) {
                        e.putLong(0xfd00_0000_0000_0000L).putLong(0x200 + r.nextInt(0x10000));
                    }
                    if (left != 0) {
                        dstRel = at + 8;
                    }
                    d.append(" SRH(").append(n).append(',').append(left).append(')');
                } else {
                    e.put((byte) 0).put((byte) 2).put((byte) 2).put((byte) 1).putInt(0);
                    e.putLong(0xfd00_0000_0000_0000L).putLong(0x300 + r.nextInt(0x10000));
                    dstRel = at + 8;
                    d.append(" RH2");
                }
            }
            if (r.nextInt(3) == 0) {                // destination options, PadN
                nexts.add(60);
                e.put((byte) 0).put((byte) 0).put((byte) 1).put((byte) 4).putInt(0);
                d.append(" DOPT");
            }
            l3h = new byte[40 + e.position()];
            System.arraycopy(e.array(), 0, l3h, 40, e.position());
            // Chain the next-header fields: fixed header -> each extension -> proto.
            int pos = 40;
            int prevAt = 6;
            for (int next : nexts) {
                l3h[prevAt] = (byte) next;
                prevAt = pos;
                pos += ((l3h[pos + 1] & 0xFF) + 1) * 8;
            }
            l3h[prevAt] = (byte) proto;
            ByteBuffer h = ByteBuffer.wrap(l3h);
            h.putInt(0, 0x6000_0000 | r.nextInt(0x100000));
            h.put(7, (byte) 64);
            h.putLong(8, 0xfd00_0000_0000_0000L).putLong(16, 1 + r.nextInt(0x10000));
            h.putLong(24, 0xfd00_0000_0000_0000L).putLong(32, 1 + r.nextInt(0x10000));
        }
        int l3 = l3h.length;
        int l4h = proto == TCP ? 20 + 4 * r.nextInt(3) : 8;   // TCP with 0, 4 or 8 bytes of options (NOPs)
        // ---- offload and sizes
        int mode = r.nextInt(3); // 0 checksum only, 1 GSO, 2 GSO NDIS-style
        boolean ndis = mode == 2 || mode == 0 && r.nextInt(4) == 0;
        int maxSeg = MTU - l3 - l4h;
        int gsoSize = 0;
        int payload;
        if (mode == 0) {
            payload = r.nextInt(maxSeg + 1);
            d.append(" csum");
        } else {
            gsoSize = 200 + r.nextInt(maxSeg - 200 + 1);
            payload = 1 + r.nextInt(gsoSize * 6);
            d.append(proto == TCP ? " TSO " : " USO ").append(gsoSize);
        }
        if (ndis) {
            d.append(" NDIS");
        }
        boolean cwr = proto == TCP && r.nextInt(4) == 0;
        boolean ecnMeta = cwr && r.nextBoolean();
        if (cwr) {
            d.append(ecnMeta ? " CWR+ECN" : " CWR");
        }
        int padding = ndis ? 0 : r.nextInt(3) == 0 ? 1 + r.nextInt(24) : 0;
        if (padding > 0) {
            d.append(" pad ").append(padding);
        }
        d.append(" payload ").append(payload);
        // ---- the correct datagram
        byte[] c = new byte[l2 + l3 + l4h + payload];
        ByteBuffer b = ByteBuffer.wrap(c);
        System.arraycopy(DST_MAC, 0, c, 0, 6);
        System.arraycopy(SRC_PREFIX, 0, c, 6, 4);
        c[10] = (byte) (index >>> 8);
        c[11] = (byte) index;
        if (vlan) {
            b.putShort(12, (short) 0x8100).putShort(14, (short) (1 + r.nextInt(4094)));
        }
        b.putShort(l2 - 2, (short) (v4 ? 0x0800 : 0x86DD));
        System.arraycopy(l3h, 0, c, l2, l3);
        if (v4) {
            b.putShort(l2 + 2, (short) (l3 + l4h + payload));
            b.putShort(l2 + 10, (short) ~sum(c, l2, l3));
        } else {
            b.putShort(l2 + 4, (short) (l3 - 40 + l4h + payload));
        }
        int l4 = l2 + l3;
        b.putShort(l4, (short) (1024 + r.nextInt(60000))).putShort(l4 + 2, (short) (1024 + r.nextInt(60000)));
        if (proto == TCP) {
            b.putInt(l4 + 4, r.nextInt()).putInt(l4 + 8, r.nextInt());
            c[l4 + 12] = (byte) ((l4h / 4) << 4);
            c[l4 + 13] = (byte) (0x10 | (r.nextBoolean() ? 0x08 : 0) | (cwr ? 0x80 : 0) | (r.nextInt(8) == 0 ? 0x01 : 0));
            b.putShort(l4 + 14, (short) r.nextInt(0x10000));
            for (int i = l4 + 20; i < l4 + l4h; i++) {
                c[i] = 1; // NOP options
            }
        } else {
            b.putShort(l4 + 4, (short) (l4h + payload));
        }
        for (int i = l4 + l4h; i < c.length; i++) {
            c[i] = (byte) r.nextInt();
        }
        // ---- what the guest hands over
        byte[] g = Arrays.copyOf(c, c.length + padding);
        for (int i = c.length; i < g.length; i++) {
            g[i] = (byte) (1 + r.nextInt(255)); // non-zero junk: summed, it would show
        }
        ByteBuffer gb = ByteBuffer.wrap(g);
        int csumAt = l4 + (proto == TCP ? 16 : 6);
        Case k = new Case(d.toString(), c, g, null, v4, proto, l2, l3, l4h, l2 + dstRel, gsoSize, index);
        int l4Len = l4h + payload;
        int seedKind = r.nextInt(3);
        int seed = seedKind == 0 ? k.pseudo(c, l4Len) : seedKind == 1 ? k.pseudo(c, 0) : r.nextInt(0x10000);
        gb.putShort(csumAt, (short) seed);
        if (ndis) {
            if (v4) {
                gb.putShort(l2 + 2, (short) 0).putShort(l2 + 10, (short) 0);
            } else {
                gb.putShort(l2 + 4, (short) 0);
            }
            if (proto == UDP && gsoSize > 0 && r.nextBoolean()) {
                gb.putShort(l4 + 4, (short) 0);
            }
        }
        TxMetadata md = new TxMetadata().ipVersion(v4 ? IpVersion.IPV4 : IpVersion.IPV6).l2Length(l2).l3Length(l3)
                .l4Length(r.nextBoolean() ? l4h : 0).ipv4HeaderChecksum(v4).tcpEcn(ecnMeta);
        if (gsoSize == 0) {
            if (proto == TCP) {
                md.tcpChecksum(true);
            } else {
                md.udpChecksum(true);
            }
        } else if (proto == TCP) {
            md.tcpSegmentation(gsoSize);
        } else {
            md.udpSegmentation(gsoSize);
        }
        return new Case(d.toString(), c, g, md, v4, proto, l2, l3, l4h, l2 + dstRel, gsoSize, index);
    }
}
