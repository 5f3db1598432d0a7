package dev.nettap.bench;

import dev.nettap.vnet.VirtioNetHdr;
import dev.nettap.vnet.VirtioNetHdr.Flag;
import dev.nettap.vnet.VirtioNetHdr.GsoType;
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
 * Building and parsing the 12-byte virtio-net header through {@link VirtioNetHdr} in a native
 * segment. Build writes a whole TSO4 header (clear, NEEDS_CSUM, gso_type, hdr_len, gso_size,
 * csum_start, csum_offset) from values held in fields; parse reads every field, the GSO type as a
 * checked enum, into a caller-owned holder. The C references of the same work are
 * {@code hdr_build} and {@code hdr_parse} in {@code src/jmh/c/csum.c}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class HeaderBench {

    /** What a parse yields; reused, as a NIC model would reuse its own. */
    public static final class Parsed {
        public boolean needsCsum;
        public boolean dataValid;
        public GsoType gsoType;
        public boolean ecn;
        public int hdrLen;
        public int gsoSize;
        public int csumStart;
        public int csumOffset;
        public int numBuffers;
    }

    private Arena arena;
    private MemorySegment txHdr;
    private MemorySegment rxHdr;
    private final Parsed parsed = new Parsed();
    // Not final: the JIT must not fold them into the stores.
    private int csumStart = 34;
    private int csumOffset = 16;
    private int hdrLen = 54;
    private int gsoSize = 1448;

    @Setup
    public void setup() {
        arena = Arena.ofConfined();
        txHdr = arena.allocate(VirtioNetHdr.LAYOUT);
        rxHdr = arena.allocate(VirtioNetHdr.LAYOUT);
        VirtioNetHdr.setFlag(rxHdr, Flag.NEEDS_CSUM, true);
        VirtioNetHdr.setGso(rxHdr, GsoType.TCPV4, false);
        VirtioNetHdr.setHdrLen(rxHdr, 54);
        VirtioNetHdr.setGsoSize(rxHdr, 1448);
        VirtioNetHdr.setCsumStart(rxHdr, 34);
        VirtioNetHdr.setCsumOffset(rxHdr, 16);
        VirtioNetHdr.setNumBuffers(rxHdr, 1);
    }

    @TearDown
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public void build() {
        MemorySegment h = txHdr;
        VirtioNetHdr.clear(h);
        VirtioNetHdr.setFlag(h, Flag.NEEDS_CSUM, true);
        VirtioNetHdr.setGso(h, GsoType.TCPV4, false);
        VirtioNetHdr.setHdrLen(h, hdrLen);
        VirtioNetHdr.setGsoSize(h, gsoSize);
        VirtioNetHdr.setCsumStart(h, csumStart);
        VirtioNetHdr.setCsumOffset(h, csumOffset);
    }

    /** The same header written with {@link VirtioNetHdr#set}: one 8-byte and one 4-byte store. */
    @Benchmark
    public void buildAtOnce() {
        VirtioNetHdr.set(txHdr, true, GsoType.TCPV4, false, hdrLen, gsoSize, csumStart, csumOffset);
    }

    /** The harness's own cost: a benchmark that only returns a field. */
    @Benchmark
    public int baseline() {
        return hdrLen;
    }

    private final VirtioNetHdr.Fields fields = new VirtioNetHdr.Fields();

    /** The same parse with {@link VirtioNetHdr#read}: one 8-byte and one 4-byte load, then shifts. */
    @Benchmark
    public VirtioNetHdr.Fields parseAtOnce() {
        return VirtioNetHdr.read(rxHdr, fields);
    }

    @Benchmark
    public Parsed parse() {
        MemorySegment h = rxHdr;
        Parsed p = parsed;
        p.needsCsum = VirtioNetHdr.hasFlag(h, Flag.NEEDS_CSUM);
        p.dataValid = VirtioNetHdr.hasFlag(h, Flag.DATA_VALID);
        p.gsoType = VirtioNetHdr.gsoType(h);
        p.ecn = VirtioNetHdr.gsoEcn(h);
        p.hdrLen = VirtioNetHdr.hdrLen(h);
        p.gsoSize = VirtioNetHdr.gsoSize(h);
        p.csumStart = VirtioNetHdr.csumStart(h);
        p.csumOffset = VirtioNetHdr.csumOffset(h);
        p.numBuffers = VirtioNetHdr.numBuffers(h);
        return p;
    }
}
