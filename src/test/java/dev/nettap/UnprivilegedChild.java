package dev.nettap;

import dev.nettap.internal.sys.ProcessCalls;
import dev.nettap.internal.sys.FileCalls;
import dev.nettap.tool.EchoResponder;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The child JVM of {@link UnprivilegedKernelTest}, run as another user (no capabilities) inside the
 * scratch namespace, the way an unprivileged VMM uses a device an administrator prepared for it.
 *
 * <pre>
 * UnprivilegedChild attach  NAME  CLONE STOPFILE IP   TapHandle.create(NAME, TAP, CLONE), answer ping
 * UnprivilegedChild macvtap NODE  -     STOPFILE IP   TapHandle.macvtap(NODE), answer ping
 * UnprivilegedChild refused NAME  CLONE               TapHandle.create must fail with EPERM
 * UnprivilegedChild nopi    NAME  CLONE               raw TUNSETIFF without IFF_NO_PI; Tap.open must refuse it
 * </pre>
 *
 * Prints {@code tap NAME}, {@code up BOOL}, {@code setMtu ERRNO MESSAGE}, {@code echo N}; exits 0
 * only if everything went as an unprivileged VMM should see it.
 */
public final class UnprivilegedChild {
    private UnprivilegedChild() {}

    private static int rawAttach(String name, Path clone, int flags) {
        java.lang.foreign.MemorySegment err = dev.nettap.internal.sys.Sys.errnoSlot();
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            int fd = dev.nettap.internal.sys.FileCalls.open(err, arena.allocateFrom(clone.toString()),
                    dev.nettap.internal.linux.linux_h.O_RDWR());
            java.lang.foreign.MemorySegment ifr = dev.nettap.internal.linux.ifreq.allocate(arena);
            byte[] b = name.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            java.lang.foreign.MemorySegment.copy(b, 0, dev.nettap.internal.linux.ifreq.ifr_ifrn.ifrn_name(
                    dev.nettap.internal.linux.ifreq.ifr_ifrn(ifr)), java.lang.foreign.ValueLayout.JAVA_BYTE, 0, b.length);
            dev.nettap.internal.linux.ifreq.ifr_ifru.ifru_flags(dev.nettap.internal.linux.ifreq.ifr_ifru(ifr), (short) flags);
            if (fd < 0 || dev.nettap.internal.sys.FileCalls.ioctl(err, fd, dev.nettap.internal.linux.linux_h.TUNSETIFF(), ifr) < 0) {
                System.out.println("raw attach failed: errno " + dev.nettap.internal.sys.Sys.errno(err));
                System.exit(9);
            }
            return fd;
        }
    }

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        if (mode.equals("refused")) {
            try (TapHandle h = TapHandle.create(args[1], TapMode.TAP, Path.of(args[2]))) {
                System.out.println("attached " + h.origin() + ": expected EPERM");
                System.exit(5);
            } catch (TapException e) {
                System.out.println("refused " + e.errnoName() + " " + e.getMessage());
                System.exit(e.errnoName().equals("EPERM") ? 0 : 6);
            }
        }
        if (mode.equals("nopi")) {
            // A queue attached without IFF_NO_PI by raw TUNSETIFF: Tap.open must see it, unprivileged.
            int fd = rawAttach(args[1], Path.of(args[2]), dev.nettap.internal.linux.linux_h.IFF_TAP()
                    | dev.nettap.internal.linux.linux_h.IFF_VNET_HDR());
            try (Tap tap = Tap.open(TapHandle.ofInheritedFd(fd))) {
                System.out.println("opened " + tap + ": expected UNSUPPORTED_FLAGS");
                System.exit(7);
            } catch (TapException e) {
                System.out.println("nopi " + e.kind() + " " + e.getMessage());
                System.exit(e.kind() == TapException.Kind.UNSUPPORTED_FLAGS ? 0 : 8);
            }
        }
        TapHandle h = mode.equals("macvtap") ? TapHandle.macvtap(Path.of(args[1]))
                : TapHandle.create(args[1], TapMode.TAP, Path.of(args[2]));
        Path stop = Path.of(args[3]);
        int ip = ByteBuffer.wrap(InetAddress.getByName(args[4]).getAddress()).getInt();
        try (Tap tap = Tap.open(h)) {
            System.out.println("tap " + tap.name() + " uid " + dev.nettap.internal.sys.ProcessCalls.geteuid());
            System.out.println("up " + tap.device().isUp());
            try {
                tap.device().setMtu(1400);
                System.out.println("setMtu succeeded: expected EPERM");
            } catch (TapException e) {
                System.out.println("setMtu " + e.errnoName() + " " + e.getMessage());
            }
            System.out.flush();
            EchoResponder r = new EchoResponder(tap, new byte[] {2, 0, 0, 0, 1, 2}, ip);
            long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            r.run(() -> Files.exists(stop) || System.nanoTime() - end > 0, line -> { });
            System.out.println("echo " + r.echoReplies());
            r.close();
            System.out.flush();
            System.exit(r.echoReplies() > 0 ? 0 : 3);
        }
    }
}
