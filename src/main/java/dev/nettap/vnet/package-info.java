/**
 * The virtio-net header, the translation between per-frame offload metadata and that header, and
 * the Internet checksums. Nothing here makes a system call, so the package runs (and is tested) on
 * any operating system.
 *
 * <p>The classes fall into three groups:
 * <ul>
 *   <li>{@link dev.nettap.vnet.VirtioNetHdr}: static accessors over a 12-byte (v1) or 10-byte
 *       (legacy) {@code struct virtio_net_hdr} in a {@link java.lang.foreign.MemorySegment}.</li>
 *   <li>{@link dev.nettap.vnet.TxMetadata}, {@link dev.nettap.vnet.RxMetadata} and
 *       {@link dev.nettap.vnet.OffloadTranslation}: what a guest NIC model says about a frame, and
 *       the conversion to and from the header the kernel understands, with the in-place fix-ups
 *       that real guests need.</li>
 *   <li>{@link dev.nettap.vnet.Checksums}: RFC 1071 sums over any segment range, the IPv4 header
 *       checksum, TCP/UDP pseudo-header sums and the RFC 1624 incremental update.</li>
 * </ul>
 *
 * <p>Per-frame entry points allocate nothing: metadata objects are owned by the caller and reused,
 * and the header is written straight into a caller's segment. A guest's frame that the kernel would
 * refuse or mishandle is refused by {@link dev.nettap.vnet.OffloadTranslation#buildTxHeader} with a
 * status and a {@link dev.nettap.vnet.FrameException.Reason} left in the caller's
 * {@link dev.nettap.vnet.TxMetadata} (no exception, no allocation), or repaired; other inconsistent
 * input (a received header, a host's argument) gets a {@link dev.nettap.vnet.FrameException}.
 * Either way nothing is written first.
 */
package dev.nettap.vnet;
