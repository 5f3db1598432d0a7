package dev.nettap.internal.linux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The generated bindings work when called: accessors, a plain downcall and the variadic invokers. */
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
}
