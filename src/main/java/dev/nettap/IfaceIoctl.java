package dev.nettap;

import dev.nettap.internal.sys.SocketCalls;
import dev.nettap.internal.sys.FileCalls;
import dev.nettap.internal.linux.ifreq;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.linux.sockaddr;
import dev.nettap.internal.sys.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

/**
 * The interface ioctls ({@code SIOCGIFINDEX}, {@code SIOC[GS]IFFLAGS}, {@code SIOC[GS]IFMTU},
 * {@code SIOC[GS]IFHWADDR}) on a datagram socket made on the calling thread: the kernel looks the
 * name up in the network namespace the socket was created in, so the caller runs this on a thread
 * inside the device's namespace. Reading needs no privilege; changing needs {@code CAP_NET_ADMIN}
 * in that namespace, and an {@code EPERM} says so.
 */
final class IfaceIoctl implements AutoCloseable {
    private final int sock;
    private final String name;
    private final String ctx;
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment ifr;
    private final MemorySegment err = Sys.errnoSlot();

    IfaceIoctl(String name, String ctx) throws TapException {
        this.name = name;
        this.ctx = ctx;
        byte[] b = InterfaceNames.check(name);
        ifr = ifreq.allocate(arena);
        int s = SocketCalls.socket(err, linux_h.AF_INET(), linux_h.SOCK_DGRAM() | linux_h.SOCK_CLOEXEC(), 0);
        if (s < 0) {
            int e = Sys.errno(err);
            arena.close();
            throw TapException.syscall("socket(AF_INET, SOCK_DGRAM)", e, ctx, null);
        }
        sock = s;
        MemorySegment.copy(b, 0, ifreq.ifr_ifrn.ifrn_name(ifreq.ifr_ifrn(ifr)), ValueLayout.JAVA_BYTE, 0, b.length);
    }

    private MemorySegment union() {
        return ifreq.ifr_ifru(ifr);
    }

    private void call(long request, String what, String privilege) throws TapException {
        // SAFETY: ifr is a 40-byte struct ifreq in this confined arena, alive for the call; every
        // SIOC[GS]IF* request reads and writes within it.
        if (FileCalls.ioctl(err, sock, request, ifr) < 0) {
            int e = Sys.errno(err);
            String hint = e == linux_h.EPERM() || e == linux_h.EACCES()
                    ? privilege + " needs CAP_NET_ADMIN in the device's network namespace"
                    : e == linux_h.ENODEV() ? "no interface \"" + name + "\" in this network namespace" : null;
            throw TapException.syscall(what, e, ctx, hint);
        }
    }

    int index() throws TapException {
        call(linux_h.SIOCGIFINDEX(), "SIOCGIFINDEX", "reading the index");
        return ifreq.ifr_ifru.ifru_ivalue(union());
    }

    int flags() throws TapException {
        call(linux_h.SIOCGIFFLAGS(), "SIOCGIFFLAGS", "reading the flags");
        return Short.toUnsignedInt(ifreq.ifr_ifru.ifru_flags(union()));
    }

    void setUp(boolean up) throws TapException {
        int f = flags();
        int want = up ? f | linux_h.IFF_UP() : f & ~linux_h.IFF_UP();
        if (want != f) {
            ifreq.ifr_ifru.ifru_flags(union(), (short) want);
            call(linux_h.SIOCSIFFLAGS(), "SIOCSIFFLAGS", "setting the link " + (up ? "up" : "down"));
        }
    }

    int mtu() throws TapException {
        call(linux_h.SIOCGIFMTU(), "SIOCGIFMTU", "reading the MTU");
        return ifreq.ifr_ifru.ifru_mtu(union());
    }

    void setMtu(int mtu) throws TapException {
        ifreq.ifr_ifru.ifru_mtu(union(), mtu);
        call(linux_h.SIOCSIFMTU(), "SIOCSIFMTU", "setting the MTU");
    }

    byte[] mac() throws TapException {
        call(linux_h.SIOCGIFHWADDR(), "SIOCGIFHWADDR", "reading the MAC address");
        MemorySegment data = sockaddr.sa_data(ifreq.ifr_ifru.ifru_hwaddr(union()));
        return data.asSlice(0, 6).toArray(ValueLayout.JAVA_BYTE);
    }

    void setMac(byte[] mac) throws TapException {
        MemorySegment sa = ifreq.ifr_ifru.ifru_hwaddr(union());
        sockaddr.sa_family(sa, (short) linux_h.ARPHRD_ETHER());
        MemorySegment.copy(mac, 0, sockaddr.sa_data(sa), ValueLayout.JAVA_BYTE, 0, 6);
        call(linux_h.SIOCSIFHWADDR(), "SIOCSIFHWADDR", "setting the MAC address");
    }

    /** {@return the name, as the kernel keeps it in the request} */
    String name() {
        return ifreq.ifr_ifrn.ifrn_name(ifreq.ifr_ifrn(ifr)).getString(0, StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        FileCalls.close(err, sock);
        arena.close();
    }
}
