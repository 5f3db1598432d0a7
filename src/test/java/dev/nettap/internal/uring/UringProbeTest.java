package dev.nettap.internal.uring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.nettap.internal.linux.linux_h;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The probe (forced fallback, opcode probing, how a failed set-up is classified) and the engine's
 * refusals of misuse, against this machine's kernel (no device needed: io_uring needs no privilege
 * while {@code kernel.io_uring_disabled} is 0).
 */
class UringProbeTest {
    private static String sysctl() throws IOException {
        Path p = Path.of("/proc/sys/kernel/io_uring_disabled");
        return Files.exists(p) ? Files.readString(p).strip() : "absent";
    }

    private static void assumeUringAllowed() throws IOException {
        assumeTrue(System.getProperty("os.name", "").equals("Linux"), "io_uring is Linux only");
        String s = sysctl();
        assumeTrue(s.equals("0") || s.equals("absent"), "kernel.io_uring_disabled=" + s + " here");
    }

    @Test
    void forcedOffFallsBackWithOneLineSayingWhy() {
        String before = System.getProperty(UringProbe.PROPERTY);
        System.setProperty(UringProbe.PROPERTY, "off");
        try {
            UringSupport s = UringProbe.select(); // logs the one line
            assertEquals(UringSupport.Kind.DISABLED, s.kind());
            assertFalse(s.usable());
            assertFalse(s.multishotRead());
            assertTrue(s.fallbackMessage().contains("-Ddev.nettap.uring=off"), s.fallbackMessage());
            assertTrue(s.fallbackMessage().contains("readv/writev"), s.fallbackMessage());
        } finally {
            if (before == null) {
                System.clearProperty(UringProbe.PROPERTY);
            } else {
                System.setProperty(UringProbe.PROPERTY, before);
            }
        }
    }

    @Test
    void thisKernelHasEverythingTheEngineNeeds() throws IOException {
        assumeUringAllowed();
        UringSupport s = UringProbe.probe();
        assertEquals(UringSupport.Kind.AVAILABLE, s.kind(), s.toString());
        assertTrue(s.usable());
        for (int op : UringProbe.requiredOpcodes()) {
            assertTrue(s.supports(op), "opcode " + op);
        }
        assertEquals(IoUring.REQUIRED_FEATURES, s.features() & IoUring.REQUIRED_FEATURES);
        assertTrue(s.lastOp() > linux_h.IORING_OP_ASYNC_CANCEL(), "last_op " + s.lastOp());
        // multishot reads exist from 6.7 (opcode 49): the probe's answer must match the kernel's last_op
        assertEquals(s.lastOp() > linux_h.IORING_OP_READ_MULTISHOT(), s.multishotRead(), s.toString());
    }

    @Test
    void anOpcodeTheKernelLacksIsNamed() throws IOException {
        assumeUringAllowed();
        UringSupport all = UringProbe.probe();
        int beyond = all.lastOp() + 1; // the first opcode this kernel does not know
        UringSupport s = UringProbe.probe(linux_h.IORING_OP_READV(), beyond);
        assertEquals(UringSupport.Kind.MISSING_OPCODE, s.kind(), s.toString());
        assertTrue(s.detail().contains("opcode " + beyond), s.detail());
        assertFalse(s.detail().contains("opcode " + linux_h.IORING_OP_READV() + ","), s.detail());
        assertTrue(s.supports(linux_h.IORING_OP_READV()));
        assertFalse(s.supports(beyond));
        assertFalse(s.usable());
    }

    @Test
    void failedSetUpIsClassified() throws IOException {
        UringSupport absent = UringProbe.setupFailed(linux_h.ENOSYS());
        assertEquals(UringSupport.Kind.ABSENT, absent.kind());
        assertTrue(absent.detail().contains("ENOSYS"), absent.detail());
        UringSupport forbidden = UringProbe.setupFailed(linux_h.EPERM());
        assertEquals(UringSupport.Kind.FORBIDDEN, forbidden.kind());
        String s = sysctl();
        assertTrue(s.equals("absent") ? forbidden.detail().contains("seccomp")
                : forbidden.detail().contains("kernel.io_uring_disabled=" + s), forbidden.detail());
        UringSupport other = UringProbe.setupFailed(linux_h.ENOMEM());
        assertEquals(UringSupport.Kind.FAILED, other.kind());
        assertTrue(other.detail().contains("ENOMEM"), other.detail());
    }

    @Test
    void misuseIsRefusedBeforeAnythingIsQueued() throws Exception {
        assumeUringAllowed();
        try (IoUring ring = IoUring.open(4, 0, 4096); Arena other = Arena.ofConfined()) {
            MemorySegment inside = ring.data().asSlice(0, 64);
            MemorySegment outside = other.allocate(64);
            MemorySegment[] bad = {inside, outside};
            assertThrows(IllegalArgumentException.class, () -> ring.prepWritev(0, 0, bad, 2, 1), "memory not the ring's");
            assertThrows(IllegalArgumentException.class, () -> ring.prepRead(0, 0, outside, 0, 64, 1));
            assertThrows(IllegalArgumentException.class, () -> ring.prepRead(0, 0, inside, 32, 64, 1), "past the segment");
            assertThrows(IllegalArgumentException.class, () -> ring.prepReadv(0, 0, new MemorySegment[] {inside.asReadOnly()}, 1, 1));
            assertThrows(IllegalArgumentException.class, () -> ring.prepWrite(0, 0, inside, 0, 64, IoUring.RESERVED_USER_DATA));
            assertThrows(IllegalArgumentException.class, () -> ring.prepWrite(0, IoUring.FIXED_FILE, inside, 0, 64, 1),
                    "no registered files");
            assertThrows(IllegalArgumentException.class, () -> ring.prepWrite(-1, 0, inside, 0, 64, 1));
            assertThrows(IllegalStateException.class, () -> ring.prepWriteFixed(0, 0, 0, 64, 1), "no registered region");
            assertThrows(IllegalStateException.class, () -> ring.prepReadMultishot(0, 0, 1), "no buffer ring");
            assertThrows(IllegalArgumentException.class, () -> ring.prepWritev(0, 0, new MemorySegment[65], 65, 1));
            ring.registerBuffer(other.allocate(8192, 4096));
            assertThrows(IllegalArgumentException.class, () -> ring.prepWriteFixed(0, 0, 8192 - 32, 64, 1), "past the region");
            ring.setUpBufferRing(0, 4, 256);
            assertThrows(IllegalArgumentException.class, () -> ring.recycleBuffer(2), "a buffer the kernel still has");
            assertEquals(0, ring.pending(), "nothing was queued by any refused call");
            AtomicReference<Throwable> fromElsewhere = new AtomicReference<>();
            Thread t = Thread.ofPlatform().start(() -> {
                try {
                    ring.prepWrite(0, 0, inside, 0, 64, 1);
                } catch (Throwable e) {
                    fromElsewhere.set(e);
                }
            });
            t.join(10_000);
            assertTrue(fromElsewhere.get() instanceof WrongThreadException, String.valueOf(fromElsewhere.get()));
            ring.close();
            assertThrows(IllegalStateException.class, () -> ring.prepWrite(0, 0, inside, 0, 64, 1), "closed");
            assertThrows(IllegalStateException.class, () -> inside.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0),
                    "data() is freed with the ring");
        }
    }
}
