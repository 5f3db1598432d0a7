package dev.nettap.internal.uring;

import dev.nettap.internal.linux.io_uring_params;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.FileCalls;
import dev.nettap.internal.sys.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The two ends of one {@link IoUring}'s life: {@code io_uring_setup} with the flags and features
 * the engine needs, and the teardown that never frees memory under the kernel (cancel everything
 * in flight, wait for it, drop the registrations, close the fd, and only then free the arena).
 * Static helpers; {@link IoUring#open} and {@link IoUring#close} call them in order.
 *
 * <p><b>Threads.</b> Setup runs on the thread that opens the ring; teardown on its owner (the
 * caller checks).
 *
 * <p><b>Invariants.</b> A ring's arena (rings, iovec tables, data, provided buffers) is closed
 * only when no request is in flight; otherwise it is leaked on purpose and the fact logged.
 */
final class RingLifecycle {
    private RingLifecycle() {}

    /** Features this engine requires of the kernel. */
    static final int REQUIRED_FEATURES = linux_h.IORING_FEAT_SINGLE_MMAP() | linux_h.IORING_FEAT_NODROP()
            | linux_h.IORING_FEAT_SUBMIT_STABLE() | linux_h.IORING_FEAT_EXT_ARG();
    private static final long CLOSE_WAIT_NANOS = 5_000_000_000L;
    private static final System.Logger LOG = System.getLogger("dev.nettap.uring");

    // ---- setup ----------------------------------------------------------------------------------

    /** Throws {@link IllegalArgumentException} unless {@link IoUring#open}'s arguments are in range. */
    static void checkArguments(int entries, int cqEntries, long dataBytes) {
        if (entries < 1 || entries > 4096) {
            throw new IllegalArgumentException("entries must be 1..4096, is " + entries);
        }
        if (cqEntries != 0 && (cqEntries < entries || cqEntries > 65536)) {
            throw new IllegalArgumentException("cqEntries must be 0 or entries.." + 65536 + ", is " + cqEntries);
        }
        if (dataBytes < 0) {
            throw new IllegalArgumentException("dataBytes must not be negative, is " + dataBytes);
        }
    }

    /**
     * {@code io_uring_setup} into {@code params} (zeroed): {@code IORING_SETUP_SUBMIT_ALL} where the
     * kernel has it (5.18+), {@code IORING_SETUP_CQSIZE} when {@code cqEntries} is not 0. Returns the
     * ring fd; the caller closes it if anything after fails.
     */
    static int setUp(MemorySegment errno, int entries, int cqEntries, MemorySegment params) throws UringException {
        int flags = linux_h.IORING_SETUP_SUBMIT_ALL() | (cqEntries != 0 ? linux_h.IORING_SETUP_CQSIZE() : 0);
        io_uring_params.flags(params, flags);
        io_uring_params.cq_entries(params, cqEntries);
        int fd = UringCalls.setup(errno, entries, params);
        if (fd < 0 && Sys.errno(errno) == linux_h.EINVAL()) { // SUBMIT_ALL is 5.18+: go on without it
            params.fill((byte) 0);
            io_uring_params.flags(params, flags & ~linux_h.IORING_SETUP_SUBMIT_ALL());
            io_uring_params.cq_entries(params, cqEntries);
            fd = UringCalls.setup(errno, entries, params);
        }
        if (fd < 0) {
            int e = Sys.errno(errno);
            throw new UringException("io_uring_setup(" + entries + ")", e, explainSetup(e));
        }
        return fd;
    }

    /** {@return the features the kernel reported in {@code params}, after checking it has {@link #REQUIRED_FEATURES}} */
    static int checkFeatures(MemorySegment params) throws UringException {
        int features = io_uring_params.features(params);
        if ((features & REQUIRED_FEATURES) != REQUIRED_FEATURES) {
            throw new UringException("io_uring on this kernel lacks features nettap needs (have 0x"
                    + Integer.toHexString(features) + ", need 0x" + Integer.toHexString(REQUIRED_FEATURES)
                    + ": SINGLE_MMAP, NODROP, SUBMIT_STABLE, EXT_ARG; Linux 5.11+)");
        }
        return features;
    }

    private static String explainSetup(int e) {
        if (e == linux_h.ENOSYS()) {
            return "this kernel has no io_uring (CONFIG_IO_URING unset or too old)";
        }
        if (e == linux_h.EPERM()) {
            return "io_uring is forbidden here (kernel.io_uring_disabled, a seccomp filter or an LSM)";
        }
        return null;
    }

    // ---- teardown -------------------------------------------------------------------------------

    /**
     * First step of close: drops prepared requests the kernel has not taken, then cancels every
     * request in flight and discards completions until none is left or 5 s passed. A failure is
     * logged, not thrown: {@link #release} runs next either way.
     */
    static void cancelInFlight(Rings rings, SqePrep sqes, BufferRing buffers) {
        long deadline = System.nanoTime() + CLOSE_WAIT_NANOS;
        try {
            rings.retract(); // prepared requests the kernel has not taken never reach it
            rings.drain(null, 0, SqePrep.RESERVED_USER_DATA, buffers);
            while (rings.inFlight > 0 && System.nanoTime() - deadline < 0) {
                sqes.cancelEverything(); // again each round: a request may have been running
                rings.enter(1, Rings.ENTER_GETEVENTS, 100_000_000L);
                rings.drain(null, 0, SqePrep.RESERVED_USER_DATA, buffers);
            }
        } catch (UringException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "io_uring close: cancelling in-flight requests failed", e);
        }
    }

    /**
     * Last step of close: with nothing in flight, drops the registrations and, after closing the
     * ring fd, frees {@code arena} (unmaps the rings, frees iovecs, data and provided buffers);
     * with requests still in flight, closes the fd but leaves the memory allocated and logs it.
     *
     * @return true if the memory was freed
     */
    static boolean release(Arena arena, MemorySegment errno, int ringFd, Rings rings, Registrations regs) {
        if (rings.inFlight == 0) {
            regs.releaseAtClose();
        }
        FileCalls.close(errno, ringFd);
        if (rings.inFlight == 0) {
            arena.close(); // unmaps the rings, frees iovecs, data and provided buffers
            return true;
        }
        LOG.log(System.Logger.Level.WARNING, "io_uring close: {0} request(s) still in flight after 5 s; "
                + "their memory is left allocated rather than freed under the kernel", rings.inFlight);
        return false;
    }
}
