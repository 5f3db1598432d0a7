package dev.nettap;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.linux.sock_filter;
import dev.nettap.internal.linux.sock_fprog;
import dev.nettap.internal.sys.Sys;
import dev.nettap.internal.sys.FileCalls;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Tells whether a TAP queue really has {@code IFF_NO_PI}, which {@code TUNGETIFF} alone cannot:
 * the kernel ORs {@code IFF_NOFILTER} (0x1000) into the reported flags whenever no socket filter is
 * attached to the queue, and {@code IFF_NOFILTER == IFF_NO_PI}. So bit 0x1000 is set for every
 * unfiltered queue, with or without a packet-information prefix (checked on 6.18: a TAP set up
 * with plain {@code IFF_TAP} reports 0x1002 and refuses a 14-byte write with EINVAL).
 *
 * <p>For a TAP without a filter, the check attaches an accept-all classic BPF filter
 * ({@code TUNATTACHFILTER}, which applies to every queue of the device and lets every frame through
 * whole), reads the flags again (now bit 0x1000 is {@code IFF_NO_PI} alone) and detaches it
 * ({@code TUNDETACHFILTER}). When a filter is already attached (by another holder) the bit is
 * truthful and nothing is touched. The kernel accepts filters on TAP devices only: for a TUN queue
 * the bit stays ambiguous and is taken at its word, and so it is when {@code TUNATTACHFILTER} fails
 * (a macvtap fd reports its flags without the alias).
 */
final class NoPiCheck {
    private NoPiCheck() {}

    private static final int IFF_NOFILTER = linux_h.IFF_NOFILTER(); // the same bit as IFF_NO_PI

    /**
     * The queue's flags with bit 0x1000 meaning {@code IFF_NO_PI} only, given what
     * {@code TUNGETIFF} reported ({@code reported}).
     */
    static int trueFlags(MemorySegment err, int fd, int reported, String ctx) throws TapException {
        if ((reported & linux_h.IFF_TAP()) == 0 || (reported & IFF_NOFILTER) == 0) {
            return reported; // TUN (cannot tell), or a filter is attached and the bit is IFF_NO_PI alone
        }
        try (Arena arena = Arena.ofConfined()) {
            // One instruction, "return 0xffffffff": keep every packet whole.
            MemorySegment insn = sock_filter.allocate(arena);
            sock_filter.code(insn, (short) (linux_h.BPF_RET() | linux_h.BPF_K()));
            sock_filter.k(insn, 0xffff_ffff);
            MemorySegment prog = sock_fprog.allocate(arena);
            sock_fprog.len(prog, (short) 1);
            sock_fprog.filter(prog, insn);
            // SAFETY: prog is a 16-byte struct sock_fprog pointing at one 8-byte instruction, both
            // alive in this arena for the call; the kernel copies the program and keeps no pointer.
            if (FileCalls.ioctl(err, fd, linux_h.TUNATTACHFILTER(), prog) < 0) {
                // Not the tun driver's filter ioctl (a macvtap fd, whose TUNGETIFF has no
                // IFF_NOFILTER alias), or refused: the reported bit is all there is.
                System.getLogger("dev.nettap").log(System.Logger.Level.DEBUG,
                        "{0}: TUNATTACHFILTER failed with errno {1}; taking IFF_NO_PI as TUNGETIFF reports it",
                        ctx, Sys.errno(err));
                return reported;
            }
            try {
                Iff iff = Iff.query(err, fd);
                if (iff == null) {
                    throw TapException.syscall("TUNGETIFF", Sys.errno(err), ctx, null);
                }
                return iff.flags();
            } finally {
                // SAFETY: as above; TUNDETACHFILTER reads nothing from the argument.
                FileCalls.ioctl(err, fd, linux_h.TUNDETACHFILTER(), prog);
            }
        }
    }
}
