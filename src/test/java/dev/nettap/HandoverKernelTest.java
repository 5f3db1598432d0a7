package dev.nettap;

import dev.nettap.internal.sys.SocketCalls;
import dev.nettap.internal.sys.FileCalls;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Sys;
import dev.nettap.tool.ScratchNamespace;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 6 against the real kernel: TAPs handed over by inherited fd, by SCM_RIGHTS and across
 * network namespaces, and everything that is not a TAP refused with its typed error and no leak.
 * Every device lives in a scratch namespace made here.
 */
@KernelAccess
@Timeout(120)
class HandoverKernelTest {
    private static final Path TUN = TapHandle.DEFAULT_CLONE_DEVICE;
    private ScratchNamespace ns;
    private Path tmp;

    @BeforeEach
    void setUp() throws IOException {
        ns = ScratchNamespace.create("nettap-h");
        tmp = Files.createTempDirectory("nettap-handover");
    }

    @AfterEach
    void tearDown() throws IOException {
        ns.close();
        ScratchDirs.delete(tmp);
    }

    private TapHandle create(String name, TapMode mode) throws TapException {
        return TapHandle.createInNamespace(ns.path(), name, mode, TUN);
    }

    private static Path threadNetns() throws IOException {
        return Files.readSymbolicLink(Path.of("/proc/thread-self/ns/net"));
    }

    private static boolean isOpen(int fd) {
        return FileCalls.fcntl(Sys.errnoSlot(), fd, linux_h.F_GETFD(), 0) >= 0;
    }

    private static int openPath(String path, int flags) {
        try (Arena a = Arena.ofConfined()) {
            int fd = FileCalls.open(Sys.errnoSlot(), a.allocateFrom(path), flags | linux_h.O_CLOEXEC());
            assertTrue(fd >= 0, () -> "open " + path + ": " + Sys.errno(Sys.errnoSlot()));
            return fd;
        }
    }

    /** A dup of {@code fd} numbered 10 or above, with FD_CLOEXEC. */
    private static int dupHigh(int fd) {
        int d = FileCalls.fcntl(Sys.errnoSlot(), fd, linux_h.F_DUPFD_CLOEXEC(), 10);
        assertTrue(d >= 10);
        return d;
    }

    // ---- child JVMs -----------------------------------------------------------------------------

