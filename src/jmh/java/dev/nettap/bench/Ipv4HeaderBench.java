package dev.nettap.bench;

import dev.nettap.vnet.Checksums;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The IPv4 header checksum of a 20-byte header (IHL 5) in a native segment, validation included:
 * {@link Checksums#ipv4HeaderChecksum} and {@link Checksums#setIpv4HeaderChecksum}. The header sits
 * after a 14-byte Ethernet header, where a frame puts it (so it is only 2-byte aligned). The C
 * reference of the same work is {@code ipv4_header} in {@code src/jmh/c/csum.c}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class Ipv4HeaderBench {

    private Arena arena;
    private MemorySegment frame;

    @Setup
    public void setup() {
        arena = Arena.ofConfined();
        frame = arena.allocate(64, 64);
        Random r = new Random(791);
        for (long i = 0; i < 64; i++) {
            frame.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt());
        }
        frame.set(ValueLayout.JAVA_BYTE, 14, (byte) 0x45);
    }

    @TearDown
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public int ipv4HeaderChecksum() {
        return Checksums.ipv4HeaderChecksum(frame, 14);
    }

    @Benchmark
    public int setIpv4HeaderChecksum() {
        return Checksums.setIpv4HeaderChecksum(frame, 14);
    }
}
