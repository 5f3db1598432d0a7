package dev.nettap.bench;

import dev.nettap.Tap;
import dev.nettap.TapException;
import dev.nettap.internal.uring.Completions;
import dev.nettap.internal.uring.IoUring;
import dev.nettap.internal.uring.UringException;
import dev.nettap.vnet.VirtioNetHdr;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
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
 * Batched TAP writes through the io_uring engine against one {@code writev} per frame, on the
 * persistent TAP {@code bt0} that {@code bench/uring} (or {@code bench/tap}) prepares. Every score
 * is per frame ({@code @OperationsPerInvocation}); {@code src/jmh/c/uringwrite.c} runs the liburing
 * version of the batched loop and {@code src/jmh/c/tapwrite.c} the {@code writev} one.
 *
 * <ul>
 * <li>{@code ringWritev}: {@value #BATCH} {@code WRITEV}s (header + frame, registered file) queued,
 *     one {@code io_uring_enter} submitting them and waiting for their {@value #BATCH} completions,
 *     then reaped;</li>
 * <li>{@code ringWriteFixed}: the same with {@code WRITE_FIXED} from a registered region holding
 *     header and frame back to back (guest memory as one region);</li>
 * <li>{@code writevPerFrame}: {@value #BATCH} {@code Tap.write} calls, one {@code writev} each.</li>
 * </ul>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class UringTapBench {
    /** Frames per batch (per {@code io_uring_enter}). */
    public static final int BATCH = 32;

    @State(Scope.Thread)
    public static class Ring {
        @Param({"64", "1514"})
        public int size;
        IoUring ring;
        Arena arena;
        Tap tap;
        MemorySegment[] iov;
        Completions done;
        int expected;
        MemorySegment guestHdr;
        MemorySegment guestFrame;

        @Setup(Level.Trial)
        public void setUp() throws TapException, UringException {
            tap = TapPathBench.open("bt0");
            ring = IoUring.open(BATCH, 2 * BATCH, 4096 + size);
            ring.registerFiles(tap.fd());
            MemorySegment hdr = ring.data().asSlice(0, VirtioNetHdr.SIZE);
            MemorySegment frame = ring.data().asSlice(4096, size);
            Frames.build(frame, hdr);
            iov = new MemorySegment[] {hdr, frame};
            arena = Arena.ofConfined();
            MemorySegment guest = arena.allocate(VirtioNetHdr.SIZE + size, 4096);
            guestHdr = guest.asSlice(0, VirtioNetHdr.SIZE);
            guestFrame = guest.asSlice(VirtioNetHdr.SIZE, size);
            Frames.build(guestFrame, guestHdr);
            ring.registerBuffer(guest);
            done = new Completions(2 * BATCH);
            expected = VirtioNetHdr.SIZE + size;
            long r = tap.write(hdr, frame);
            if (r != size) {
                throw new IllegalStateException("first write returned " + r + " (is bt0 up?)");
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            ring.close();
            tap.close();
            arena.close();
        }

        /** Waits for and checks {@value #BATCH} completions; returns the bytes they wrote. */
        long complete() throws UringException {
            long bytes = 0;
            int got = 0;
            while (got < BATCH) {
                ring.await(done, BATCH - got, -1);
                for (int i = 0; i < done.count(); i++) {
                    int res = done.result(i);
                    if (res != expected) {
                        throw new IllegalStateException("write completed with " + res + ", expected " + expected);
                    }
                    bytes += res;
                }
                got += done.count();
            }
            return bytes;
        }
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long ringWritev(Ring s) throws UringException {
        for (int i = 0; i < BATCH; i++) {
            s.ring.prepWritev(0, IoUring.FIXED_FILE, s.iov, 2, i);
        }
        return s.complete();
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long ringWriteFixed(Ring s) throws UringException {
        for (int i = 0; i < BATCH; i++) {
            s.ring.prepWriteFixed(0, IoUring.FIXED_FILE, 0, s.expected, i);
        }
        return s.complete();
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long writevPerFrame(Ring s) {
        long bytes = 0;
        for (int i = 0; i < BATCH; i++) {
            bytes += s.tap.write(s.guestHdr, s.guestFrame);
        }
        return bytes;
    }
}
