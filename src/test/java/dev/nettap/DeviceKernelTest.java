package dev.nettap;

import dev.nettap.internal.sys.FileCalls;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.tool.ScratchNamespace;
import dev.nettap.vnet.VirtioNetHdr;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * TapDevice: link, MTU, MAC and carrier set through the API and read back through the kernel
 * (sysfs of the scratch namespace, via {@code ip netns exec}); offloads shared by every queue of a
 * device, with the kernel's own partial-checksum frames as the oracle.
 */
@KernelAccess
@Timeout(60)
class DeviceKernelTest {
    private ScratchNamespace ns;

    @BeforeEach
    void namespace() throws IOException {
        ns = ScratchNamespace.create("nettap-dev");
    }

    @AfterEach
    void remove() {
        ns.close();
    }

    private String sysfs(String dev, String attr) throws IOException {
        ScratchNamespace.Result r = ns.exec("cat", "/sys/class/net/" + dev + "/" + attr);
        assertEquals(0, r.exitCode(), r.output());
        return r.output().strip();
    }

    @Test
    void linkMtuMacAndCarrierSetThroughTheApiAreWhatTheKernelReports() throws Exception {
        try (Tap tap = Tap.open(TapHandle.createInNamespace(ns.path(), "ndev0"))) {
            TapDevice dev = tap.device();
            assertEquals(0, Integer.decode(sysfs("ndev0", "flags")) & 1, "a created TAP starts down");
            assertFalse(dev.isUp());
            dev.setUp(true);
            assertEquals(1, Integer.decode(sysfs("ndev0", "flags")) & 1, "IFF_UP in sysfs");
            assertTrue(dev.isUp());

            dev.setMtu(1400);
            assertEquals("1400", sysfs("ndev0", "mtu"));
            assertEquals(1400, dev.mtu());
            TapException tooSmall = assertThrows(TapException.class, () -> dev.setMtu(10));
            assertEquals("EINVAL", tooSmall.errnoName(), tooSmall.getMessage());

            byte[] mac = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
            dev.setMacAddress(mac);
            assertEquals("02:11:22:33:44:55", sysfs("ndev0", "address"));
            assertArrayEquals(mac, dev.macAddress());
            assertThrows(IllegalArgumentException.class, () -> dev.setMacAddress(new byte[] {1, 0, 0, 0, 0, 1}));

            assertEquals("1", sysfs("ndev0", "carrier"), "a TAP with a queue attached has carrier");
            dev.setCarrier(false);
            assertEquals("0", sysfs("ndev0", "carrier"));
            assertTrue(ns.ip("link", "show", "ndev0").contains("NO-CARRIER"));
            dev.setCarrier(true);
            assertEquals("1", sysfs("ndev0", "carrier"));

            dev.setSendBufferSize(65536);
            int features = dev.features();
            assertTrue((features & TapDevice.FEATURE_MULTI_QUEUE) != 0 && (features & TapDevice.FEATURE_VNET_HDR) != 0
                    && (features & TapDevice.FEATURE_TAP) != 0, Integer.toHexString(features));
            assertEquals(VirtioNetHdr.SIZE, dev.vnetHeaderSize());
            assertEquals("ndev0", dev.name());
            ns.ip("link", "set", "ndev0", "name", "ndev1");
            assertEquals("ndev1", dev.name(), "the name is asked for, not remembered");
            dev.setUp(false);
            assertEquals(0, Integer.decode(sysfs("ndev1", "flags")) & 1);
        }
    }

