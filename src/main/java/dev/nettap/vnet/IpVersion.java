package dev.nettap.vnet;

/** The IP version of a frame, as offload metadata states it. Immutable and thread-safe. */
public enum IpVersion {
    /** Not stated: only valid when no offload needs the IP header. */
    UNSPECIFIED,
    /** IPv4: the L3 header is IHL * 4 bytes. */
    IPV4,
    /** IPv6: the L3 header is 40 bytes plus any extension headers. */
    IPV6
}
