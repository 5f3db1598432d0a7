package dev.nettap.vnet;

/**
 * A transmit offload a backend can perform for the guest: what a NIC model may advertise to its
 * guest driver when frames go out through this package's translation. Immutable and thread-safe.
 *
 * @see OffloadTranslation#TAP_TX_OFFLOADS
 */
public enum TxOffload {
    /** The IPv4 header checksum, computed in software (the virtio-net header cannot express it). */
    IPV4_HEADER_CHECKSUM,
    /** The TCP checksum over IPv4, completed by the kernel ({@code NEEDS_CSUM}). */
    TCP_CHECKSUM_IPV4,
    /** The TCP checksum over IPv6, completed by the kernel ({@code NEEDS_CSUM}). */
    TCP_CHECKSUM_IPV6,
    /** The UDP checksum over IPv4, completed by the kernel ({@code NEEDS_CSUM}). */
    UDP_CHECKSUM_IPV4,
    /** The UDP checksum over IPv6, completed by the kernel ({@code NEEDS_CSUM}). */
    UDP_CHECKSUM_IPV6,
    /** TCP segmentation over IPv4 ({@code GSO_TCPV4}), with NDIS-style fix-ups. */
    TSO_IPV4,
    /** TCP segmentation over IPv6 ({@code GSO_TCPV6}), with NDIS-style fix-ups. */
    TSO_IPV6,
    /** UDP segmentation over IPv4 or IPv6 ({@code GSO_UDP_L4}, kernel 6.2 or newer on RX). */
    USO
}
