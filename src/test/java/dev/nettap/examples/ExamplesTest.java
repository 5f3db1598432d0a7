package dev.nettap.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.vnet.Checksums;
import dev.nettap.vnet.OffloadTranslation;
import dev.nettap.vnet.RxMetadata;
import dev.nettap.vnet.VirtioNetHdr;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The javadoc's examples are the compiled code of {@link Examples}, and its translation examples do
 * what their comments say (the device examples need a kernel; they are compiled, not run).
 */
class ExamplesTest {
    private static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    /** Ethernet + IPv4 (20) + TCP (20) + payload, addresses 10.0.0.1 -> 10.0.0.2. */
    private static MemorySegment tcp4Frame(Arena arena, int payload) {
        MemorySegment f = arena.allocate(14 + 20 + 20 + payload);
        f.set(BE16, 12, (short) 0x0800);
        f.set(ValueLayout.JAVA_BYTE, 14, (byte) 0x45);
        f.set(BE16, 14 + 2, (short) (20 + 20 + payload));
        f.set(ValueLayout.JAVA_BYTE, 14 + 8, (byte) 64);
        f.set(ValueLayout.JAVA_BYTE, 14 + 9, (byte) 6);
        f.set(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN), 14 + 12, 0x0a000001);
        f.set(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN), 14 + 16, 0x0a000002);
        f.set(ValueLayout.JAVA_BYTE, 34 + 12, (byte) 0x50);
        for (int i = 0; i < payload; i++) f.set(ValueLayout.JAVA_BYTE, 54 + i, (byte) i);
        return f;
    }

    @Test
    void transmitBuildsATso4HeaderAndReceiveReadsItBack() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment frame = tcp4Frame(arena, 3000);
            MemorySegment hdr = arena.allocate(VirtioNetHdr.SIZE);
            hdr.fill((byte) 0x5a);
            assertEquals(frame.byteSize(), Examples.transmit(frame, hdr), "the whole frame is written");
            assertEquals(VirtioNetHdr.GsoType.TCPV4, VirtioNetHdr.gsoType(hdr));
            assertEquals(1448, VirtioNetHdr.gsoSize(hdr));
            assertTrue(VirtioNetHdr.hasFlag(hdr, VirtioNetHdr.Flag.NEEDS_CSUM));
            assertEquals(34, VirtioNetHdr.csumStart(hdr));
            assertEquals(16, VirtioNetHdr.csumOffset(hdr));
            assertEquals(Checksums.ipv4HeaderChecksum(frame, 14), Short.toUnsignedInt(frame.get(BE16, 14 + 10)),
                    "IPv4 header checksum stored");

            RxMetadata md = Examples.receive(hdr, frame, true);
            assertEquals(VirtioNetHdr.GsoType.TCPV4, md.gsoType());
            assertEquals(1448, md.gsoSize());
            assertEquals(34, md.partialStart());
            assertEquals(16, md.partialOffset());
            assertEquals(54, md.headerLength());
        }
    }

    @Test
    void transmitRefusesAFrameItsMetadataDoesNotFit() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment frame = tcp4Frame(arena, 3000).asSlice(0, 40);   // cut inside the IPv4 header
            MemorySegment hdr = arena.allocate(VirtioNetHdr.SIZE);
            hdr.fill((byte) 0x5a);
            assertEquals(OffloadTranslation.REFUSED, Examples.transmit(frame, hdr));
            for (int i = 0; i < VirtioNetHdr.SIZE; i++) assertEquals(0x5a, hdr.get(ValueLayout.JAVA_BYTE, i), "nothing written");
        }
    }

    @Test
    void receiveCompletesAPartialChecksumForAGuestWithoutOffloads() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment frame = tcp4Frame(arena, 100);
            MemorySegment hdr = arena.allocate(VirtioNetHdr.SIZE);
            // What the kernel hands over with TUN_F_CSUM: NEEDS_CSUM, the pseudo-header sum as seed.
            VirtioNetHdr.clear(hdr);
            VirtioNetHdr.setFlag(hdr, VirtioNetHdr.Flag.NEEDS_CSUM, true);
            VirtioNetHdr.setCsumStart(hdr, 34);
            VirtioNetHdr.setCsumOffset(hdr, 16);
            int pseudo = Checksums.pseudoHeaderSumIpv4(frame, 14, Checksums.PROTO_TCP, 120);
            frame.set(BE16, 34 + 16, (short) pseudo);
            RxMetadata md = Examples.receive(hdr, frame, false);
            assertEquals(RxMetadata.ChecksumState.GOOD, md.l4Checksum());
            // A segment with a correct checksum sums, with its pseudo-header, to 0xFFFF.
            assertEquals(0xFFFF, Checksums.rfc1071(frame, 34, 120, pseudo));
        }
    }

    private static final Pattern REGION = Pattern.compile("// @start region=([\\w-]+)\n(.*?)\n\\s*// @end", Pattern.DOTALL);
    private static final Pattern INLINE = Pattern.compile("\\{@snippet lang=java id=([\\w-]+) :\n");

    private static Path root() {
        Path root = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        while (root != null && !Files.isRegularFile(root.resolve("pom.xml"))) root = root.getParent();
        assertTrue(root != null, "no pom.xml above " + System.getProperty("user.dir"));
        return root;
    }

    /** The inline snippets of a doc comment file, by id, with the comment's leading {@code *} removed. */
    private static Map<String, String> inlineSnippets(Path file) throws IOException {
        String text = Files.readString(file);
        Map<String, String> out = new LinkedHashMap<>();
        Matcher m = INLINE.matcher(text);
        while (m.find()) {
            int depth = 1, i = m.end();
            for (; depth > 0; i++) {
                char c = text.charAt(i);
                if (c == '{') depth++;
                else if (c == '}') depth--;
            }
            String body = text.substring(m.end(), i - 1);
            StringBuilder b = new StringBuilder();
            for (String line : body.split("\n", -1)) b.append(line.replaceFirst("^\\s*\\* ?", "")).append('\n');
            out.put(m.group(1), b.toString().stripTrailing().stripIndent().strip());
        }
        return out;
    }

    @Test
    void javadocExamplesAreTheCompiledRegions() throws IOException {
        Path root = root();
        Map<String, String> regions = new LinkedHashMap<>();
        Matcher m = REGION.matcher(Files.readString(root.resolve("src/test/java/dev/nettap/examples/Examples.java")));
        while (m.find()) regions.put(m.group(1), m.group(2).stripTrailing().stripIndent().strip());
        Map<String, String> inDocs = new LinkedHashMap<>();
        for (String f : List.of("src/main/java/module-info.java", "src/main/java/dev/nettap/vnet/package-info.java")) {
            inDocs.putAll(inlineSnippets(root.resolve(f)));
        }
        assertEquals(List.of("readme", "by-name", "in-namespace", "inherited", "scm-rights", "multi-queue", "macvtap",
                "prepared", "device", "tx", "rx"),
                List.copyOf(inDocs.keySet()), "snippets in the javadoc");
        assertEquals(regions.keySet(), inDocs.keySet(), "every region is quoted once, every snippet is a region");
        for (String id : regions.keySet()) {
            assertEquals(regions.get(id), inDocs.get(id), "javadoc snippet " + id + " differs from Examples.java");
        }
    }
}
