package dev.nettap;

import dev.nettap.vnet.VirtioNetHdr;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.internal.linux.ifreq;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Sys;
import dev.nettap.internal.sys.FileCalls;
import dev.nettap.tool.EchoResponder;
import dev.nettap.tool.ScratchNamespace;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Foundation II against the real kernel: every device lives in a scratch namespace made here. */
@KernelAccess
@Timeout(120)
class TapKernelTest {
    private static final Path TUN = TapHandle.DEFAULT_CLONE_DEVICE;
    private ScratchNamespace ns;

    @BeforeEach
    void namespace() throws IOException {
        ns = ScratchNamespace.create("nettap-t");
    }

    @AfterEach
    void removeNamespace() {
        ns.close();
    }

    private TapHandle create(String name) throws TapException {
        return TapHandle.createInNamespace(ns.path(), name, TapMode.TAP, TUN);
    }

    private static boolean inHostNamespace(String link) {
        return Files.exists(Path.of("/sys/class/net", link));
    }

    @Test
    void createByNameInsideTheNamespaceOnly() throws Exception {
        TapHandle h = create("ntc0");
        assertEquals("ntc0", h.name());
        assertTrue(h.fd() >= 0);
        try (Tap tap = Tap.open(h)) {
            assertEquals(-1, h.fd(), "the Tap took the fd over");
            assertEquals("ntc0", tap.name());
            assertEquals(TapMode.TAP, tap.mode());
            assertTrue(ns.hasLink("ntc0"));
            assertFalse(inHostNamespace("ntc0"), "the device must not appear in the host namespace");
            assertTrue(ns.ip("-d", "link", "show", "ntc0").contains("tun type tap"), "it is a TAP");
        }
        assertFalse(ns.hasLink("ntc0"), "a non-persistent TAP disappears with its last fd");
    }

    @Test
    void kernelChosenNames() throws Exception {
        try (Tap a = Tap.open(create("")); Tap b = Tap.open(create("vm%d")); Tap c = Tap.open(create("vm%d"))) {
            assertTrue(a.name().matches("tap\\d+"), a.name());
            assertEquals("vm0", b.name());
            assertEquals("vm1", c.name());
            assertTrue(ns.hasLink("vm1"));
        }
    }

    /** errno of a raw TUNSETIFF (no validation) with these name bytes, made inside the namespace; 0 if accepted. */
    private int rawSetIff(byte[] name) throws TapException {
        int r = KernelFixtures.rawSetIff(ns.path(), name, linux_h.IFF_TAP() | linux_h.IFF_NO_PI());
        if (r >= 0) {
            FileCalls.close(Sys.errnoSlot(), r);
            return 0;
        }
        return -r;
    }

    @Test
    void nameRulesAgreeWithTheKernel() throws Exception {
        // Names the library rejects, the kernel rejects too (those that fit in ifr_name at all: a
        // longer name would be cut by the kernel, which is why the library refuses it).
        for (InterfaceNamesTest.Bad b : InterfaceNamesTest.BAD) {
            byte[] bytes = b.name().getBytes(StandardCharsets.UTF_8);
            if (bytes.length > InterfaceNames.MAX_BYTES || b.name().indexOf('\0') >= 0) {
                continue;
            }
            assertEquals(linux_h.EINVAL(), rawSetIff(bytes), () -> "kernel verdict on " + b);
        }
        // Names the library accepts, the kernel accepts, and they come back as given.
        for (String ok : List.of("abcdefghijklmno", "tap-x_y.z", "é", "a.b", "n%d")) {
            try (Tap t = Tap.open(create(ok))) {
                assertEquals(ok.replace("%d", "0"), t.name());
            }
        }
    }

