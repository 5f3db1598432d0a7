package dev.nettap;

/** The kind of device behind a queue: what a frame read from or written to it starts with. */
public enum TapMode {
    /** Layer 2 ({@code IFF_TAP}): Ethernet frames. */
    TAP,
    /** Layer 3 ({@code IFF_TUN}): IP packets, no Ethernet header. */
    TUN
}
