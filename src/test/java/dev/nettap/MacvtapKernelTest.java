package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.tool.EchoResponder;
import dev.nettap.tool.ScratchNamespace;
import dev.nettap.vnet.VirtioNetHdr;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * macvtap over a veth lower device, all inside a scratch namespace: opened by character device
 * path, by name from a thread inside the namespace, and by name from outside it; the kernel's ping
 * answered through each; nodes and names that are not macvtaps refused with typed errors.
 */
@KernelAccess
@Timeout(90)
class MacvtapKernelTest {
    private static final byte[] GUEST_MAC = {2, 0, 0, 0, 1, 2};
    private ScratchNamespace ns;
    private Path tmp;

    @BeforeEach
    void setUp() throws IOException {
        ns = ScratchNamespace.create("nettap-mvt");
        tmp = Files.createTempDirectory("nettap-mvt-test-");
        // veth pair: the kernel's side (mva, 10.98.0.1) and the lower device of the macvtap (mvb).
        KernelFixtures.macvtapOverVeth(ns, "mva", "10.98.0.1/24", "mvb", "mvt0");
    }

    @AfterEach
    void tearDown() throws IOException {
        ns.close();
        ScratchDirs.delete(tmp);
    }

    /** Serves ARP and ping on {@code tap} while the kernel pings 10.98.0.2; returns the replies ping counted. */
    private int pingThrough(Tap tap) throws Exception {
        EchoResponder r = new EchoResponder(tap, GUEST_MAC, 0x0a620002); // 10.98.0.2
        AtomicBoolean stop = new AtomicBoolean();
        Thread t = Thread.ofPlatform().start(() -> r.run(stop::get, line -> { }));
        ScratchNamespace.Result ping;
        try {
            ns.ip("neigh", "flush", "dev", "mva");
            ping = ns.exec("ping", "-c", "3", "-i", "0.2", "-w", "10", "10.98.0.2");
        } finally {
            stop.set(true);
            t.join();
            r.close();
        }
        assertEquals(0, ping.exitCode(), ping.output());
        assertTrue(r.echoReplies() >= 3, "echo replies " + r.echoReplies());
        Matcher m = Pattern.compile("(\\d+) received").matcher(ping.output());
        assertTrue(m.find(), ping.output());
        return Integer.parseInt(m.group(1));
    }

    /** A private character-device node (in the test's temporary directory) for the macvtap {@code ifname}. */
    private Path nodeFor(String ifname) throws IOException, InterruptedException {
        String ifindex = sysfs("ifindex");
        String[] mm = sysfs("macvtap/tap" + ifindex + "/dev").split(":");
        Path node = tmp.resolve(ifname + "-node");
        assertEquals(0, new ProcessBuilder("mknod", "-m", "0600", node.toString(), "c", mm[0], mm[1]).inheritIO()
                .start().waitFor());
        return node;
    }

    private String sysfs(String attr) throws IOException {
        ScratchNamespace.Result r = ns.exec("cat", "/sys/class/net/mvt0/" + attr);
        assertEquals(0, r.exitCode(), r.output());
        return r.output().strip();
    }

    @Test
    void byCharacterDevicePathAnsweringPing() throws Exception {
        Path node = nodeFor("mvt0");
        try (Tap tap = Tap.open(TapHandle.macvtap(node))) {
            assertEquals("mvt0", tap.name());
            assertEquals(TapMode.TAP, tap.mode());
            assertTrue(tap.origin().startsWith("macvtap " + node), tap.origin());
            assertTrue(tap.device().isMacvtap());
            assertTrue(pingThrough(tap) >= 3);
        }
        assertTrue(ns.hasLink("mvt0"), "closing a macvtap queue leaves the interface");
    }

    /**
     * A macvtap opened by path has no known namespace: its link settings look its name up in the
     * caller's, and act only when that name is this very device (same character device number).
     */
    @Test
    void byPathLinkSettingsRefuseAnotherInterfaceOfTheSameName() throws Exception {
        Path node = nodeFor("mvt0");
        try (ScratchNamespace other = ScratchNamespace.create("nettap-mvt-other");
             Tap tap = Tap.open(TapHandle.macvtap(node))) {
            other.ip("link", "add", "mvt0", "type", "veth", "peer", "name", "mvt0p"); // same name, another interface
            assertEquals(Boolean.TRUE, InNamespace.call(ns.path(), () -> tap.device().isUp()), "its own namespace");
            TapException e = assertThrows(TapException.class,
                    () -> InNamespace.call(other.path(), () -> tap.device().isUp()));
            assertTrue(e.getMessage().contains("cannot prove"), e.getMessage());
            assertThrows(TapException.class, () -> InNamespace.call(other.path(), () -> {
                tap.device().setMtu(1400);
                return null;
            }));
            assertEquals("1500", other.exec("cat", "/sys/class/net/mvt0/mtu").output().strip(),
                    "the other interface is untouched");
        }
    }

    @Test
    void byNameFromAThreadInsideTheNamespaceAnsweringPing() throws Exception {
        Map<Integer, String> before = KernelFixtures.openFds();
        // "The caller's namespace": the calling thread lives in the scratch namespace, whose sysfs
        // this process's /sys does not show, and udev makes no /dev node for it.
        TapHandle h = InNamespace.call(ns.path(), () -> TapHandle.macvtap("mvt0"));
        try (Tap tap = Tap.open(h)) {
            assertEquals("mvt0", tap.name());
            assertTrue(pingThrough(tap) >= 3);
        }
        KernelFixtures.assertNoLeak(before);
        assertTrue(Files.list(tmp).findAny().isEmpty());
    }

