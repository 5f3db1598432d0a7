package dev.nettap;

import dev.nettap.tool.ScratchNamespace;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;

/** The kernel's own TCP between two namespaces: a Java client in one, a Java server in the other. */
final class TcpThrough {
    private TcpThrough() {}

    /** The receiving side's address, on the TAP {@link #prepare} sets up in the receiving namespace. */
    static final String TO_ADDRESS = "10.95.0.2";

    /**
     * Makes {@code a} (a TAP in {@code from}) and {@code b} (a TAP in {@code to}) the two ends of a
     * path: CSUM, TSO4 and TSO6 on both (GSO super-frames and partial checksums pass between them,
     * header unchanged), 10.95.0.1/24 on {@code a} and {@link #TO_ADDRESS}/24 on {@code b}, both up;
     * in {@code to} no IPv6 and loopback up. Whatever moves frames between a and b carries the
     * kernels' TCP of {@link #transfer}.
     */
    static void prepare(ScratchNamespace from, Tap a, ScratchNamespace to, Tap b) throws IOException {
        Set<Offload> offloads = EnumSet.of(Offload.CSUM, Offload.TSO4, Offload.TSO6);
        a.setOffloads(offloads);
        b.setOffloads(offloads);
        TestBridge.quiet(to);
        to.ip("link", "set", "lo", "up");
        from.ip("addr", "add", "10.95.0.1/24", "dev", a.name());
        from.ip("link", "set", a.name(), "up");
        to.ip("addr", "add", TO_ADDRESS + "/24", "dev", b.name());
        to.ip("link", "set", b.name(), "up");
    }

    /**
     * Sends {@code bytes} random bytes from a socket opened in {@code from} to a server opened in
     * {@code to} at {@code address}:5001; returns {"length sha256" sent, the same of what arrived}.
     */
    static String[] transfer(Path from, Path to, String address, int bytes) throws Exception {
        return start(from, to, address, bytes).finish(Duration.ofSeconds(90));
    }

    /**
     * Starts the transfer of {@link #transfer} on two threads of its own and returns at once, for a
     * caller that forwards the frames itself while it runs.
     */
    static Transfer start(Path from, Path to, String address, int bytes) throws Exception {
        byte[] sent = new byte[bytes];
        new Random(14).nextBytes(sent);
        InetSocketAddress at = new InetSocketAddress(address, 5001);
        ServerSocketChannel listener = inNamespace(to, () -> ServerSocketChannel.open().bind(at));
        SocketChannel conn;
        try {
            conn = inNamespace(from, SocketChannel::open);
        } catch (TapException | RuntimeException e) {
            listener.close();
            throw e;
        }
        AtomicReference<String> server = new AtomicReference<>("server: did not finish");
        AtomicReference<String> client = new AtomicReference<>("client: did not finish");
        Thread srv = Thread.ofPlatform().start(() -> { // the kernel of {@code to} receives
            try (listener; Socket s = listener.socket().accept()) {
                s.setSoTimeout(30_000);
                byte[] got = new byte[bytes + 1];
                int n = 0;
                for (int r; n < got.length && (r = s.getInputStream().read(got, n, got.length - n)) > 0; ) {
                    n += r;
                }
                server.set(n + " " + sha256(got, n));
            } catch (Exception e) {
                server.set("server: " + e);
            }
        });
        Thread cli = Thread.ofPlatform().start(() -> { // the kernel of {@code from} sends
            try (conn) {
                conn.socket().connect(at, 30_000);
                conn.socket().getOutputStream().write(sent);
                conn.shutdownOutput();
                client.set(bytes + " " + sha256(sent, bytes));
            } catch (Exception e) {
                client.set("client: " + e);
            }
        });
        return new Transfer(listener, conn, srv, cli, server, client);
    }

    /** A transfer under way: its two threads and what each reports. */
    static final class Transfer {
        private final ServerSocketChannel listener;
        private final SocketChannel conn;
        private final Thread srv;
        private final Thread cli;
        private final AtomicReference<String> server;
        private final AtomicReference<String> client;

        private Transfer(ServerSocketChannel listener, SocketChannel conn, Thread srv, Thread cli,
                         AtomicReference<String> server, AtomicReference<String> client) {
            this.listener = listener;
            this.conn = conn;
            this.srv = srv;
            this.cli = cli;
            this.server = server;
            this.client = client;
        }

        /** Whether the client or the server is still at work. */
        boolean running() {
            return srv.isAlive() || cli.isAlive();
        }

        /**
         * Waits up to {@code wait} for the client, then up to {@code wait} for the server, closes the
         * sockets of a side that is still at work, and returns {"length sha256" sent, the same of what
         * arrived}; a side that failed or did not finish reports "client: ..." or "server: ...".
         */
        String[] finish(Duration wait) throws InterruptedException, IOException {
            cli.join(wait);
            srv.join(wait);
            if (cli.isAlive()) {
                conn.close();
            }
            if (srv.isAlive()) {
                listener.close();
            }
            return new String[] {client.get(), server.get()};
        }
    }

    private static <T> T inNamespace(Path netns, Callable<T> action) throws TapException {
        return InNamespace.call(netns, () -> {
            try {
                return action.call();
            } catch (Exception e) {
                throw new IllegalStateException("in " + netns + ": " + e, e);
            }
        });
    }

    private static String sha256(byte[] b, int len) throws java.security.NoSuchAlgorithmException {
        MessageDigest d = MessageDigest.getInstance("SHA-256");
        d.update(b, 0, len);
        return HexFormat.of().formatHex(d.digest());
    }
}
