package dev.nettap;

import java.util.Optional;

/**
 * A snapshot of one queue's counters: the ones nettap keeps for this queue, per direction, and the
 * device's, as the kernel keeps them, where this process can read them.
 *
 * <p>nettap's counters are kept by the reading and the writing thread themselves (plain fields, no
 * atomics): each value is one that thread wrote, read without stopping it, so a snapshot taken while
 * frames move may be a few frames behind. They need no privilege.
 *
 * <p>The kernel's {@code rx}/{@code tx} are from the device's side: frames this queue writes are the
 * device's <em>received</em> ({@code rx}) frames, frames it reads are the device's
 * <em>transmitted</em> ({@code tx}) ones. The kernel drops what its queues cannot hold and counts it
 * in {@code rxDropped}/{@code txDropped}; writes do not fail for it.
 *
 * @param reads        what this queue's reads did
 * @param writes       what this queue's writes did
 * @param kernel       the device's counters, or empty where this process cannot read them
 * @param kernelSource where {@code kernel} came from, or why it is empty (e.g. {@code "not available:
 *                     ..."})
 */
public record TapStatistics(Queue reads, Queue writes, Optional<Kernel> kernel, String kernelSource) {
    /**
     * The record.
     *
     * @param reads        as above
     * @param writes       as above
     * @param kernel       as above
     * @param kernelSource as above
     */
    public TapStatistics {
        java.util.Objects.requireNonNull(reads, "reads");
        java.util.Objects.requireNonNull(writes, "writes");
        java.util.Objects.requireNonNull(kernel, "kernel");
        java.util.Objects.requireNonNull(kernelSource, "kernelSource");
    }

    /**
     * One direction's counters, kept by nettap. Every call that returned a status is counted under
     * it; a field that cannot happen in a direction stays 0.
     *
     * @param frames        frames moved (for reads, including {@link Tap#POSSIBLY_TRUNCATED} ones)
     * @param bytes         their bytes, without headers
     * @param wouldBlock    calls that returned {@link Tap#WOULD_BLOCK}
     * @param truncated     reads that returned {@link Tap#POSSIBLY_TRUNCATED}
     * @param linkDown      calls that returned {@link Tap#LINK_DOWN}
     * @param malformed     calls that returned {@link Tap#MALFORMED} (frames the kernel refused or dropped)
     * @param deviceGone    calls that returned {@link Tap#DEVICE_GONE}
     * @param noBufferSpace calls that returned {@link Tap#NO_BUFFER_SPACE}
     * @param badAddress    calls that returned {@link Tap#BAD_ADDRESS}
     * @param kernelErrors  calls that returned {@link Tap#KERNEL_ERROR}
     * @param lastErrno     the errno of the last {@link Tap#KERNEL_ERROR}, 0 if none
     */
    public record Queue(long frames, long bytes, long wouldBlock, long truncated, long linkDown, long malformed,
                        long deviceGone, long noBufferSpace, long badAddress, long kernelErrors, int lastErrno) {
        /** {@return the frames lost in this direction by a refused call (every status but WOULD_BLOCK)} */
        public long dropped() {
            return truncated + linkDown + malformed + deviceGone + noBufferSpace + badAddress + kernelErrors;
        }
    }

    /**
     * The device's counters from the kernel ({@code /proc/net/dev} of the device's namespace),
     * named from the queues' side of the device: "rx" is what the queues wrote into it, "tx" what
     * it had for them to read. (A TAP interface counts frames its queues write as received; a
     * macvtap interface counts them as transmitted, since it sends them out through its lower
     * device. Both are reported here the same way.)
     *
     * @param rxPackets frames the device received (that queues wrote)
     * @param rxBytes   bytes of those
     * @param rxDropped of those, dropped by the kernel
     * @param txPackets frames the device sent (for queues to read)
     * @param txBytes   bytes of those
     * @param txDropped of those, dropped (no queue, or a full one)
     */
    public record Kernel(long rxPackets, long rxBytes, long rxDropped, long txPackets, long txBytes, long txDropped) {}
}
