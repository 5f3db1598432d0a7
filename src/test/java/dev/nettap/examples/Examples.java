package dev.nettap.examples;

import dev.nettap.FdPassing;
import dev.nettap.Offload;
import dev.nettap.PersistentTap;
import dev.nettap.Tap;
import dev.nettap.TapException;
import dev.nettap.TapHandle;
import dev.nettap.TapDevice;
import dev.nettap.TapMode;
import dev.nettap.vnet.IpVersion;
import dev.nettap.vnet.OffloadTranslation;
import dev.nettap.vnet.RxMetadata;
import dev.nettap.vnet.TxMetadata;
import dev.nettap.vnet.VirtioNetHdr;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;

/**
 * The code of the javadoc examples: each {@code @start region=X} ... {@code @end} below appears, word
 * for word, as the inline snippet {@code id=X} in {@code module-info.java} (the module overview) or
 * in {@code dev/nettap/vnet/package-info.java}. Compiled with the tests, so an example that no longer
 * matches the API breaks the build; ExamplesTest checks that the javadoc copies are these regions and
 * runs the parts that need no device. (The javadoc tool cannot quote external snippets in a module's
 * comment: JDK 25's javadoc fails with an internal error there.)
 */
final class Examples {
    private Examples() {}

    static void readme() throws TapException {
        // @start region=readme
        try (Tap tap = Tap.open(TapHandle.create("vm0"));          // TUNSETIFF TAP|NO_PI|VNET_HDR, validated
             Arena arena = Arena.ofConfined()) {
            MemorySegment hdr = arena.allocate(VirtioNetHdr.SIZE);
            MemorySegment frame = arena.allocate(65535);
            if (tap.awaitReadable(Duration.ofMillis(100)) == Tap.READY) {
                long n = tap.read(hdr, frame);   // bytes, or WOULD_BLOCK / DEVICE_GONE
            }
            long w = tap.write(hdr, frame.asSlice(0, 60));   // bytes, or WOULD_BLOCK / LINK_DOWN / MALFORMED / DEVICE_GONE
        }
        // @end
    }

    static void byName() throws TapException {
        // @start region=by-name
        // By name, in this thread's network namespace ("" or "tap%d" lets the kernel choose)
        try (Tap tap = Tap.open(TapHandle.create("vm0"))) {
            tap.setOffloads(EnumSet.of(Offload.CSUM, Offload.TSO4, Offload.TSO6));
            System.out.println(tap.name() + " opened as " + tap.origin());
        }
        // @end
    }

    static void inNamespace() throws TapException {
        // @start region=in-namespace
        // By name inside another network namespace: a short-lived thread setns-es, opens and
        // attaches; the calling thread never changes namespace, and the fd works from any thread
        Tap tap = Tap.open(TapHandle.createInNamespace(Path.of("/run/netns/blue"), "vm0"));
        // @end
        tap.close();
    }

    static void inherited() throws TapException {
        // @start region=inherited
        // Inherited from the launcher as fd 3 (e.g. libvirt's unmanaged tap): nettap owns it from
        // here on, checks with TUNGETIFF that it is a TAP queue with IFF_NO_PI and IFF_VNET_HDR,
        // and sets FD_CLOEXEC and O_NONBLOCK (shared with the launcher's copy of the open file)
        Tap tap = Tap.open(TapHandle.ofInheritedFd(3));
        // @end
        tap.close();
    }

    static void scmRights(Tap tap0, Tap tap1) throws TapException {
        List<Tap> queues = new ArrayList<>();
        // @start region=scm-rights
        // Receiving side: listen on a socket path for one sender (one fd per queue, plus a label)
        try (FdPassing.Received r = FdPassing.receive(Path.of("/run/vmm.sock"), 4, Duration.ofSeconds(10))) {
            String device = r.label();
            for (TapHandle h : r.handles()) {
                queues.add(Tap.open(h));          // handles not opened are closed with r
            }
        }
        // Sending side (the fds stay the sender's; the receiver gets duplicates)
        FdPassing.send(Path.of("/run/vmm.sock"), "vm0", Duration.ofSeconds(5), tap0.fd(), tap1.fd());
        // @end
    }

