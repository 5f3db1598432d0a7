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
 * operation, so each one takes the fix-up path), of the same frame already correct, and RX parsing
 * of a TSO4 header.
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

    @Benchmark
    public RxMetadata rxParseTso4() {
        OffloadTranslation.parseRxHeader(rxHdr, frame, rx);
        return rx;
    }
}
