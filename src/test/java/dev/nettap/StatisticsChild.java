package dev.nettap;

import dev.nettap.internal.sys.ProcessCalls;
import dev.nettap.vnet.VirtioNetHdr;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The child JVM of {@link StatisticsKernelTest}, run as an unprivileged user: adopts the TAP queue
 * it inherited as fd 3, writes N broadcast frames, and prints what {@link Tap#statistics()} says.
 *
 * <pre>
 * StatisticsChild N   prints: uid U / written W / writes FRAMES BYTES / kernel yes|no SOURCE / rx PACKETS
 * </pre>
 */
public final class StatisticsChild {
    private StatisticsChild() {}

    public static void main(String[] args) throws Exception {
        int n = Integer.parseInt(args[0]);
        System.out.println("uid " + dev.nettap.internal.sys.ProcessCalls.geteuid());
        try (Tap tap = Tap.open(TapHandle.ofInheritedFd(3)); Arena arena = Arena.ofConfined()) {
            MemorySegment hdr = arena.allocate(VirtioNetHdr.SIZE);
            MemorySegment frame = arena.allocate(60);
            frame.asSlice(0, 12).fill((byte) 0xff);
            frame.set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 12, (short) 0xb588); // 0x88b5, big-endian
            int written = 0;
            for (int i = 0; i < n; i++) {
                if (tap.write(hdr, frame) == 60) {
                    written++;
                }
            }
            System.out.println("written " + written);
            TapStatistics st = tap.statistics();
            System.out.println("writes " + st.writes().frames() + " " + st.writes().bytes());
            System.out.println("kernel " + (st.kernel().isPresent() ? "yes" : "no") + " " + st.kernelSource());
            System.out.println("rx " + st.kernel().map(TapStatistics.Kernel::rxPackets).orElse(-1L));
        }
        System.out.flush();
    }
}
