package dev.nettap.bench;

import dev.nettap.RingCompletions;
import dev.nettap.Tap;
import dev.nettap.TapException;
import dev.nettap.TapRing;
import dev.nettap.vnet.VirtioNetHdr;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The public io_uring TAP path ({@link TapRing}) on the persistent TAP {@code bt0} that
 * {@code bench/uring} prepares: {@value #BATCH} {@code submitWrite}s, then {@code await} until their
 * {@value #BATCH} completions are reaped (per frame; compare {@code UringTapBench}, the engine
 * underneath, and {@code src/jmh/c/uringwrite.c}). {@code -prof gc} shows what the path allocates.
 * <ul>
 * <li>{@code tapRingWrite}: header and frame back to back in the ring's {@code txMemory()} (one
 *     {@code WRITE} each);</li>
 * <li>{@code tapRingWriteFixed}: the same from a registered guest region ({@code WRITE_FIXED}).</li>
 * </ul>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class TapRingBench {
    /** Frames per batch. */
    public static final int BATCH = 32;

    @State(Scope.Thread)
    public static class Ring {
        @Param({"64", "1514"})
        public int size;
        Tap tap;
        Arena arena;
        TapRing ring;
        RingCompletions out;
        MemorySegment hdr, frame, guestHdr, guestFrame;

        @Setup(Level.Trial)
        public void setUp() throws TapException {
            tap = TapPathBench.open("bt0");
            arena = Arena.ofConfined();
            MemorySegment guest = arena.allocate(VirtioNetHdr.SIZE + size, 4096);
            guestHdr = guest.asSlice(0, VirtioNetHdr.SIZE);
            guestFrame = guest.asSlice(VirtioNetHdr.SIZE, size);
            Frames.build(guestFrame, guestHdr);
            TapRing.Config c = new TapRing.Config(64, 8, 2048, 4096 + size, TapRing.ReadMode.AUTO, guest);
            ring = TapRing.open(List.of(tap), c);
            hdr = ring.txMemory().asSlice(0, VirtioNetHdr.SIZE);
            frame = ring.txMemory().asSlice(VirtioNetHdr.SIZE, size);
            Frames.build(frame, hdr);
            out = new RingCompletions(2 * BATCH);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            ring.close();
            tap.close();
            arena.close();
        }

        long complete() {
            long bytes = 0;
            int got = 0;
            while (got < BATCH) {
                int n = ring.await(out, -1);
                for (int i = 0; i < n; i++) {
                    if (out.isRead(i)) { // bt0's kernel side may send something: give the buffer back
                        if (out.buffer(i) >= 0) {
                            ring.release(out.buffer(i));
                        }
                        continue;
                    }
                    long s = out.status(i);
                    if (s != size) {
                        throw new IllegalStateException("write completed with " + Tap.describe(s) + ", expected " + size);
                    }
                    bytes += s;
                    got++;
                }
            }
            return bytes;
        }
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long tapRingWrite(Ring s) {
        for (int i = 0; i < BATCH; i++) {
            s.ring.submitWrite(0, s.hdr, s.frame, s.size, i);
        }
        return s.complete();
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long tapRingWriteFixed(Ring s) {
        for (int i = 0; i < BATCH; i++) {
            s.ring.submitWrite(0, s.guestHdr, s.guestFrame, s.size, i);
        }
        return s.complete();
    }
}
