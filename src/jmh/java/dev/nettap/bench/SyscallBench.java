package dev.nettap.bench;

import dev.nettap.internal.sys.Sys;
import dev.nettap.internal.sys.ProcessCalls;
import dev.nettap.internal.sys.FileCalls;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
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
 * The cost of one downcall through nettap's syscall layer: {@code getpid} (no errno capture) and
 * a failing {@code close(-1)} with errno captured into a preallocated slot and read back. Compare
 * with {@code src/jmh/c/syscall.c}, run by {@code bench/tap} in the same invocation.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class SyscallBench {
    private Arena arena;
    private MemorySegment slot;

    @Setup
    public void setUp() {
        arena = Arena.ofConfined();
        slot = Sys.newErrnoSlot(arena);
    }

    @TearDown
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public int getpid() {
        return ProcessCalls.getpid();
    }

    /** {@code close(-1)} fails with EBADF: the downcall, the errno capture, and reading it. */
    @Benchmark
    public int closeBadFdErrno() {
        int r = FileCalls.close(slot, -1);
        return r < 0 ? Sys.errno(slot) : r;
    }

    /** As {@link #closeBadFdErrno()}, with the per-thread slot the control paths use. */
    @Benchmark
    public int closeBadFdThreadSlot() {
        MemorySegment s = Sys.errnoSlot();
        int r = FileCalls.close(s, -1);
        return r < 0 ? Sys.errno(s) : r;
    }
}
