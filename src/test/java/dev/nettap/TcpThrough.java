package dev.nettap;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;

/** The kernel's own TCP between two namespaces: a Java client in one, a Java server in the other. */
final class TcpThrough {
    private TcpThrough() {}

    /**
     * Sends {@code bytes} random bytes from a socket opened in {@code from} to a server opened in
     * {@code to} at {@code address}:5001; returns {"length sha256" sent, the same of what arrived}.
     */
    static String[] transfer(Path from, Path to, String address, int bytes) throws Exception {
        byte[] sent = new byte[bytes];
        new Random(14).nextBytes(sent);
        InetSocketAddress at = new InetSocketAddress(address, 5001);
        ServerSocketChannel listener = inNamespace(to, () -> ServerSocketChannel.open().bind(at));
        SocketChannel conn = inNamespace(from, SocketChannel::open);
        AtomicReference<String> server = new AtomicReference<>("nothing"), client = new AtomicReference<>("nothing");
        Thread srv = Thread.ofPlatform().start(() -> {
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
        Thread cli = Thread.ofPlatform().start(() -> {
            try (conn) {
                conn.socket().connect(at, 30_000);
                conn.socket().getOutputStream().write(sent);
                conn.shutdownOutput();
                client.set(bytes + " " + sha256(sent, bytes));
            } catch (Exception e) {
                client.set("client: " + e);
            }
        });
        cli.join(90_000);
        srv.join(90_000);
        if (srv.isAlive()) {
            listener.close();
        }
        return new String[] {client.get(), server.get()};
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
