package dev.nettap;

/**
 * A snapshot of one queue's counters: the device's, as the kernel keeps them, beside the ones nettap
 * keeps for this queue. The kernel's {@code rx}/{@code tx} are from the device's side: frames this
 * queue writes are the device's <em>received</em> ({@code rx}) frames, frames it reads are the
 * device's <em>transmitted</em> ({@code tx}) ones. The kernel drops what its queues cannot hold and
 * counts it in {@code rxDropped}/{@code txDropped}; writes do not fail for it.
 *
 * @param kernel          the device's counters
 * @param readWouldBlock  reads that found nothing to read
 * @param readTruncated   reads that filled every buffer exactly ({@link Tap#POSSIBLY_TRUNCATED})
 * @param writeWouldBlock writes the kernel refused with EAGAIN
 * @param writeLinkDown   writes refused because the interface was down
 * @param writeMalformed  writes refused as malformed
 */
public record TapStatistics(Kernel kernel, long readWouldBlock, long readTruncated, long writeWouldBlock,
                            long writeLinkDown, long writeMalformed) {

    /**
     * The device's counters from the kernel ({@code /proc/net/dev} of the device's namespace).
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
