import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.SplittableRandom;

/**
 * The two ends of bench/soak, run with the source launcher inside a namespace (ip netns exec):
 *   java bench/SoakPeer.java recv ADDRESS PORT          accepts one connection, prints "BYTES SHA256"
 *   java bench/SoakPeer.java send ADDRESS PORT BYTES    sends BYTES random bytes, prints "BYTES SHA256"
 */
public class SoakPeer {
    public static void main(String[] a) throws Exception {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        byte[] buf = new byte[1 << 16];
        long total = 0;
        if (a[0].equals("recv")) {
            try (ServerSocket s = new ServerSocket()) {
                s.bind(new InetSocketAddress(a[1], Integer.parseInt(a[2])));
                System.out.println("listening");
                System.out.flush();
                try (Socket c = s.accept(); InputStream in = c.getInputStream()) {
                    c.setSoTimeout(60_000);
                    int n;
                    while ((n = in.read(buf)) >= 0) {
                        sha.update(buf, 0, n);
                        total += n;
                    }
                }
            }
        } else {
            long bytes = Long.parseLong(a[3]);
            SplittableRandom rnd = new SplittableRandom();
            try (Socket c = new Socket()) {
                c.connect(new InetSocketAddress(a[1], Integer.parseInt(a[2])), 10_000);
                OutputStream out = c.getOutputStream();
                while (total < bytes) {
                    int n = (int) Math.min(buf.length, bytes - total);
                    rnd.nextBytes(buf);
                    sha.update(buf, 0, n);
                    out.write(buf, 0, n);
                    total += n;
                }
                c.shutdownOutput();
            }
        }
        System.out.println(total + " " + HexFormat.of().formatHex(sha.digest()));
    }
}
