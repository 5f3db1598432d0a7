package dev.nettap;

import dev.nettap.tool.EchoResponder;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The child JVM of {@link HandoverKernelTest}: adopts TAP queues the way a VMM started by someone
 * else would, and answers ARP and ping on each until a stop file appears (at most 60 s).
 *
 * <pre>
 * HandoverChild inherited FD    STOPFILE IP...    Tap.open(TapHandle.ofInheritedFd(FD))
 * HandoverChild receive   PATH  STOPFILE IP...    FdPassing.receive(PATH, IP count, 30 s), Tap.open each
 * </pre>
 *
 * Prints one {@code tap NAME origin ORIGIN} line per queue (and {@code label L} for a receive), then
 * {@code echo NAME N} per queue at the end; exits 0 only if every queue answered at least one echo.
 * Uses nothing from the test framework: it runs on the module path with the main classes only.
 */
public final class HandoverChild {
    private HandoverChild() {}

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        Path stop = Path.of(args[2]);
        int n = args.length - 3;
        List<Tap> taps = new ArrayList<>();
        if (mode.equals("inherited")) {
            taps.add(Tap.open(TapHandle.ofInheritedFd(Integer.parseInt(args[1]))));
        } else {
            try (FdPassing.Received r = FdPassing.receive(Path.of(args[1]), n, Duration.ofSeconds(30))) {
                System.out.println("label " + r.label());
                for (TapHandle h : r.handles()) {
                    taps.add(Tap.open(h));
                }
            }
        }
        if (taps.size() != n) {
            System.out.println("got " + taps.size() + " queues, expected " + n);
            System.exit(2);
        }
        List<EchoResponder> responders = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        for (int i = 0; i < n; i++) {
            Tap tap = taps.get(i);
            System.out.println("tap " + tap.name() + " origin " + tap.origin());
            int ip = ByteBuffer.wrap(InetAddress.getByName(args[3 + i]).getAddress()).getInt();
            EchoResponder r = new EchoResponder(tap, new byte[] {2, 0, 0, 0, 1, (byte) (2 + i)}, ip);
            responders.add(r);
            threads.add(Thread.ofPlatform().start(
                    () -> r.run(() -> Files.exists(stop) || System.nanoTime() - end > 0, line -> { })));
        }
        System.out.flush();
        boolean ok = true;
        for (int i = 0; i < n; i++) {
            threads.get(i).join();
            System.out.println("echo " + taps.get(i).name() + " " + responders.get(i).echoReplies());
            ok &= responders.get(i).echoReplies() > 0;
            responders.get(i).close();
            taps.get(i).close();
        }
        System.out.flush();
        System.exit(ok ? 0 : 3);
    }
}
