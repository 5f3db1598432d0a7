package dev.nettap.sample.vmm;

import dev.nettap.Offload;
import dev.nettap.Tap;
import dev.nettap.TapHandle;
import dev.nettap.vnet.VirtioNetHdr;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.EnumSet;

/**
 * The smallest backend a VMM would build on nettap, used as the self-test of a VMM's jlink image:
 * creates a TAP (in the caller's network namespace: run it in a scratch one), turns checksum and
 * TSO offloads on, writes one frame while the link is down (the kernel refuses it: LINK_DOWN),
 * waits briefly for a frame (none comes: TIMEOUT), and prints one line ending in {@code ok}.
 * Exit code 0 when the kernel answered as expected, 1 otherwise.
 */
public final class SampleVmm {
    private SampleVmm() {}

    /**
     * Entry point.
     *
     * @param args optional device name or template (default {@code svmm%d})
     */
    public static void main(String[] args) throws Exception {
        String name = args.length > 0 ? args[0] : "svmm%d";
        try (Tap tap = Tap.open(TapHandle.create(name)); Arena arena = Arena.ofConfined()) {
            tap.setOffloads(EnumSet.of(Offload.CSUM, Offload.TSO4, Offload.TSO6));
            MemorySegment hdr = arena.allocate(VirtioNetHdr.SIZE); // zeros: no offload asked for this frame
            MemorySegment frame = arena.allocate(60);
            frame.asSlice(0, 6).fill((byte) 0xff);                   // broadcast destination
            frame.asSlice(6, 6).copyFrom(MemorySegment.ofArray(new byte[] {2, 0, 0, 0, 0, 1}));
            frame.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN), 12, (short) 0x88b5); // local experimental
            long w = tap.write(hdr, frame);
            long r = tap.awaitReadable(Duration.ofMillis(100));
            boolean ok = w == Tap.LINK_DOWN && r == Tap.TIMEOUT;
            System.out.printf("sample-vmm: %s offloads %s, write while down -> %d (LINK_DOWN %d), wait -> %d (TIMEOUT %d): %s%n",
                    tap.name(), tap.offloads(), w, Tap.LINK_DOWN, r, Tap.TIMEOUT, ok ? "ok" : "UNEXPECTED");
            System.exit(ok ? 0 : 1);
        }
    }
}
