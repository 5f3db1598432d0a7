package dev.nettap;

import dev.nettap.internal.linux.ifreq;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.FileCalls;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

/**
 * What {@code TUNGETIFF} says of a queue: the name of its device now, and its flags as reported
 * (bit 0x1000 is ambiguous: see {@link NoPiCheck}).
 *
 * @param name  the interface name
 * @param flags the {@code ifr_flags}, unsigned
 */
record Iff(String name, int flags) {
    /** {@code TUNGETIFF} on {@code fd}; {@code null} when it failed, with the errno in {@code err}. */
    static Iff query(MemorySegment err, int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ifr = ifreq.allocate(arena);
            // SAFETY: ifr is a 40-byte struct ifreq alive for the call; TUNGETIFF writes within it.
            if (FileCalls.ioctl(err, fd, linux_h.TUNGETIFF(), ifr) < 0) {
                return null;
            }
            return new Iff(ifreq.ifr_ifrn.ifrn_name(ifreq.ifr_ifrn(ifr)).getString(0, StandardCharsets.UTF_8),
                    Short.toUnsignedInt(ifreq.ifr_ifru.ifru_flags(ifreq.ifr_ifru(ifr))));
        }
    }
}
