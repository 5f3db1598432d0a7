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
 *
 * <h2>Transmit: from the guest's descriptor to the header</h2>
 *
 * A NIC model fills one {@link dev.nettap.vnet.TxMetadata} per frame from what its guest asked for
 * (checksum offload, TCP or UDP segmentation, header lengths) and lets
 * {@link dev.nettap.vnet.OffloadTranslation#buildTxHeader} write the header the kernel expects. The
 * translation also fixes what real guests get wrong (a pseudo-header seed without the length, as
 * Windows' LSO sends it; a zero IPv4 total length; padding after the datagram; a source route's
 * final destination) and fills in the IPv4 header checksum, which the
 * header cannot ask the kernel for. The frame and header then go to
 * {@link dev.nettap.Tap#write(java.lang.foreign.MemorySegment, java.lang.foreign.MemorySegment)}.
 * {@snippet lang=java id=tx :
 *   // Once per transmit queue:
 *   TxMetadata md = new TxMetadata();
 *   // Per frame: what the guest's descriptor says (here an IPv4 TCP frame, TSO with MSS 1448)
 *   md.clear()
 *           .ipVersion(IpVersion.IPV4)
 *           .ipv4HeaderChecksum(true)
 *           .tcpSegmentation(1448)
 *           .l2Length(14).l3Length(20).l4Length(20);
 *   long length = OffloadTranslation.buildTxHeader(md, frame, hdr);   // hdr: 12 bytes
 *   if (length == OffloadTranslation.REFUSED) {
 *       // the guest's metadata and frame disagree, or the kernel would mishandle the frame:
 *       // nothing was written; drop it and count md.refusal() (no exception, no allocation)
 *       return length;
 *   }
 *   // write the header and the first `length` bytes of the frame (padding after the IP
 *   // datagram is left out) to the TAP in one writev
 *   return length;
 * }
 *
 * <h2>Receive: from the header to the guest's descriptor</h2>
 *
 * After {@link dev.nettap.Tap#read(java.lang.foreign.MemorySegment, java.lang.foreign.MemorySegment)},
 * {@link dev.nettap.vnet.OffloadTranslation#parseRxHeader} reads the header into a
 * {@link dev.nettap.vnet.RxMetadata}, recomputing the header length rather than trusting the
 * kernel's. A guest that cannot take partial checksums gets them completed by
 * {@link dev.nettap.vnet.OffloadTranslation#completeChecksum}; one that cannot take GSO frames
 * should not be offered them (leave the receive offloads off, the default after
 * {@code Tap.open}).
 * {@snippet lang=java id=rx :
 *   RxMetadata md = new RxMetadata();      // once per receive queue
 *   // Per frame, after long n = tap.read(hdr, buffer) and frame = buffer.asSlice(0, n):
 *   OffloadTranslation.parseRxHeader(hdr, frame, md);
 *   if (!guestTakesPartialChecksums) {
 *       OffloadTranslation.completeChecksum(md, frame);   // no-op unless md.l4Checksum() is PARTIAL
 *   }
 *   // md.gsoType(), md.gsoSize(), md.partialStart()/partialOffset(), md.headerLength(): what the
 *   // guest's virtio-net (or e1000e) descriptor needs
 * }
 *
 * <h2>Checksums</h2>
 *
 * {@link dev.nettap.vnet.Checksums} works on any segment range, native or heap; sums are folded
 * 16-bit values in {@code [0, 0xFFFF]}, and stored checksums are their complement.
 */
package dev.nettap.vnet;
