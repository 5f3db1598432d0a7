package dev.nettap;

import dev.nettap.internal.uring.UringProbe;
import dev.nettap.internal.uring.UringSupport;

/**
 * The child JVM of {@link UringSeccompTest}: prints the probe's verdict as one line
 * {@code kind=KIND detail=DETAIL} and exits 0. Runs on the module path with the main classes only.
 */
public final class UringProbeChild {
    private UringProbeChild() {}

    public static void main(String[] args) {
        UringSupport s = UringProbe.select();
        System.out.println("kind=" + s.kind() + " detail=" + s.detail());
    }
}