    @Test
    void offloadsSetThroughQueueOneSurviveOpeningQueuesTwoToFour() throws Exception {
        List<TapHandle> handles = TapHandle.createQueuesInNamespace(ns.path(), "ndq0", 4, TapMode.TAP,
                TapHandle.DEFAULT_CLONE_DEVICE);
        List<Tap> taps = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            taps.add(Tap.open(handles.get(0)));
            Set<Offload> set = EnumSet.of(Offload.CSUM, Offload.TSO4, Offload.TSO6);
            taps.get(0).setOffloads(set);
            for (int q = 1; q < 4; q++) {
                taps.add(Tap.open(handles.get(q)));
            }
            for (Tap t : taps) {
                assertSame(taps.get(0).device(), t.device(), "one device object per device");
                assertEquals(set, t.offloads(), "every queue reports the device's offloads");
            }
            assertEquals(4, taps.get(0).device().openQueues());

            // The kernel's word: with CSUM in force, the UDP datagrams it sends reach every queue
            // with NEEDS_CSUM (a partial checksum); had queues 2-4 reset the offloads, they would not.
            KernelFixtures.upWithSilentPeer(ns, "ndq0", "10.99.3");
            KernelFixtures.sendUdpFlows(ns, "10.99.3.2");
            int udp = countUdp(arena, taps, true);
            assertEquals(64, udp, "every datagram arrived with NEEDS_CSUM");

            // Closing queue 1 (the one that set them) changes nothing either.
            taps.remove(0).close();
            assertEquals(set, taps.get(0).offloads());
            taps.get(0).setOffloads(Set.of());
            for (Tap t : taps) {
                assertEquals(Set.of(), t.offloads());
            }
            KernelFixtures.sendUdpFlows(ns, "10.99.3.2");
            assertEquals(64, countUdp(arena, taps, false), "with offloads off the kernel completes every checksum");
        } finally {
            taps.forEach(Tap::close);
            handles.forEach(TapHandle::close);
        }
    }

    @Test
    void closingTheLastQueueForgetsTheDeviceAndANewOneStartsWithOffloadsOff() throws Exception {
        TapDevice first;
        try (Tap tap = Tap.open(TapHandle.createInNamespace(ns.path(), "ndr0"))) {
            tap.setOffloads(EnumSet.of(Offload.CSUM));
            first = tap.device();
        }
        assertThrows(IllegalStateException.class, first::features, "no queue left to ask through");
        int nsfd;
        try (Arena arena = Arena.ofConfined()) {
            nsfd = dev.nettap.internal.sys.FileCalls.open(dev.nettap.internal.sys.Sys.errnoSlot(),
                    arena.allocateFrom(ns.path().toString()), dev.nettap.internal.linux.linux_h.O_RDONLY());
        }
        assertTrue(nsfd >= 0);
        try (Tap tap = Tap.open(TapHandle.createInNamespace(nsfd, "ndr0"));
             Tap tun = Tap.open(TapHandle.createInNamespace(nsfd, "ndr1", TapMode.TUN))) {
            assertNotEquals(first, tap.device());
            assertEquals(Set.of(), tap.offloads());
            assertTrue(tap.origin().endsWith("in netns fd " + nsfd), tap.origin());
            assertEquals(TapMode.TUN, tun.device().mode());
            assertTrue((tun.device().features() & TapDevice.FEATURE_TUN) != 0);
        } finally {
            dev.nettap.internal.sys.FileCalls.close(dev.nettap.internal.sys.Sys.errnoSlot(), nsfd);
        }
    }

    /** Reads every queue until 64 distinct UDP ports arrived (or 5 s), checking NEEDS_CSUM on each. */
    private static int countUdp(Arena arena, List<Tap> taps, boolean needsCsum) throws InterruptedException {
        MemorySegment hdr = arena.allocate(VirtioNetHdr.SIZE);
        MemorySegment buf = arena.allocate(2048);
        ValueLayout.OfShort be16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
        boolean[] seen = new boolean[64];
        int total = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (total < 64 && System.nanoTime() < deadline) {
            for (Tap t : taps) {
                long n;
                while ((n = t.read(hdr, buf)) >= 0) {
                    boolean udp = n >= 42 && Short.toUnsignedInt(buf.get(be16, 12)) == 0x0800
                            && buf.get(ValueLayout.JAVA_BYTE, 23) == 17;
                    int port = udp ? Short.toUnsignedInt(buf.get(be16, 36)) - 20000 : -1;
                    if (port >= 0 && port < 64 && !seen[port]) {
                        boolean partial = (hdr.get(ValueLayout.JAVA_BYTE, 0) & 1) != 0;
                        assertEquals(needsCsum, partial, "NEEDS_CSUM on the datagram to port " + (20000 + port));
                        seen[port] = true;
                        total++;
                    }
                }
            }
            Thread.sleep(10);
        }
        return total;
    }
}
