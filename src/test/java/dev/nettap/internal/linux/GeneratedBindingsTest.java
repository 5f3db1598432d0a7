package dev.nettap.internal.linux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The generated bindings work when called: accessors, a plain downcall, the variadic invokers, and the
 * four socket functions whose address parameter glibc declares as a transparent union.
 */
class GeneratedBindingsTest {

    @Test
    void plainDowncall() {
        assertEquals(ProcessHandle.current().pid(), linux_h.getpid());
    }

    @Test
    void ifreqNestedUnionAccessors() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ifr = ifreq.allocate(arena);
            assertEquals(40, ifr.byteSize());
            MemorySegment name = ifreq.ifr_ifrn.ifrn_name(ifreq.ifr_ifrn(ifr));
            name.setString(0, "tap7");
            ifreq.ifr_ifru.ifru_flags(ifreq.ifr_ifru(ifr), (short) (linux_h.IFF_TAP() | linux_h.IFF_NO_PI()));
            assertEquals('a', ifreq.ifr_ifrn.ifrn_name(ifreq.ifr_ifrn(ifr), 1));
            assertEquals("tap7", ifr.getString(0));
            assertEquals(linux_h.IFF_TAP() | linux_h.IFF_NO_PI(), ifr.get(ValueLayout.JAVA_SHORT, 16));
            assertArrayEquals(new long[] {16}, ifreq.ifr_ifrn.ifrn_name$dimensions());
        }
    }

    @Test
    void packedEpollEvent() {
        assertEquals(12, epoll_event.sizeof());
        assertEquals(4, epoll_event.data$offset());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment events = epoll_event.allocateArray(2, arena);
            MemorySegment second = epoll_event.asSlice(events, 1);
            epoll_event.events(second, linux_h.EPOLLIN() | linux_h.EPOLLET());
            epoll_data.fd(epoll_event.data(second), 42);
            assertEquals(42, events.get(ValueLayout.JAVA_INT_UNALIGNED, 12 + 4));
            assertEquals(linux_h.EPOLLIN() | linux_h.EPOLLET(), events.get(ValueLayout.JAVA_INT, 12));
        }
    }

    @Test
    void variadicInvokersAndIovecs() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(ValueLayout.JAVA_INT, 2);
            assertEquals(0, linux_h.socketpair(linux_h.AF_UNIX(), linux_h.SOCK_STREAM() | linux_h.SOCK_CLOEXEC(), 0, fds));
            int a = fds.getAtIndex(ValueLayout.JAVA_INT, 0), b = fds.getAtIndex(ValueLayout.JAVA_INT, 1);
            try {
                var fcntl = linux_h.fcntl.makeInvoker();
                assertEquals(linux_h.FD_CLOEXEC(), fcntl.apply(a, linux_h.F_GETFD()) & linux_h.FD_CLOEXEC());
                int fl = fcntl.apply(a, linux_h.F_GETFL());
                var fcntlInt = linux_h.fcntl.makeInvoker(linux_h.C_INT);
                assertEquals(0, fcntlInt.apply(a, linux_h.F_SETFL(), fl | linux_h.O_NONBLOCK()));
                assertTrue((fcntl.apply(a, linux_h.F_GETFL()) & linux_h.O_NONBLOCK()) != 0);

                byte[] msg = "hello".getBytes(StandardCharsets.US_ASCII);
                MemorySegment buf = arena.allocateFrom(ValueLayout.JAVA_BYTE, msg);
                MemorySegment iov = iovec.allocate(arena);
                iovec.iov_base(iov, buf);
                iovec.iov_len(iov, msg.length);
                assertEquals(msg.length, linux_h.writev(b, iov, 1));

                MemorySegment avail = arena.allocate(ValueLayout.JAVA_INT);
                var ioctl = linux_h.ioctl.makeInvoker(linux_h.C_POINTER);
                assertEquals(0, ioctl.apply(a, (long) linux_h.FIONREAD(), avail));
                assertEquals(msg.length, avail.get(ValueLayout.JAVA_INT, 0));
            } finally {
                linux_h.close(a);
                linux_h.close(b);
            }
        }
    }

    /**
     * bind, connect, accept and accept4 through the generated handles pass the address as a pointer: a
     * Unix socket bound to a path, two clients connected, accepted once with and once without the peer's
     * address, and a byte stream each way. Passed by value (jextract's reading of glibc's transparent
     * union under _GNU_SOURCE) bind fails with EFAULT.
     */
    @Test
    void unixSocketThroughBindConnectAcceptAccept4() throws Exception {
        Path dir = Files.createTempDirectory("nettap-sock");
        Path path = dir.resolve("s");
        int srv = -1, c1 = -1, c2 = -1, a1 = -1, a2 = -1;
        try (Arena arena = Arena.ofConfined()) {
            int stream = linux_h.SOCK_STREAM() | linux_h.SOCK_CLOEXEC();
            MemorySegment addr = sockaddr_un.allocate(arena);
            sockaddr_un.sun_family(addr, (short) linux_h.AF_UNIX());
            sockaddr_un.sun_path(addr).setString(0, path.toString());
            int len = (int) sockaddr_un.sizeof();

            srv = linux_h.socket(linux_h.AF_UNIX(), stream, 0);
            assertTrue(srv >= 0, "socket");
            assertEquals(0, linux_h.bind(srv, addr, len), "bind");
            assertTrue(Files.exists(path), "bind made no socket file at " + path);
            assertEquals(0, linux_h.listen(srv, 2), "listen");

            c1 = linux_h.socket(linux_h.AF_UNIX(), stream, 0);
            assertEquals(0, linux_h.connect(c1, addr, len), "connect");
            MemorySegment peer = sockaddr_un.allocate(arena);
            peer.fill((byte) 0x55);
            MemorySegment peerLen = arena.allocate(ValueLayout.JAVA_INT);
            peerLen.set(ValueLayout.JAVA_INT, 0, len);
            a1 = linux_h.accept(srv, peer, peerLen);
            assertTrue(a1 >= 0, "accept");
            // An unbound client's address is its family alone: the kernel wrote through both pointers.
            assertEquals(2, peerLen.get(ValueLayout.JAVA_INT, 0));
            assertEquals(linux_h.AF_UNIX(), sockaddr_un.sun_family(peer));

            c2 = linux_h.socket(linux_h.AF_UNIX(), stream, 0);
            assertEquals(0, linux_h.connect(c2, addr, len), "connect");
            a2 = linux_h.accept4(srv, MemorySegment.NULL, MemorySegment.NULL,
                    linux_h.SOCK_CLOEXEC() | linux_h.SOCK_NONBLOCK());
            assertTrue(a2 >= 0, "accept4");
            var fcntl = linux_h.fcntl.makeInvoker();
            assertTrue((fcntl.apply(a2, linux_h.F_GETFL()) & linux_h.O_NONBLOCK()) != 0, "accept4 flags: O_NONBLOCK");
            assertEquals(linux_h.FD_CLOEXEC(), fcntl.apply(a2, linux_h.F_GETFD()) & linux_h.FD_CLOEXEC(), "accept4 flags: FD_CLOEXEC");

            assertEquals("one", roundTrip(arena, c1, a1, "one"));
            assertEquals("two", roundTrip(arena, a2, c2, "two"));
        } finally {
            for (int fd : new int[] {a2, a1, c2, c1, srv}) {
                if (fd >= 0) linux_h.close(fd);
            }
            Files.deleteIfExists(path);
            Files.delete(dir);
        }
    }

    private static String roundTrip(Arena arena, int from, int to, String text) {
        byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        MemorySegment out = arena.allocateFrom(ValueLayout.JAVA_BYTE, bytes);
        assertEquals(bytes.length, linux_h.write(from, out, bytes.length));
        MemorySegment in = arena.allocate(16);
        long n = linux_h.read(to, in, in.byteSize());
        assertEquals(bytes.length, n);
        return new String(in.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII);
    }
}