    static void multiQueue() throws TapException {
        // @start region=multi-queue
        // A multi-queue device (IFF_MULTI_QUEUE): one handle and one Tap per queue, typically one
        // per vCPU; the kernel spreads flows over the queues
        List<Tap> queues = new ArrayList<>();
        try {
            for (TapHandle h : TapHandle.createQueues("vm0", 4, TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE)) {
                queues.add(Tap.open(h));
            }
        } catch (TapException e) {
            queues.forEach(Tap::close);
            throw e;
        }
        // @end
        queues.forEach(Tap::close);
    }

    static void macvtap() throws TapException {
        // @start region=macvtap
        // A macvtap (or ipvtap) device: its character device by path, or by interface name (the
        // device number is read from sysfs inside the device's namespace and the node checked)
        Tap byPath = Tap.open(TapHandle.macvtap(Path.of("/dev/tap42")));
        Tap byName = Tap.open(TapHandle.macvtapInNamespace(Path.of("/run/netns/blue"), "macvtap0"));
        byte[] mac = byName.device().macAddress();   // the guest NIC should use this MAC
        // @end
        byPath.close();
        byName.close();
    }

    static void prepared(int vmmUid) throws TapException {
        // @start region=prepared
        // Administrator (CAP_NET_ADMIN): a persistent TAP owned by the VMM's user, already up
        PersistentTap dev = PersistentTap.builder("vm0").owner(vmmUid).multiQueue(true).up(true).create();

        // The unprivileged VMM: attaches without CAP_NET_ADMIN, changes nothing device-wide that
        // needs privileges, and never deletes the device; closing its queues leaves it as made
        Tap q = Tap.open(TapHandle.create("vm0", TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE));

        // Administrator, once the VM is gone: deletes only what it created
        dev.delete();
        // @end
        q.close();
    }

    static void device(Tap tap) throws TapException {
        // @start region=device
        TapDevice dev = tap.device();          // shared by every queue of the device in this process
        dev.setMtu(9000);                      // link settings need CAP_NET_ADMIN (EPERM names it)
        dev.setUp(true);                       // a created TAP starts down: writes return LINK_DOWN
        tap.setOffloads(EnumSet.of(Offload.CSUM, Offload.TSO4, Offload.TSO6));   // for every queue
        // @end
    }

    /**
     * One guest TSO frame through the translation: metadata from the NIC model to the header.
     *
     * @return the number of frame bytes to write, or {@link OffloadTranslation#REFUSED}
     */
    static long transmit(MemorySegment frame, MemorySegment hdr) {
        // @start region=tx
        // Once per transmit queue:
        TxMetadata md = new TxMetadata();
        // Per frame: what the guest's descriptor says (here an IPv4 TCP frame, TSO with MSS 1448)
        md.clear()
                .ipVersion(IpVersion.IPV4)
                .ipv4HeaderChecksum(true)
                .tcpSegmentation(1448)
                .l2Length(14).l3Length(20).l4Length(20);
        long length = OffloadTranslation.buildTxHeader(md, frame, hdr);   // hdr: 12 bytes
        if (length == OffloadTranslation.REFUSED) {
            // the guest's metadata and frame disagree, or the kernel would mishandle the frame:
            // nothing was written; drop it and count md.refusal() (no exception, no allocation)
            return length;
        }
        // write the header and the first `length` bytes of the frame (padding after the IP
        // datagram is left out) to the TAP in one writev
        return length;
        // @end
    }

    /** One received frame: the header into metadata, a partial checksum completed for a guest without offloads. */
    static RxMetadata receive(MemorySegment hdr, MemorySegment frame, boolean guestTakesPartialChecksums) {
        // @start region=rx
        RxMetadata md = new RxMetadata();      // once per receive queue
        // Per frame, after long n = tap.read(hdr, buffer) and frame = buffer.asSlice(0, n):
        OffloadTranslation.parseRxHeader(hdr, frame, md);
        if (!guestTakesPartialChecksums) {
            OffloadTranslation.completeChecksum(md, frame);   // no-op unless md.l4Checksum() is PARTIAL
        }
        // md.gsoType(), md.gsoSize(), md.partialStart()/partialOffset(), md.headerLength(): what the
        // guest's virtio-net (or e1000e) descriptor needs
        // @end
        return md;
    }
}
