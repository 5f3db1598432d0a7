package dev.nettap;

import dev.nettap.internal.linux.linux_h;
import java.util.Set;

/**
 * A receive offload of a TAP device ({@code TUNSETOFFLOAD}): what the kernel <em>may hand this
 * queue</em> — frames with a partial checksum ({@code NEEDS_CSUM}) and GSO super-frames up to 64 KiB
 * described by the virtio-net header. They say nothing about the transmit direction, which the
 * header of each written frame governs.
 *
 * <p>The flags depend on each other as the kernel checks them: {@link #TSO4}, {@link #TSO6},
 * {@link #UFO}, {@link #USO4} and {@link #USO6} need {@link #CSUM}; {@link #TSO_ECN} needs a TSO
 * flag; {@link #USO4} and {@link #USO6} are accepted only together; {@link #UFO} is accepted but no
 * longer produced by current kernels.
 */
public enum Offload {
    /** Partial checksums ({@code TUN_F_CSUM}). */
    CSUM(linux_h.TUN_F_CSUM()),
    /** TCP over IPv4 super-frames ({@code TUN_F_TSO4}). */
    TSO4(linux_h.TUN_F_TSO4()),
    /** TCP over IPv6 super-frames ({@code TUN_F_TSO6}). */
    TSO6(linux_h.TUN_F_TSO6()),
    /** TSO super-frames with the ECN CWR bit ({@code TUN_F_TSO_ECN}). */
    TSO_ECN(linux_h.TUN_F_TSO_ECN()),
    /** UDP fragmentation offload ({@code TUN_F_UFO}); accepted, no longer produced. */
    UFO(linux_h.TUN_F_UFO()),
    /** UDP segmentation over IPv4 ({@code TUN_F_USO4}, kernel 6.2+). */
    USO4(linux_h.TUN_F_USO4()),
    /** UDP segmentation over IPv6 ({@code TUN_F_USO6}, kernel 6.2+). */
    USO6(linux_h.TUN_F_USO6());

    private final int flag;

    Offload(int flag) {
        this.flag = flag;
    }

    /** {@return the {@code TUN_F_*} bit} */
    public int flag() {
        return flag;
    }

    /** The {@code TUNSETOFFLOAD} argument for {@code set}. */
    static int flags(Set<Offload> set) {
        int f = 0;
        for (Offload o : set) {
            f |= o.flag;
        }
        return f;
    }

    /**
     * Checks the dependencies the kernel enforces, so a refused combination is named before the
     * ioctl (which would only say EINVAL).
     *
     * @throws IllegalArgumentException naming the rule {@code set} breaks
     */
    static void checkDependencies(Set<Offload> set) {
        if (!set.isEmpty() && !set.contains(CSUM)) {
            throw new IllegalArgumentException("offloads " + set + " need CSUM: every receive offload hands over partial checksums");
        }
        if (set.contains(TSO_ECN) && !set.contains(TSO4) && !set.contains(TSO6)) {
            throw new IllegalArgumentException("offload TSO_ECN needs TSO4 or TSO6");
        }
        if (set.contains(USO4) != set.contains(USO6)) {
            throw new IllegalArgumentException("offloads USO4 and USO6 are accepted only together");
        }
    }
}
