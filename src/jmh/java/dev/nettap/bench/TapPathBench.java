package dev.nettap.bench;

import dev.nettap.vnet.VirtioNetHdr;
import dev.nettap.Tap;
import dev.nettap.TapException;
import dev.nettap.TapHandle;
import dev.nettap.TapMode;
import dev.nettap.TapSelector;
import java.time.Duration;
import dev.nettap.internal.linux.iovec;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The raw frame path on real TAPs. Needs root and the namespace {@code bench/tap} prepares
 * ({@code -Dnettap.bench.netns=/run/netns/NAME}): a persistent TAP {@code bt0} (link up) for the
 * write loop, and two TAPs {@code ba0}/{@code bb0} in a bridge for the read path.
 *
 * <ul>
 * <li>{@code write}: one {@code writev} of the 12-byte header plus a 64-, 1514-byte or 64 KiB GSO
 *     frame, the loop {@code src/jmh/c/tapwrite.c} runs too;</li>
 * <li>{@code readWouldBlock}: a {@code readv} on an empty queue (the downcall and errno path);</li>
 * <li>{@code bridgedRoundTrip}: write a 64-byte broadcast frame to {@code ba0}, read it from
 *     {@code bb0} (the bridge floods it there).</li>
 * <li>{@code forwardStep}: the forwarding loop's step ({@link dev.nettap.Forwarder}'s): a 64-byte
 *     frame arrives on {@code bb0} (written to {@code ba0}), a {@link TapSelector} reports it, it is
 *     read with {@link Tap#readLength} into a 69632-byte buffer and written on to {@code bt0} with
 *     {@link Tap#write(MemorySegment, MemorySegment, long)}: no slice. {@code -prof gc} must show 0 B/op.</li>
 * </ul>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class TapPathBench {
    /** glibc's {@code writev} with errno captured: the reference {@link #rawWritev} measures. */
    private static final MethodHandle PLAIN_WRITEV = plainWritev();

    @SuppressWarnings("restricted") // see SAFETY below
    private static MethodHandle plainWritev() {
        // SAFETY: the generated descriptor of ssize_t writev(int, const struct iovec *, int); the
        // only caller passes a Writer's iovec table and segments, all in its arena, open for the trial.
        return Linker.nativeLinker().downcallHandle(linux_h.writev$address(), linux_h.writev$descriptor(),
                Linker.Option.captureCallState("errno"));
    }
    static Path netns() {
        String ns = System.getProperty("nettap.bench.netns");
        if (ns == null) {
            throw new IllegalStateException("run through bench/tap: it makes the namespace and passes -Dnettap.bench.netns");
        }
        return Path.of(ns);
    }

    static Tap open(String dev) throws TapException {
        return Tap.open(TapHandle.createInNamespace(netns(), dev, TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE));
    }

    @State(Scope.Thread)
    public static class Writer {
        @Param({"64", "1514", "65549"})
        public int size;
        Arena arena;
        Tap tap;
        MemorySegment hdr;
        MemorySegment frame;
        MemorySegment iov;
        MemorySegment errno;
        int fd;

        @Setup(Level.Trial)
        public void setUp() throws TapException {
            arena = Arena.ofShared();
            hdr = arena.allocate(VirtioNetHdr.SIZE);
            frame = arena.allocate(size, 64);
            Frames.build(frame, hdr);
            iov = iovec.allocateArray(2, arena);
            iovec.iov_base(iovec.asSlice(iov, 0), hdr);
            iovec.iov_len(iovec.asSlice(iov, 0), hdr.byteSize());
            iovec.iov_base(iovec.asSlice(iov, 1), frame);
            iovec.iov_len(iovec.asSlice(iov, 1), frame.byteSize());
            errno = Sys.newErrnoSlot(arena);
            tap = open("bt0");
            fd = tap.fd();
            long r = tap.write(hdr, frame);
            if (r != size) {
                throw new IllegalStateException("first write returned " + r + " (is bt0 up?): "
                        + (r == Tap.MALFORMED ? Tap.explainMalformed(TapMode.TAP, hdr, size) : ""));
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            tap.close();
            arena.close();
        }
    }

    @Benchmark
    public long write(Writer w) {
        return w.tap.write(w.hdr, w.frame);
    }

    /**
     * The same {@code writev} straight through the syscall layer, iovec prepared once: what
     * {@link #write} costs beyond it is the library's own per-frame work (checks, close gate,
     * iovec fill, status mapping).
     */
    @Benchmark
    public long rawWritev(Writer w) {
        try {
            return (long) PLAIN_WRITEV.invokeExact(w.errno, w.fd, w.iov, 2);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    @Benchmark
    public long readWouldBlock(Writer w) {
        return w.tap.read(w.hdr, w.frame);
    }

    @State(Scope.Thread)
    public static class Bridge {
        Arena arena;
        Tap a;
        Tap b;
        MemorySegment hdr;
        MemorySegment frame;
        MemorySegment rxHdr;
        MemorySegment rx;
        Tap out; // bt0, for forwardStep only
        TapSelector selector; // forwardStep only
        MemorySegment big; // forwardStep's receive buffer, Forwarder.BUFFER_SIZE

        @Setup(Level.Trial)
        public void setUp() throws TapException {
            arena = Arena.ofShared();
            hdr = arena.allocate(VirtioNetHdr.SIZE);
            frame = arena.allocate(64, 64);
            Frames.build(frame, hdr);
            frame.asSlice(0, 6).fill((byte) 0xff); // broadcast: flooded to bb0
            rxHdr = arena.allocate(VirtioNetHdr.SIZE);
            rx = arena.allocate(2048, 64);
            a = open("ba0");
            b = open("bb0");
            big = arena.allocate(dev.nettap.Forwarder.BUFFER_SIZE, 64);
        }

        /** bt0 and the selector, opened only by the benchmark that uses them (bt0 takes one holder). */
        void forForwarding() throws TapException {
            if (out == null) {
                out = open("bt0");
                selector = TapSelector.open();
                selector.register(b, TapSelector.READABLE);
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            if (selector != null) {
                selector.close();
                out.close();
            }
            a.close();
            b.close();
            arena.close();
        }
    }

    private static final Duration SECOND = Duration.ofSeconds(1);

    @Benchmark
    public long forwardStep(Bridge s) throws TapException {
        s.forForwarding();
        s.a.write(s.hdr, s.frame, 64);
        if (s.selector.select(SECOND) != 1) {
            throw new IllegalStateException("the selector did not report the bridged frame");
        }
        long n = s.b.readLength(s.rxHdr, s.big);
        if (n < 0) {
            throw new IllegalStateException("read: " + Tap.describe(n));
        }
        return s.out.write(s.rxHdr, s.big, n);
    }

    @Benchmark
    public long bridgedRoundTrip(Bridge s) {
        s.a.write(s.hdr, s.frame);
        for (int i = 0; i < 1_000_000; i++) { // the bridge forwards synchronously; bounded anyway
            long n = s.b.read(s.rxHdr, s.rx);
            if (n != Tap.WOULD_BLOCK) {
                return n;
            }
        }
        throw new IllegalStateException("the bridge did not forward the frame");
    }
}