    private static int hdrSize(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment sz = a.allocate(ValueLayout.JAVA_INT);
            assertEquals(0, FileCalls.ioctl(Sys.errnoSlot(), fd, linux_h.TUNGETVNETHDRSZ(), sz));
            return sz.get(ValueLayout.JAVA_INT, 0);
        }
    }

    @Test
    void headerSizeIsSetVerifiedAndCorrected() throws Exception {
        try (Tap tap = Tap.open(create("nth0"))) {
            assertEquals(10, tap.previousVnetHeaderSize(), "a fresh TAP starts with the 10-byte header");
            assertEquals(12, hdrSize(tap.fd()));
        }
        // A persistent device that someone else set to 10 bytes.
        ns.ip("tuntap", "add", "dev", "ntp0", "mode", "tap", "vnet_hdr");
        try (TapHandle other = create("ntp0")) {
            try (Arena a = Arena.ofConfined()) {
                assertEquals(0, FileCalls.ioctl(Sys.errnoSlot(), other.fd(), linux_h.TUNSETVNETHDRSZ(),
                        a.allocateFrom(ValueLayout.JAVA_INT, 10)));
            }
            assertEquals(10, hdrSize(other.fd()));
        }
        try (Tap tap = Tap.open(create("ntp0"))) {
            assertEquals(10, tap.previousVnetHeaderSize(), "the change is reported");
            assertEquals(12, hdrSize(tap.fd()));
        }
        // The size belongs to the device: the next holder sees what we set.
        try (TapHandle next = create("ntp0")) {
            assertEquals(12, hdrSize(next.fd()));
        }
        ns.ip("tuntap", "del", "dev", "ntp0", "mode", "tap");
    }

    @Test
    void answersTheKernelsArpAndPing() throws Exception {
        try (Tap tap = Tap.open(create("nte0"));
             EchoResponder responder = new EchoResponder(tap, new byte[] {2, 0, 0, 0, 0, 2}, 0x0a_63_00_02)) {
            ns.ip("addr", "add", "10.99.0.1/24", "dev", "nte0");
            ns.ip("link", "set", "nte0", "up");
            AtomicBoolean stop = new AtomicBoolean();
            Thread server = Thread.ofPlatform().start(() -> responder.run(stop::get, line -> { }));
            try {
                ScratchNamespace.Result ping = ns.exec("ping", "-c", "3", "-i", "0.2", "-W", "2", "10.99.0.2");
                assertEquals(0, ping.exitCode(), ping.output());
                assertTrue(ping.output().contains("3 received"), ping.output());
            } finally {
                stop.set(true);
                server.join(5_000);
            }
            assertFalse(server.isAlive());
            assertEquals(3, responder.echoReplies());
            assertTrue(responder.arpReplies() >= 1, "the kernel resolved us by ARP first");
        }
    }

    @Test
    void nonTapLinkAndSecondAttachFailClearly() throws Exception {
        ns.ip("link", "add", "ntv0", "type", "veth", "peer", "name", "ntv1");
        TapException notTap = assertThrows(TapException.class, () -> create("ntv0"));
        assertEquals("EINVAL", notTap.errnoName());
        assertEquals("TUNSETIFF", notTap.syscall());
        assertTrue(notTap.getMessage().contains("\"ntv0\"") && notTap.getMessage().contains("not a TAP"), notTap.getMessage());

        try (Tap first = Tap.open(create("nts0"))) {
            TapException busy = assertThrows(TapException.class, () -> create("nts0"));
            assertEquals("EBUSY", busy.errnoName());
            assertTrue(busy.getMessage().contains("\"nts0\"") && busy.getMessage().contains("single-queue"), busy.getMessage());
            TapException tun = assertThrows(TapException.class,
                    () -> TapHandle.createInNamespace(ns.path(), "nts0", TapMode.TUN, TUN));
            assertEquals("EINVAL", tun.errnoName(), "a TUN attach to a TAP device");
            assertEquals("nts0", first.name());
        }
    }

    @Test
    void linkDownMalformedDeviceGoneAndUseAfterClose() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment hdr = arena.allocate(VirtioNetHdr.SIZE);
            MemorySegment frame = arena.allocate(60);
            frame.asSlice(0, 6).fill((byte) 0xff); // broadcast
            frame.set(ValueLayout.JAVA_BYTE, 6, (byte) 2);
            frame.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN), 12, (short) 0x88b5); // local experimental
            MemorySegment rxBuf = arena.allocate(2048);
            Tap tap = Tap.open(create("ntd0"));
            try {
                assertEquals(Tap.LINK_DOWN, tap.write(hdr, frame), "a new TAP is down");
                ns.ip("link", "set", "ntd0", "up");
                assertEquals(60, tap.write(hdr, frame));
                assertEquals(Tap.MALFORMED, tap.write(hdr, frame.asSlice(0, 10)), "shorter than an Ethernet header");
                assertThrows(IllegalArgumentException.class, () -> tap.write(MemorySegment.ofArray(new byte[12]), frame));
                assertThrows(IllegalArgumentException.class, () -> tap.write(hdr.asSlice(0, 10), frame));
                assertThrows(IllegalArgumentException.class, () -> tap.read(hdr, MemorySegment.ofArray(new byte[100])));
                ns.ip("link", "del", "ntd0");
                assertEquals(Tap.DEVICE_GONE, tap.write(hdr, frame));
                long r;
                do { // frames queued before the deletion may still be read; then the device is gone
                    r = tap.read(hdr, rxBuf);
                } while (r >= 0);
                assertEquals(Tap.DEVICE_GONE, r);
                assertEquals(Tap.DEVICE_GONE, tap.awaitReadable(Duration.ofSeconds(5)));
            } finally {
                tap.close();
            }
            tap.close(); // idempotent
            assertTrue(tap.isClosed());
            assertThrows(IllegalStateException.class, () -> tap.write(hdr, frame));
            assertThrows(IllegalStateException.class, () -> tap.read(hdr, rxBuf));
            assertThrows(IllegalStateException.class, tap::fd);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> tap.awaitReadable(Duration.ZERO));
            assertTrue(e.getMessage().contains("ntd0") && e.getMessage().contains("closed"), e.getMessage());
        }
    }

    @Test
    void closeWakesAWaiter() throws Exception {
        Tap tap = Tap.open(create("ntw0"));
        long[] got = {Long.MIN_VALUE};
        Thread waiter = Thread.ofPlatform().start(() -> got[0] = tap.awaitReadable(Duration.ofSeconds(30)));
        Thread.sleep(100);
        long t0 = System.nanoTime();
        tap.close();
        waiter.join(5_000);
        assertFalse(waiter.isAlive());
        assertEquals(Tap.CLOSED, got[0]);
        assertTrue(System.nanoTime() - t0 < 5_000_000_000L);
        assertEquals(Tap.TIMEOUT, assertDoesNotThrowTimeout());
    }

    private long assertDoesNotThrowTimeout() throws TapException {
        try (Tap t = Tap.open(create("ntw1"))) {
            return t.awaitReadable(Duration.ofMillis(50));
        }
    }

    @Test
    void openAndClose1000TimesLeaksNothing() throws Exception {
        try (Tap warm = Tap.open(create("ntl0"))) {
            assertNotEquals(-1, warm.fd());
        }
        var before = KernelFixtures.openFds();
        for (int i = 0; i < 1000; i++) {
            try (Tap t = Tap.open(create("ntl0"))) {
                assertEquals("ntl0", t.name());
            }
        }
        KernelFixtures.assertNoLeak(before);
        assertFalse(ns.hasLink("ntl0"));
    }
}
