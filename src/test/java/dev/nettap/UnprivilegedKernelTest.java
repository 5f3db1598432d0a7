package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.tool.ScratchNamespace;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The deployment of seed 004 (libvirt's unmanaged tap): a privileged side prepares a persistent
 * device for a user or group with {@link PersistentTap}; a child JVM running as that user through
 * {@code setpriv} (no capabilities, its classes copied to a 0755 folder, a private 0666 clone node
 * made with {@code mknod} since {@code /dev/net/tun} is 0600 here) attaches, answers ping, and
 * cannot change the link; the device is unchanged after it exits; a device owned by someone else is
 * refused with EPERM; the administrator deletes only what it created.
 */
@KernelAccess
@Timeout(180)
class UnprivilegedKernelTest {
    private static final int NOBODY = 65534;
    private ScratchNamespace ns;
    private Path dir;
    private Path clone;

    @BeforeEach
    void setUp() throws Exception {
        ns = ScratchNamespace.create("nettap-unpriv");
        dir = ScratchDirs.classesForAnyone("nettap-unpriv");
        clone = dir.resolve("tun");
        assertEquals(0, run("mknod", "-m", "0666", clone.toString(), "c", "10", "200"));
    }

    @AfterEach
    void tearDown() throws IOException {
        ns.close();
        ScratchDirs.delete(dir);
    }

    private static int run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).inheritIO().redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        assertTrue(p.waitFor(20, TimeUnit.SECONDS), String.join(" ", cmd));
        return p.exitValue();
    }

    /** The child JVM as uid/gid inside the namespace, without capabilities. */
    private Process child(int uid, int gid, Path out, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns.name(), "setpriv",
                "--reuid=" + uid, "--regid=" + gid, "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=dev.nettap", "-XX:-UsePerfData", "-Xshare:auto", "-XX:TieredStopAtLevel=1",
                "-p", dir.resolve("classes").toString(),
                "--patch-module", "dev.nettap=" + dir.resolve("test-classes"),
                "-m", "dev.nettap/" + UnprivilegedChild.class.getName()));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
    }

    private static int await(Process p) throws InterruptedException {
        if (!p.waitFor(90, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            return -1;
        }
        return p.exitValue();
    }

    /** What an administrator made, as the kernel shows it: every attribute a VMM could have changed. */
    private Map<String, String> snapshot(String dev) throws IOException {
        Map<String, String> m = new LinkedHashMap<>();
        for (String a : new String[] {"tun_flags", "owner", "group", "flags", "mtu", "address", "ifindex"}) {
            ScratchNamespace.Result r = ns.exec("cat", "/sys/class/net/" + dev + "/" + a);
            m.put(a, r.exitCode() == 0 ? r.output().strip() : "missing");
        }
        return m;
    }

    /** Child attaches as uid/gid, answers ping at ip; returns its output. Asserts the device unchanged after. */
    private String attachAndPing(String dev, int uid, int gid, String ip, String... childArgs) throws Exception {
        Map<String, String> before = snapshot(dev);
        Path out = dir.resolve("child-" + dev + ".out");
        Path stop = dir.resolve("stop-" + dev);
        Process p = child(uid, gid, out, childArgs);
        ScratchNamespace.Result ping;
        int exit;
        try {
            // Ping once the child serves (its "setMtu" line comes just before), at most 60 s.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (p.isAlive() && System.nanoTime() < deadline
                    && !(Files.exists(out) && Files.readString(out).contains("setMtu"))) {
                Thread.sleep(50);
            }
            ping = ns.exec("ping", "-c", "3", "-i", "0.2", "-w", "20", ip);
        } finally {
            Files.writeString(stop, "");
            exit = await(p);
        }
        String log = Files.readString(out);
        assertEquals(0, ping.exitCode(), ping.output() + "\nchild:\n" + log);
        assertEquals(0, exit, log);
        assertTrue(log.contains("uid " + uid), log);
        assertTrue(log.contains("up true"), log);
        assertTrue(log.contains("setMtu EPERM") && log.contains("needs CAP_NET_ADMIN"), log);
        assertTrue(ns.hasLink(dev), "the device outlives the VMM's queues");
        assertEquals(before, snapshot(dev), "the device is as the administrator made it");
        return log;
    }

    @Test
    void deviceMadeForAUidServesThatUserAndRefusesAnother() throws Exception {
        PersistentTap mine = PersistentTap.builder("ntu0").owner(NOBODY).up(true).inNamespace(ns.path()).create();
        PersistentTap theirs = PersistentTap.builder("ntx0").owner(12345).up(true).inNamespace(ns.path()).create();
        assertEquals(Integer.toString(NOBODY), snapshot("ntu0").get("owner"));
        ns.ip("addr", "add", "10.95.0.1/24", "dev", "ntu0");
        attachAndPing("ntu0", NOBODY, NOBODY, "10.95.0.2",
                "attach", "ntu0", clone.toString(), dir.resolve("stop-ntu0").toString(), "10.95.0.2");

        Map<String, String> before = snapshot("ntx0");
        Path out = dir.resolve("refused.out");
        int exit = await(child(NOBODY, NOBODY, out, "refused", "ntx0", clone.toString()));
        String log = Files.readString(out);
        assertEquals(0, exit, log);
        assertTrue(log.contains("refused EPERM"), log);
        assertEquals(before, snapshot("ntx0"), "a refused attach creates, changes and deletes nothing");

        // Unprivileged, the IFF_NO_PI check still reads the truth (tun_flags through the child's own
        // /sys, which ip netns exec mounted for this namespace): a queue without it is refused.
        PersistentTap pi = PersistentTap.builder("ntpi0").owner(NOBODY).inNamespace(ns.path()).create();
        Path piOut = dir.resolve("nopi.out");
        int piExit = await(child(NOBODY, NOBODY, piOut, "nopi", "ntpi0", clone.toString()));
        String piLog = Files.readString(piOut);
        assertEquals(0, piExit, piLog);
        assertTrue(piLog.contains("nopi UNSUPPORTED_FLAGS") && piLog.contains("without IFF_NO_PI"), piLog);
        pi.delete();

        mine.delete();
        theirs.delete();
        assertFalse(ns.hasLink("ntu0"));
        assertFalse(ns.hasLink("ntx0"));
    }

    @Test
    void deviceMadeForAGroupServesAMemberAndRefusesANonMember() throws Exception {
        PersistentTap dev = PersistentTap.builder("ntg0").group(4242).up(true).inNamespace(ns.path()).create();
        assertEquals("4242", snapshot("ntg0").get("group"));
        ns.ip("addr", "add", "10.95.1.1/24", "dev", "ntg0");
        attachAndPing("ntg0", NOBODY, 4242, "10.95.1.2",
                "attach", "ntg0", clone.toString(), dir.resolve("stop-ntg0").toString(), "10.95.1.2");
        Path out = dir.resolve("refused-g.out");
        int exit = await(child(NOBODY, NOBODY, out, "refused", "ntg0", clone.toString()));
        assertEquals(0, exit, Files.readString(out));
        dev.delete();
        assertFalse(ns.hasLink("ntg0"));
    }

    @Test
    void macvtapNodeTheUserMayOpen() throws Exception {
        KernelFixtures.macvtapOverVeth(ns, "upa", "10.95.2.1/24", "upb", "upm0");
        ScratchNamespace.Result idx = ns.exec("cat", "/sys/class/net/upm0/ifindex");
        ScratchNamespace.Result dev = ns.exec("cat", "/sys/class/net/upm0/macvtap/tap" + idx.output().strip() + "/dev");
        String[] mm = dev.output().strip().split(":");
        Path node = dir.resolve("upm0");
        assertEquals(0, run("mknod", "-m", "0600", node.toString(), "c", mm[0], mm[1]));
        assertEquals(0, run("chown", NOBODY + ":" + NOBODY, node.toString()));
        String log = attachAndPing("upm0", NOBODY, NOBODY, "10.95.2.2",
                "macvtap", node.toString(), "-", dir.resolve("stop-upm0").toString(), "10.95.2.2");
        assertTrue(log.contains("tap upm0"), log);
    }

    @Test
    void administrationCreatesOnlyNewDevicesAndDeletesOnlyItsOwn() throws Exception {
        // An existing device of that name is not adopted (IFF_TUN_EXCL) and not touched.
        ns.ip("tuntap", "add", "mode", "tap", "name", "nte0");
        TapException busy = assertThrows(TapException.class,
                () -> PersistentTap.builder("nte0").inNamespace(ns.path()).create());
        assertEquals("EBUSY", busy.errnoName(), busy.getMessage());
        assertTrue(ns.hasLink("nte0"));

        // Ours, then replaced under the same name by someone else: delete refuses.
        PersistentTap ours = PersistentTap.builder("ntr%d").inNamespace(ns.path()).create();
        String name = ours.name();
        assertTrue(name.startsWith("ntr"), name);
        ns.ip("link", "del", name);
        ns.ip("tuntap", "add", "mode", "tap", "name", name);
        TapException notOurs = assertThrows(TapException.class, ours::delete);
        assertEquals(TapException.Kind.NOT_A_TAP, notOurs.kind(), notOurs.getMessage());
        assertTrue(ns.hasLink(name), "someone else's device is never deleted");

        // Multi-queue, TUN, up: queues attach; delete while they are held leaves it until they close.
        PersistentTap mq = PersistentTap.builder("ntm0").mode(TapMode.TUN).multiQueue(true).up(true)
                .inNamespace(ns.path()).create();
        assertTrue(ns.ip("-d", "link", "show", "ntm0").contains("multi_queue"));
        assertEquals(1, Integer.decode(snapshot("ntm0").get("flags")) & 1, "up");
        List<Tap> queues = new ArrayList<>();
        try {
            for (TapHandle h : TapHandle.createQueuesInNamespace(ns.path(), "ntm0", 2, TapMode.TUN,
                    TapHandle.DEFAULT_CLONE_DEVICE)) {
                queues.add(Tap.open(h));
            }
            mq.delete();
            assertTrue(ns.hasLink("ntm0"), "held queues keep it");
        } finally {
            queues.forEach(Tap::close);
        }
        assertFalse(ns.hasLink("ntm0"), "gone with its last queue");
    }
}
