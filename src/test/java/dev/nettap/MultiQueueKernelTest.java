package dev.nettap;

import dev.nettap.vnet.VirtioNetHdr;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.tool.ScratchNamespace;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** IFF_MULTI_QUEUE: several queues of one device, each a Tap of its own. */
@KernelAccess
@Timeout(60)
class MultiQueueKernelTest {
    private static final Path TUN = TapHandle.DEFAULT_CLONE_DEVICE;
    private ScratchNamespace ns;

    @BeforeEach
    void namespace() throws IOException {
        ns = ScratchNamespace.create("nettap-mq");
    }

    @AfterEach
    void remove() {
        ns.close();
    }

    private static void closeAll(List<Tap> taps) {
        taps.forEach(Tap::close);
    }

    @Test
    void fourQueuesShareTheDeviceAndTheKernelSpreadsFlowsOverThem() throws Exception {
        List<TapHandle> handles = TapHandle.createQueuesInNamespace(ns.path(), "mq%d", 4, TapMode.TAP, TUN);
        assertEquals(4, handles.size());
        List<Tap> taps = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            for (TapHandle h : handles) {
                taps.add(Tap.open(h));
            }
            for (Tap t : taps) {
                assertEquals("mq0", t.name(), "every queue is a queue of the first one's device");
            }
            assertTrue(ns.ip("-d", "link", "show", "mq0").contains("multi_queue"), ns.ip("-d", "link", "show", "mq0"));
            KernelFixtures.upWithSilentPeer(ns, "mq0", "10.99.0");
            // 64 UDP flows (one datagram each, distinct destination ports) from the kernel's side.
            KernelFixtures.sendUdpFlows(ns, "10.99.0.2");
            MemorySegment hdr = arena.allocate(VirtioNetHdr.SIZE), buf = arena.allocate(2048);
            ValueLayout.OfShort be16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
            int[] perQueue = new int[4];
            boolean[] seen = new boolean[64];
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            int total = 0;
            while (total < 64 && System.nanoTime() < deadline) {
                for (int q = 0; q < 4; q++) {
                    long n;
                    while ((n = taps.get(q).read(hdr, buf)) >= 0) {
                        boolean udp = n >= 42 && Short.toUnsignedInt(buf.get(be16, 12)) == 0x0800
                                && buf.get(ValueLayout.JAVA_BYTE, 23) == 17;
                        int port = udp ? Short.toUnsignedInt(buf.get(be16, 36)) - 20000 : -1;
                        if (port >= 0 && port < 64 && !seen[port]) {
                            seen[port] = true;
                            perQueue[q]++;
                            total++;
                        }
                    }
                }
                Thread.sleep(10);
            }
            assertEquals(64, total, "every flow reached exactly one queue");
            int used = 0;
            for (int c : perQueue) {
                used += c > 0 ? 1 : 0;
            }
            assertTrue(used >= 2, "the kernel spread 64 flows over the queues: " + java.util.Arrays.toString(perQueue));

            // Every queue can write.
            MemorySegment frame = arena.allocate(60);
            frame.asSlice(0, 6).fill((byte) 0xff);
            for (Tap t : taps) {
                assertEquals(60, t.write(hdr.fill((byte) 0), frame));
            }
            // Closing one queue leaves the device; closing all of them removes it.
            taps.remove(0).close();
            assertTrue(ns.hasLink("mq0"));
        } finally {
            closeAll(taps);
        }
        assertFalse(ns.hasLink("mq0"), "a non-persistent device goes with its last queue");
    }

    @Test
    void singleAndMultiQueueAttachesDoNotMix() throws Exception {
        List<Tap> taps = new ArrayList<>();
        try {
            for (TapHandle h : TapHandle.createQueuesInNamespace(ns.path(), "mqa0", 2, TapMode.TAP, TUN)) {
                taps.add(Tap.open(h));
            }
            TapException single = assertThrows(TapException.class,
                    () -> TapHandle.createInNamespace(ns.path(), "mqa0", TapMode.TAP, TUN));
            assertEquals("EINVAL", single.errnoName(), single.getMessage());
            assertTrue(single.getMessage().contains("multi-queue mismatch"), single.getMessage());
            taps.add(Tap.open(TapHandle.createInNamespace(ns.path(), "mqs0", TapMode.TAP, TUN)));
            TapException multi = assertThrows(TapException.class,
                    () -> TapHandle.createQueuesInNamespace(ns.path(), "mqs0", 2, TapMode.TAP, TUN));
            assertEquals("EINVAL", multi.errnoName(), multi.getMessage());
            var before = KernelFixtures.openFds();
            assertThrows(TapException.class,
                    () -> TapHandle.createQueuesInNamespace(ns.path(), "mqs0", 3, TapMode.TAP, TUN));
            KernelFixtures.assertNoLeak(before);
            assertThrows(IllegalArgumentException.class, () -> TapHandle.createQueues("x", 0, TapMode.TAP, TUN));
            assertThrows(IllegalArgumentException.class, () -> TapHandle.createQueues("x", 257, TapMode.TAP, TUN));
        } finally {
            closeAll(taps);
        }
    }
}
