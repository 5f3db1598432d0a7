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
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * RFC 1071 over a native segment, 64-byte aligned: the fast sum against the byte-pair reference.
 * The C reference of the same work is {@code rfc1071} in {@code src/jmh/c/csum.c}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class ChecksumBench {

    @Param({"20", "64", "1500", "65535"})
    public int size;

    private Arena arena;
    private MemorySegment data;

    @Setup
    public void setup() {
        arena = Arena.ofConfined();
        data = arena.allocate(size, 64);
        Random r = new Random(size);
        for (long i = 0; i < size; i++) {
            data.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt());
        }
    }

    @TearDown
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public int fast() {
        return Checksums.rfc1071(data, 0, size);
    }

    @Benchmark
    public int reference() {
        return Checksums.rfc1071Reference(data, 0, size);
    }
}
