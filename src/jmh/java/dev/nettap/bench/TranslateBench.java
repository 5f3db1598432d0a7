package dev.nettap.bench;

import dev.nettap.vnet.Checksums;
import dev.nettap.vnet.IpVersion;
import dev.nettap.vnet.OffloadTranslation;
import dev.nettap.vnet.RxMetadata;
import dev.nettap.vnet.TxMetadata;
import dev.nettap.vnet.VirtioNetHdr;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
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
 * TX translation of an NDIS-style TSO4 super-frame (the three NDIS fields are reset every
 * operation, so each one takes the fix-up path), of the same frame already correct, refusals of
 * malformed frames (one refused at the first check, one refused at the last: the same good frame
 * with the reserved segment size 65535, after every header was parsed), and RX parsing of a TSO4
 * header.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class TranslateBench {

    private static final ValueLayout.OfShort BE16 =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private Arena arena;
    private MemorySegment frame;
    private MemorySegment correct;
    private MemorySegment txHdr;
    private MemorySegment rxHdr;
    private final TxMetadata tx = new TxMetadata();
    private final TxMetadata lateBad = new TxMetadata();
    private final TxMetadata earlyBad = new TxMetadata();
    private final RxMetadata rx = new RxMetadata();
    private short ndisSeed;

    @Setup
    public void setup() {
        arena = Arena.ofConfined();
        int payload = 4 * 1448;
        frame = arena.allocate(14 + 20 + 20 + payload, 8);
        frame.set(BE16, 12, (short) 0x0800);
        frame.set(ValueLayout.JAVA_BYTE, 14, (byte) 0x45);
        frame.set(ValueLayout.JAVA_BYTE, 14 + 8, (byte) 64);
        frame.set(ValueLayout.JAVA_BYTE, 14 + 9, (byte) 6);
        frame.set(BE16, 14 + 12, (short) 0xC0A8);
        frame.set(BE16, 14 + 16, (short) 0x0A00);
        frame.set(ValueLayout.JAVA_BYTE, 34 + 12, (byte) 0x50);
        for (long i = 54; i < frame.byteSize(); i++) {
            frame.set(ValueLayout.JAVA_BYTE, i, (byte) i);
        }
        ndisSeed = (short) Checksums.pseudoHeaderSumIpv4(frame, 14, 6, 0);
        txHdr = arena.allocate(VirtioNetHdr.LAYOUT);
        rxHdr = arena.allocate(VirtioNetHdr.LAYOUT);
        tx.clear().ipVersion(IpVersion.IPV4).l2Length(14).l3Length(20).l4Length(20)
                .tcpSegmentation(1448).ipv4HeaderChecksum(true);
        OffloadTranslation.buildTxHeader(tx, frame, rxHdr);
        correct = arena.allocate(frame.byteSize(), 8).copyFrom(frame);
        lateBad.clear().ipVersion(IpVersion.IPV4).l2Length(14).l3Length(20).l4Length(20)
                .tcpSegmentation(0xFFFF).ipv4HeaderChecksum(true);
        earlyBad.clear().ipVersion(IpVersion.IPV4).l2Length(14).l3Length(20).l4Length(70_000)
                .tcpSegmentation(1448).ipv4HeaderChecksum(true);
        if (OffloadTranslation.buildTxHeader(lateBad, correct, txHdr) != OffloadTranslation.REFUSED
                || OffloadTranslation.buildTxHeader(earlyBad, correct, txHdr) != OffloadTranslation.REFUSED
                || OffloadTranslation.buildTxHeader(tx, correct, txHdr) != correct.byteSize()) {
            throw new IllegalStateException("benchmark frames not as intended");
        }
    }

    @TearDown
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public long txTso4WithFixups() {
        frame.set(BE16, 16, (short) 0);       // IPv4 total length
        frame.set(BE16, 24, (short) 0);       // IPv4 header checksum
        frame.set(BE16, 50, ndisSeed);        // TCP seed without length
        return OffloadTranslation.buildTxHeader(tx, frame, txHdr);
    }

    /** The same frame once repaired: the translation validates and writes the header, nothing else changes. */
    @Benchmark
    public long txTso4AlreadyCorrect() {
        return OffloadTranslation.buildTxHeader(tx, correct, txHdr);
    }

    /** A malformed frame refused after every header was parsed (gso_size 65535): the costliest refusal. */
    @Benchmark
    public long txRefusedLate() {
        return OffloadTranslation.buildTxHeader(lateBad, correct, txHdr);
    }

    /** A malformed frame refused at the first check (lengths beyond the frame). */
    @Benchmark
    public long txRefusedEarly() {
        return OffloadTranslation.buildTxHeader(earlyBad, correct, txHdr);
    }

    @Benchmark
    public RxMetadata rxParseTso4() {
        OffloadTranslation.parseRxHeader(rxHdr, frame, rx);
        return rx;
    }
}