    /** java --enable-native-access=dev.nettap -p target/classes --patch-module dev.nettap=target/test-classes -m ... */
    private static List<String> childJava(String... args) {
        Path classes = Path.of("target", "classes").toAbsolutePath();
        Path testClasses = Path.of("target", "test-classes").toAbsolutePath();
        assertTrue(Files.isDirectory(classes) && Files.isDirectory(testClasses.resolve("dev/nettap")),
                "the child runs from " + classes + " and " + testClasses);
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=dev.nettap", "-Xshare:auto", "-XX:TieredStopAtLevel=1",
                "-p", classes.toString(), "--patch-module", "dev.nettap=" + testClasses,
                "-m", "dev.nettap/" + HandoverChild.class.getName()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    private ScratchNamespace.Result ping(String ip) throws IOException {
        // Up to 15 s for the child JVM to start and answer: ping stops at the third reply.
        return ns.exec("ping", "-c", "3", "-i", "0.2", "-w", "15", ip);
    }

    /**
     * Waits (30 s at most) until the child's output has a line starting with {@code prefix}: it prints
     * {@code tap NAME origin ...} for each queue and flushes once every responder runs. Pinging before
     * that fails on a loaded machine, where the child JVM can take longer to start than ping's ARP
     * resolution waits (three probes, then "Destination Host Unreachable" and ping stops). On timeout
     * it returns, and the ping that follows fails with the child's output in its message.
     */
    private static void awaitOutput(Path out, String prefix) throws IOException, InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() - end < 0) {
            if (Files.exists(out) && Files.readString(out).lines().anyMatch(l -> l.startsWith(prefix))) return;
            Thread.sleep(50);
        }
    }

    /**
     * The echo count the child reported for {@code dev} ({@code echo DEV N}), or -1. Ping may send
     * more than three requests while ARP resolves, so N can be any number from 3 up (12 was seen).
     */
    private static int echoes(String childOutput, String dev) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^echo " + dev + " (\\d+)$").matcher(childOutput);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    /** Replies ping counted; with {@code -w} it may send (and get back) more than {@code -c} while ARP resolves. */
    private static int received(ScratchNamespace.Result ping) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+) received").matcher(ping.output());
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    @Test
    void childJvmAdoptsTheTapAsInheritedFd3AndAnswersPing() throws Throwable {
        Path stop = tmp.resolve("stop");
        Path out = tmp.resolve("child.out");
        int pid;
        try (TapHandle h = create("nti0", TapMode.TAP)) {
            ns.ip("addr", "add", "10.97.0.1/24", "dev", "nti0");
            ns.ip("link", "set", "nti0", "up");
            int forChild = dupHigh(h.fd());
            try {
                pid = Spawn.spawnWithFd3(childJava("inherited", "3", stop.toString(), "10.97.0.2"), forChild, out);
            } finally {
                FileCalls.close(Sys.errnoSlot(), forChild);
            }
        } // from here on only the child holds the queue
        int exit;
        ScratchNamespace.Result ping;
        try {
            awaitOutput(out, "tap nti0 origin");
            ping = ping("10.97.0.2");
        } finally {
            Files.writeString(stop, "");
            exit = Spawn.waitFor(pid, Duration.ofSeconds(30));
        }
        String child = Files.readString(out);
        assertEquals(0, ping.exitCode(), ping.output() + "\nchild:\n" + child);
        assertTrue(received(ping) >= 3, ping.output());
        assertEquals(0, exit, child);
        assertTrue(child.contains("tap nti0 origin fd 3 (inherited)"), child);
        assertTrue(echoes(child, "nti0") >= 3, child);
        assertFalse(ns.hasLink("nti0"), "the device went away with the child's fd");
    }

    @Test
    void scmRightsTwoTapsInOneMessageToAChildJvmThatAnswersPingOnBoth() throws Throwable {
        Path sock = tmp.resolve("vmm.sock");
        Path stop = tmp.resolve("stop");
        Path out = tmp.resolve("child.out");
        Process child = new ProcessBuilder(childJava("receive", sock.toString(), stop.toString(), "10.96.1.2", "10.96.2.2"))
                .redirectErrorStream(true).redirectOutput(out.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        try {
            try (TapHandle a = create("ntr0", TapMode.TAP); TapHandle b = create("ntr1", TapMode.TAP)) {
                ns.ip("addr", "add", "10.96.1.1/24", "dev", "ntr0");
                ns.ip("addr", "add", "10.96.2.1/24", "dev", "ntr1");
                ns.ip("link", "set", "ntr0", "up");
                ns.ip("link", "set", "ntr1", "up");
                long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (true) { // the child binds the socket once its JVM is up
                    try {
                        FdPassing.send(sock, "ntr0,ntr1", Duration.ofSeconds(10), a.fd(), b.fd());
                        break;
                    } catch (TapException e) {
                        boolean notYet = "ENOENT".equals(e.errnoName()) || "ECONNREFUSED".equals(e.errnoName());
                        if (!notYet || System.nanoTime() - end > 0 || !child.isAlive()) {
                            throw new AssertionError("send failed; child:\n" + Files.readString(out), e);
                        }
                        Thread.sleep(50);
                    }
                }
            } // only the child holds the queues now
            awaitOutput(out, "tap ntr1 origin");
            ScratchNamespace.Result p0 = ping("10.96.1.2");
            ScratchNamespace.Result p1 = ping("10.96.2.2");
            Files.writeString(stop, "");
            assertTrue(child.waitFor(30, TimeUnit.SECONDS), "the child exits after the stop file");
            String log = Files.readString(out);
            assertTrue(received(p0) >= 3, p0.output() + "\nchild:\n" + log);
            assertTrue(received(p1) >= 3, p1.output() + "\nchild:\n" + log);
            assertEquals(0, child.exitValue(), log);
            assertTrue(log.contains("label ntr0,ntr1"), log);
            assertTrue(log.matches("(?s).*tap ntr0 origin fd \\d+ received on " + sock + "\n.*"), log);
            assertTrue(log.matches("(?s).*tap ntr1 origin fd \\d+ received on " + sock + "\n.*"), log);
            assertTrue(echoes(log, "ntr0") >= 3, log);
            assertTrue(echoes(log, "ntr1") >= 3, log);
            assertFalse(Files.exists(sock), "the receiver removed its socket file");
        } finally {
            Files.writeString(stop, "");
            if (!child.waitFor(10, TimeUnit.SECONDS)) {
                child.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    // ---- SCM_RIGHTS in process: the good case and every malformed message -----------------------

    private static int[] socketPair() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment sv = a.allocate(ValueLayout.JAVA_INT, 2);
            assertEquals(0, SocketCalls.socketpair(Sys.errnoSlot(), linux_h.AF_UNIX(),
                    linux_h.SOCK_STREAM() | linux_h.SOCK_CLOEXEC(), 0, sv));
            return new int[] {sv.getAtIndex(ValueLayout.JAVA_INT, 0), sv.getAtIndex(ValueLayout.JAVA_INT, 1)};
        }
    }

    private static void closeFds(int... fds) {
        for (int fd : fds) {
            FileCalls.close(Sys.errnoSlot(), fd);
        }
    }

    @Test
    void scmRightsInProcessRoundTripKeepsOriginLabelAndFlags() throws Exception {
        int[] sp = socketPair();
        try {
            try (TapHandle h = create("ntq0", TapMode.TAP)) {
                FdPassing.send(sp[0], "ntq0", h.fd());
            } // the fd in flight alone keeps the device
            try (FdPassing.Received r = FdPassing.receive(sp[1], 1, Duration.ofSeconds(5))) {
                assertEquals("ntq0", r.label());
                assertEquals(1, r.handles().size());
                TapHandle got = r.handles().get(0);
                int fd = got.fd();
                assertEquals("fd " + fd + " received on socket fd " + sp[1], got.origin());
                assertTrue((FileCalls.fcntl(Sys.errnoSlot(), fd, linux_h.F_GETFD(), 0) & linux_h.FD_CLOEXEC()) != 0,
                        "received with MSG_CMSG_CLOEXEC");
                assertTrue((FileCalls.fcntl(Sys.errnoSlot(), fd, linux_h.F_GETFL(), 0) & linux_h.O_NONBLOCK()) != 0);
                try (Tap tap = Tap.open(got)) {
                    assertEquals("ntq0", tap.name());
                    assertEquals(got.origin(), tap.origin());
                }
            }
            assertFalse(ns.hasLink("ntq0"));
        } finally {
            closeFds(sp);
        }
    }

    /** A step on a socket pair: {@code sp[0]} sends, {@code sp[1]} receives. */
    @FunctionalInterface
    private interface PairStep {
        void run(int[] sp) throws Exception;
    }

    /**
     * On a fresh socket pair: {@code send}, then the receive must throw; {@code check} gets the pair
     * and the refusal, and afterwards no fd may have leaked. The pair is closed whatever happens.
     */
    private static void receiveRefused(PairStep send, PairStep receive, java.util.function.BiConsumer<int[], TapException> check)
            throws Exception {
        int[] sp = socketPair();
        try {
            Map<Integer, String> before = KernelFixtures.openFds();
            send.run(sp);
            TapException e = assertThrows(TapException.class, () -> receive.run(sp));
            check.accept(sp, e);
            KernelFixtures.assertNoLeak(before);
        } finally {
            closeFds(sp);
        }
    }

    /** Sends three fds of /dev/null labelled "three" on {@code sock}, then closes this side's copies. */
    private static void sendThree(int sock) throws TapException {
        int[] three = {openPath("/dev/null", 0), openPath("/dev/null", 0), openPath("/dev/null", 0)};
        FdPassing.send(sock, "three", three);
        closeFds(three);
    }

    @Test
    void messageWithoutFd() throws Exception {
        receiveRefused(sp -> {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment hello = a.allocateFrom("hello");
                assertEquals(6, FileCalls.write(Sys.errnoSlot(), sp[0], hello, 6));
            }
        }, sp -> FdPassing.receive(sp[1], 1, Duration.ofSeconds(5)), (sp, e) -> {
            assertEquals(TapException.Kind.NO_FDS, e.kind());
            assertTrue(e.getMessage().contains("socket fd " + sp[1]) && e.getMessage().contains("\"hello\""), e.getMessage());
        });
    }

    @Test
    void moreFdsThanAskedAreAllClosed() throws Exception {
        receiveRefused(sp -> sendThree(sp[0]), sp -> FdPassing.receive(sp[1], 2, Duration.ofSeconds(5)), (sp, e) -> {
            assertEquals(TapException.Kind.TOO_MANY_FDS, e.kind());
            assertTrue(e.getMessage().contains("carried 3 fds, at most 2"), e.getMessage());
        });
    }

    @Test
    void truncatedControlDataClosesWhatArrived() throws Exception {
        // A control buffer sized for one fd: CMSG_SPACE(4) = 24 bytes, which holds two after the
        // 8-byte alignment. The kernel installs two, drops the third and sets MSG_CTRUNC.
        receiveRefused(sp -> sendThree(sp[0]),
                sp -> FdPassing.receive(sp[1], 3, System.nanoTime() + 5_000_000_000L, "socket fd " + sp[1], 1), (sp, e) -> {
            assertEquals(TapException.Kind.TRUNCATED, e.kind());
            assertTrue(e.getMessage().contains("MSG_CTRUNC") && e.getMessage().contains("the 2 fd(s) that arrived were closed"),
                    e.getMessage());
        });
    }

    @Test
    void peerThatClosesEarly() throws Exception {
        int[] sp = socketPair();
        try {
            closeFds(sp[0]);
            long t0 = System.nanoTime();
            TapException e = assertThrows(TapException.class, () -> FdPassing.receive(sp[1], 1, Duration.ofSeconds(30)));
            assertEquals(TapException.Kind.PEER_CLOSED, e.kind());
            assertTrue(System.nanoTime() - t0 < 5_000_000_000L, "end of stream is reported at once");
            assertTrue(e.getMessage().contains("socket fd " + sp[1]), e.getMessage());
        } finally {
            closeFds(sp[1]);
        }
    }

    @Test
    void receiveTimesOutAndRefusesBadSockets() throws Exception {
        int[] sp = socketPair();
        try {
            long t0 = System.nanoTime();
            TapException e = assertThrows(TapException.class, () -> FdPassing.receive(sp[1], 1, Duration.ofMillis(300)));
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertEquals(TapException.Kind.TIMEOUT, e.kind());
            assertTrue(ms >= 250 && ms < 5_000, "waited " + ms + " ms");
            assertEquals(TapException.Kind.TIMEOUT,
                    assertThrows(TapException.class, () -> FdPassing.receive(sp[1], 1, Duration.ZERO)).kind());
        } finally {
            closeFds(sp);
        }
        TapException closed = assertThrows(TapException.class, () -> FdPassing.receive(sp[1], 1, Duration.ofSeconds(1)));
        assertEquals("EBADF", closed.errnoName());
        int file = openPath("/dev/null", linux_h.O_RDONLY());
        try {
            TapException notSock = assertThrows(TapException.class, () -> FdPassing.receive(file, 1, Duration.ofSeconds(1)));
            assertEquals("ENOTSOCK", notSock.errnoName());
            assertEquals("recvmsg", notSock.syscall());
        } finally {
            closeFds(file);
        }
        assertThrows(IllegalArgumentException.class, () -> FdPassing.receive(-1, 1, Duration.ZERO));
        assertThrows(IllegalArgumentException.class, () -> FdPassing.receive(0, 0, Duration.ZERO));
        assertThrows(IllegalArgumentException.class, () -> FdPassing.receive(0, 1, Duration.ofSeconds(-1)));
        assertThrows(IllegalArgumentException.class, () -> FdPassing.send(0, "a\0b", 0));
        assertThrows(IllegalArgumentException.class, () -> FdPassing.send(0, "x".repeat(256), 0));
        assertThrows(IllegalArgumentException.class, () -> FdPassing.send(0, "x"));
    }

    @Test
    void receiveByPathTimesOutOrSeesAPeerCloseAndRemovesItsSocket() throws Exception {
        Path sock = tmp.resolve("vmm.sock");
        Map<Integer, String> before = KernelFixtures.openFds();
        TapException timeout = assertThrows(TapException.class, () -> FdPassing.receive(sock, 1, Duration.ofMillis(200)));
        assertEquals(TapException.Kind.TIMEOUT, timeout.kind());
        assertTrue(timeout.getMessage().contains("no sender connected on " + sock), timeout.getMessage());
        assertFalse(Files.exists(sock));
        KernelFixtures.assertNoLeak(before);

        TapException nobody = assertThrows(TapException.class, () -> FdPassing.send(sock, "x", Duration.ofSeconds(5), 0));
        assertEquals("ENOENT", nobody.errnoName());
        assertTrue(nobody.getMessage().contains(sock.toString()), nobody.getMessage());

        // A peer that connects and hangs up without sending anything.
        Thread peer = Thread.ofPlatform().start(() -> {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment err = Sys.errnoSlot();
                MemorySegment addr = dev.nettap.internal.linux.sockaddr_un.allocate(a);
                dev.nettap.internal.linux.sockaddr_un.sun_family(addr, (short) linux_h.AF_UNIX());
                byte[] p = sock.toString().getBytes(StandardCharsets.UTF_8);
                MemorySegment.copy(p, 0, dev.nettap.internal.linux.sockaddr_un.sun_path(addr), ValueLayout.JAVA_BYTE, 0, p.length);
                long end = System.nanoTime() + 10_000_000_000L;
                while (System.nanoTime() < end) {
                    int s = SocketCalls.socket(err, linux_h.AF_UNIX(), linux_h.SOCK_STREAM() | linux_h.SOCK_CLOEXEC(), 0);
                    int r = SocketCalls.connect(err, s, addr, (int) dev.nettap.internal.linux.sockaddr_un.sizeof());
                    FileCalls.close(err, s);
                    if (r == 0) {
                        return;
                    }
                    try {
                        Thread.sleep(20);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }
        });
        try {
            TapException early = assertThrows(TapException.class, () -> FdPassing.receive(sock, 1, Duration.ofSeconds(10)));
            assertEquals(TapException.Kind.PEER_CLOSED, early.kind(), early.getMessage());
            assertTrue(early.getMessage().contains(sock.toString()), early.getMessage());
        } finally {
            peer.join(15_000);
        }
        assertFalse(Files.exists(sock));
        KernelFixtures.assertNoLeak(before);
    }

    // ---- every kind of bad fd --------------------------------------------------------------------

    /** An fd made by a raw TUNSETIFF with these flags inside the namespace (no validation). */
    private int rawTap(String name, int flags) throws TapException {
        int fd = KernelFixtures.rawSetIff(ns.path(), name.getBytes(StandardCharsets.UTF_8), flags);
        assertTrue(fd >= 0, () -> "raw TUNSETIFF errno " + -fd);
        return fd;
    }

    private static int getIff(int fd) {
        Iff iff = Iff.query(Sys.errnoSlot(), fd);
        assertTrue(iff != null, "TUNGETIFF");
        return iff.flags();
    }

    /** The fd table now, {@code keep} included (it is not a leak of what follows). */
    private static Map<Integer, String> before(int keep) throws IOException {
        assertTrue(isOpen(keep));
        return KernelFixtures.openFds();
    }

    /** What must happen to a refused inherited fd: Kind, errno name (or null), text; closed; no leak. */
    private static TapException refused(int fd, TapMode expected, Map<Integer, String> before, TapException.Kind kind, String errno,
                                        String text) throws IOException {
        TapException e = assertThrows(TapException.class, () -> Tap.open(TapHandle.ofInheritedFd(fd, expected)));
        assertEquals(kind, e.kind(), e.getMessage());
        assertEquals(errno, e.errnoName(), e.getMessage());
        assertTrue(e.getMessage().contains("fd " + fd + " (inherited)"), e.getMessage());
        assertTrue(e.getMessage().contains(text), e.getMessage());
        assertEquals("fd " + fd + " (inherited)", e.context());
        assertFalse(isOpen(fd), "a refused fd is closed");
        KernelFixtures.assertNoLeak(before);
        return e;
    }

    @Test
    void everyBadFdKindIsRefusedTypedAndClosed() throws Throwable {
        Map<Integer, String> before = KernelFixtures.openFds();
        Path file = Files.writeString(tmp.resolve("regular"), "not a tap");
        refused(openPath(file.toString(), linux_h.O_RDWR()), TapMode.TAP, before, TapException.Kind.NOT_A_TAP, "ENOTTY",
                "not a TAP/TUN queue");
        refused(openPath("/dev/null", linux_h.O_RDWR()), TapMode.TAP, before, TapException.Kind.NOT_A_TAP, "ENOTTY",
                "not a TAP/TUN queue");
        int[] pipe = Spawn.pipe();
        closeFds(pipe[1]);
        refused(pipe[0], TapMode.TAP, before, TapException.Kind.NOT_A_TAP, "ENOTTY", "not a TAP/TUN queue");
        int sock = SocketCalls.socket(Sys.errnoSlot(), linux_h.AF_UNIX(), linux_h.SOCK_STREAM() | linux_h.SOCK_CLOEXEC(), 0);
        TapException s = assertThrows(TapException.class, () -> Tap.open(TapHandle.ofInheritedFd(sock)));
        assertEquals(TapException.Kind.NOT_A_TAP, s.kind(), s.getMessage());
        assertNotNull(s.errnoName(), s.getMessage());
        assertTrue(s.getMessage().contains("fd " + sock + " (inherited)"), s.getMessage());
        assertFalse(isOpen(sock));
        KernelFixtures.assertNoLeak(before);
        // A clone-device fd that was never attached.
        refused(openPath(TUN.toString(), linux_h.O_RDWR()), TapMode.TAP, before, TapException.Kind.NOT_A_TAP, "EBADFD",
                "no device attached");

        // Closed: ofInheritedFd itself refuses it (nothing to close); negative: an argument error.
        int closed = openPath("/dev/null", 0);
        closeFds(closed);
        TapException c = assertThrows(TapException.class, () -> TapHandle.ofInheritedFd(closed));
        assertEquals(TapException.Kind.NOT_A_TAP, c.kind());
        assertEquals("EBADF", c.errnoName());
        assertTrue(c.getMessage().contains("fd " + closed + " (inherited)") && c.getMessage().contains("not an open file descriptor"),
                c.getMessage());
        assertThrows(IllegalArgumentException.class, () -> TapHandle.ofInheritedFd(-1));
        KernelFixtures.assertNoLeak(before);

        // Real queues of the wrong kind, made raw inside the namespace.
        refused(rawTap("ntb0", linux_h.IFF_TAP() | linux_h.IFF_NO_PI()), TapMode.TAP, before,
                TapException.Kind.UNSUPPORTED_FLAGS, null, "without IFF_VNET_HDR");
        refused(rawTap("ntb1", linux_h.IFF_TAP() | linux_h.IFF_VNET_HDR()), TapMode.TAP, before,
                TapException.Kind.UNSUPPORTED_FLAGS, null, "without IFF_NO_PI");
        // The check for IFF_NO_PI attaches a filter for a moment: it must be gone afterwards, as seen
        // on another fd of the same device (without a filter, TUNGETIFF reports IFF_NOFILTER, 0x1000).
        int keep = rawTap("ntb5", linux_h.IFF_TAP() | linux_h.IFF_VNET_HDR());
        try {
            assertEquals(linux_h.IFF_NOFILTER(), getIff(keep) & linux_h.IFF_NOFILTER(), "no filter before");
            int other = FileCalls.dup(Sys.errnoSlot(), keep);
            refused(other, TapMode.TAP, before(keep), TapException.Kind.UNSUPPORTED_FLAGS, null, "without IFF_NO_PI");
            assertEquals(linux_h.IFF_NOFILTER(), getIff(keep) & linux_h.IFF_NOFILTER(), "the probe's filter was detached");
        } finally {
            closeFds(keep);
        }
        KernelFixtures.assertNoLeak(before);
        refused(rawTap("ntb2", linux_h.IFF_TUN() | linux_h.IFF_NO_PI() | linux_h.IFF_VNET_HDR()), TapMode.TAP, before,
                TapException.Kind.WRONG_MODE, null, "is a TUN device; a TAP device was asked for");
        // The default asks for TAP; null accepts either mode.
        int tunFd = rawTap("ntb3", linux_h.IFF_TUN() | linux_h.IFF_NO_PI() | linux_h.IFF_VNET_HDR());
        TapException w = assertThrows(TapException.class, () -> Tap.open(TapHandle.ofInheritedFd(tunFd)));
        assertEquals(TapException.Kind.WRONG_MODE, w.kind());
        assertTrue(w.getMessage().contains("\"ntb3\"") && w.getMessage().contains("fd " + tunFd + " (inherited)"), w.getMessage());
        assertFalse(isOpen(tunFd));
        KernelFixtures.assertNoLeak(before);
        try (Tap tun = Tap.open(TapHandle.ofInheritedFd(rawTap("ntb4", linux_h.IFF_TUN() | linux_h.IFF_NO_PI()
                | linux_h.IFF_VNET_HDR()), null))) {
            assertEquals(TapMode.TUN, tun.mode());
        }
        KernelFixtures.assertNoLeak(before);
        for (String gone : List.of("ntb0", "ntb1", "ntb2", "ntb3", "ntb4")) {
            assertFalse(ns.hasLink(gone), gone + " went away with its only fd");
        }
    }

    @Test
    void inheritedFdIsAdoptedWithCloexecAndNonblock() throws Exception {
        try (TapHandle h = create("nta0", TapMode.TAP)) {
            int fd = FileCalls.dup(Sys.errnoSlot(), h.fd()); // plain dup: no FD_CLOEXEC
            assertTrue(fd >= 0);
            int fl = FileCalls.fcntl(Sys.errnoSlot(), fd, linux_h.F_GETFL(), 0);
            assertEquals(0, FileCalls.fcntl(Sys.errnoSlot(), fd, linux_h.F_SETFL(), fl & ~linux_h.O_NONBLOCK()));
            assertEquals(0, FileCalls.fcntl(Sys.errnoSlot(), fd, linux_h.F_GETFD(), 0) & linux_h.FD_CLOEXEC());
            TapHandle adopted = TapHandle.ofInheritedFd(fd);
            assertEquals("fd " + fd + " (inherited)", adopted.origin());
            assertTrue((FileCalls.fcntl(Sys.errnoSlot(), fd, linux_h.F_GETFD(), 0) & linux_h.FD_CLOEXEC()) != 0);
            assertTrue((FileCalls.fcntl(Sys.errnoSlot(), h.fd(), linux_h.F_GETFL(), 0) & linux_h.O_NONBLOCK()) != 0,
                    "O_NONBLOCK is shared by every fd of the open file");
            try (Tap tap = Tap.open(adopted)) {
                assertEquals("nta0", tap.name());
                assertEquals("fd " + fd + " (inherited)", tap.origin());
            }
            assertFalse(isOpen(fd));
        }
    }

    // ---- namespaces ------------------------------------------------------------------------------

    @Test
    void openInsideAScratchNamespaceByPathAndByFdOnlyThere() throws Exception {
        Path myNs = threadNetns();
        try (Tap byPath = Tap.open(create("ntn0", TapMode.TAP))) {
            assertEquals(myNs, threadNetns());
            assertTrue(ns.hasLink("ntn0"));
            assertFalse(Files.exists(Path.of("/sys/class/net/ntn0")), "not in the host namespace");
            assertTrue(byPath.origin().contains("in netns " + ns.path()), byPath.origin());
        }
        int nsFd = openPath(ns.path().toString(), linux_h.O_RDONLY());
        try (Tap byFd = Tap.open(TapHandle.createInNamespace(nsFd, "ntn1", TapMode.TAP, TUN))) {
            assertEquals(myNs, threadNetns());
            assertTrue(ns.hasLink("ntn1"));
            assertFalse(Files.exists(Path.of("/sys/class/net/ntn1")));
            assertEquals("/dev/net/tun as \"ntn1\" in netns fd " + nsFd, byFd.origin());
            assertTrue(isOpen(nsFd), "the namespace fd stays the caller's");
        } finally {
            closeFds(nsFd);
        }
    }

    @Test
    void badNamespacesAreTypedAndTheThreadNeverMoves() throws Exception {
        Path myNs = threadNetns();
        Map<Integer, String> before = KernelFixtures.openFds();
        Path missing = Path.of("/run/netns/nettap-no-such-ns");
        TapException e1 = assertThrows(TapException.class, () -> TapHandle.createInNamespace(missing, "x0", TapMode.TAP, TUN));
        assertEquals(TapException.Kind.SYSCALL, e1.kind());
        assertEquals("ENOENT", e1.errnoName());
        assertTrue(e1.getMessage().contains(missing.toString()), e1.getMessage());

        for (Path notNet : List.of(Path.of("/proc/self/ns/uts"), Files.writeString(tmp.resolve("file"), "x"))) {
            TapException e = assertThrows(TapException.class, () -> TapHandle.createInNamespace(notNet, "x0", TapMode.TAP, TUN));
            assertEquals(TapException.Kind.NOT_A_NAMESPACE, e.kind(), e.getMessage());
            assertEquals("EINVAL", e.errnoName());
            assertTrue(e.getMessage().contains(notNet.toString()) && e.getMessage().contains("setns"), e.getMessage());
        }
        int uts = openPath("/proc/self/ns/uts", linux_h.O_RDONLY());
        try {
            TapException e = assertThrows(TapException.class, () -> TapHandle.createInNamespace(uts, "x0", TapMode.TAP, TUN));
            assertEquals(TapException.Kind.NOT_A_NAMESPACE, e.kind());
            assertTrue(e.getMessage().contains("fd " + uts), e.getMessage());
        } finally {
            closeFds(uts);
        }
        TapException badFd = assertThrows(TapException.class, () -> TapHandle.createInNamespace(uts, "x0", TapMode.TAP, TUN));
        assertEquals("EBADF", badFd.errnoName());
        assertThrows(IllegalArgumentException.class, () -> TapHandle.createInNamespace(-1, "x0", TapMode.TAP, TUN));
        assertEquals(myNs, threadNetns(), "the calling thread's namespace never changed");
        KernelFixtures.assertNoLeak(before);
        assertFalse(Files.exists(Path.of("/sys/class/net/x0")));
    }
}