    @Test
    @SuppressWarnings("try") // q1 is closed inside the try on purpose: q0 must keep working
    void byNameInAnotherNamespaceTwoQueuesShareTheDevice() throws Exception {
        try (Tap q0 = Tap.open(TapHandle.macvtapInNamespace(ns.path(), "mvt0"));
             Tap q1 = Tap.open(TapHandle.macvtapInNamespace(ns.path(), "mvt0"))) {
            assertSame(q0.device(), q1.device(), "two opens of the node are two queues of one device");
            assertEquals(2, q0.device().openQueues());
            assertEquals(VirtioNetHdr.SIZE, q0.device().vnetHeaderSize());
            assertEquals(1500, q0.device().mtu());
            q0.device().setMtu(1400);
            assertEquals("1400", sysfs("mtu"));
            TapException carrier = assertThrows(TapException.class, () -> q0.device().setCarrier(false));
            assertTrue(carrier.getMessage().contains("macvtap follows its lower device"), carrier.getMessage());
            q1.close();
            assertTrue(pingThrough(q0) >= 3);
            // The kernel's counters of a macvtap (no TUNGETDEVNETNS) come from the namespace it was
            // opened in; the replies q0 wrote are among the device's received packets there.
            TapStatistics st = q0.statistics();
            assertTrue(st.kernel().isPresent(), st.kernelSource());
            assertTrue(st.kernelSource().contains("the device's network namespace"), st.kernelSource());
            // Named from the queues' side, as for a TAP: 50 frames the queue writes are "rx" (the
            // macvtap interface itself counts them as transmitted).
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment hdr = arena.allocate(VirtioNetHdr.SIZE);
                MemorySegment frame = arena.allocate(60);
                TestBridge.broadcast(frame, 7);
                for (int i = 0; i < 50; i++) {
                    assertEquals(60, q0.write(hdr, frame, 60));
                }
            }
            TapStatistics after = q0.statistics();
            long wrote = after.kernel().orElseThrow().rxPackets() - st.kernel().get().rxPackets();
            long offered = after.kernel().orElseThrow().txPackets() - st.kernel().get().txPackets();
            assertTrue(wrote >= 50, "rx (what the queues wrote) grew by " + wrote + ": " + after);
            assertTrue(offered < 50, "tx (what the queues could read) grew by " + offered + ": " + after);
        }
    }

    @Test
    void byPathTheKernelCountersSayWhyTheyAreMissing() throws Exception {
        // Opened by path from the host namespace: the device's namespace is unknown to the library,
        // and no interface of that name is here, so the counters are absent with the reason.
        Path node = nodeFor("mvt0");
        try (Tap tap = Tap.open(TapHandle.macvtap(node))) {
            assertTrue(pingThrough(tap) >= 3);
            TapStatistics st = tap.statistics();
            assertTrue(st.kernel().isEmpty(), st.toString());
            assertTrue(st.kernelSource().contains("its namespace is unknown"), st.kernelSource());
            assertTrue(st.writes().frames() >= 3, "the library's own counters work on a macvtap: " + st);
        }
    }

    @Test
    void whatIsNotAMacvtapIsRefusedWithATypedError() throws Exception {
        TapException devNull = assertThrows(TapException.class, () -> TapHandle.macvtap(Path.of("/dev/null")));
        assertEquals(TapException.Kind.NOT_A_TAP, devNull.kind(), devNull.getMessage());
        Path file = Files.writeString(tmp.resolve("plain"), "x");
        TapException plain = assertThrows(TapException.class, () -> TapHandle.macvtap(file));
        assertEquals(TapException.Kind.NOT_A_TAP, plain.kind());
        assertTrue(plain.getMessage().contains("regular file"), plain.getMessage());
        TapException clone = assertThrows(TapException.class, () -> TapHandle.macvtap(TapHandle.DEFAULT_CLONE_DEVICE));
        assertEquals(TapException.Kind.NOT_A_TAP, clone.kind());
        assertTrue(clone.getMessage().contains("clone device"), clone.getMessage());
        TapException missing = assertThrows(TapException.class, () -> TapHandle.macvtap(tmp.resolve("nope")));
        assertEquals("ENOENT", missing.errnoName());

        TapException veth = assertThrows(TapException.class, () -> TapHandle.macvtapInNamespace(ns.path(), "mvb"));
        assertEquals(TapException.Kind.NOT_A_TAP, veth.kind());
        assertTrue(veth.getMessage().contains("not a macvtap"), veth.getMessage());
        TapException none = assertThrows(TapException.class, () -> TapHandle.macvtapInNamespace(ns.path(), "nosuch0"));
        assertEquals("ENODEV", none.errnoName(), none.getMessage());

        // A node of the macvtap driver's major with a minor no device has: the driver refuses the open.
        String[] mm = sysfs("macvtap/tap" + sysfs("ifindex") + "/dev").split(":");
        Path wrong = tmp.resolve("wrong");
        assertEquals(0, new ProcessBuilder("mknod", "-m", "0600", wrong.toString(), "c", mm[0], "65530")
                .inheritIO().start().waitFor());
        TapException other = assertThrows(TapException.class, () -> TapHandle.macvtap(wrong));
        assertTrue(other.errnoName().equals("ENODEV") || other.errnoName().equals("ENXIO"), other.getMessage());
        assertTrue(other.getMessage().contains("no device behind this node"), other.getMessage());
        assertTrue(other.getMessage().contains(wrong.toString()), other.getMessage());
    }
}
