/**
 * nettap: Linux TAP, TUN and macvtap devices for Java virtual machine monitors, emulators and
 * userspace network stacks, through the FFM API and nothing but {@code java.base}.
 *
 * <p>{@link dev.nettap} holds the device API (Linux only; elsewhere every entry point that needs the
 * kernel throws {@link java.lang.UnsupportedOperationException}). {@link dev.nettap.vnet} holds the
 * virtio-net header and the offload translation; it makes no system calls and runs anywhere.
 *
 * <h2>Getting started</h2>
 *
 * A VMM backs each virtual NIC with a TAP queue: get a {@link dev.nettap.TapHandle} (an owned file
 * descriptor that remembers where it came from), turn it into a {@link dev.nettap.Tap} with
 * {@link dev.nettap.Tap#open(dev.nettap.TapHandle)} (which checks with {@code TUNGETIFF} that it is a
 * TAP or TUN queue with {@code IFF_NO_PI} and {@code IFF_VNET_HDR}, and sets the 12-byte virtio-net
 * header), then move frames with {@code readv}/{@code writev} straight between the device and native
 * memory:
 * {@snippet lang=java id=readme :
 *   try (Tap tap = Tap.open(TapHandle.create("vm0"));          // TUNSETIFF TAP|NO_PI|VNET_HDR, validated
 *        Arena arena = Arena.ofConfined()) {
 *       MemorySegment hdr = arena.allocate(VirtioNetHdr.SIZE);
 *       MemorySegment frame = arena.allocate(65535);
 *       if (tap.awaitReadable(Duration.ofMillis(100)) == Tap.READY) {
 *           long n = tap.read(hdr, frame);   // bytes, or WOULD_BLOCK / DEVICE_GONE
 *       }
 *       long w = tap.write(hdr, frame.asSlice(0, 60));   // bytes, or WOULD_BLOCK / LINK_DOWN / MALFORMED / DEVICE_GONE
 *   }
 * }
 *
 * Packet calls never throw for what the kernel reports in normal operation: they return a byte count
 * or a negative status ({@link dev.nettap.Tap#WOULD_BLOCK}, {@link dev.nettap.Tap#LINK_DOWN},
 * {@link dev.nettap.Tap#MALFORMED}, {@link dev.nettap.Tap#DEVICE_GONE}, ...). Failures to get or
 * validate a queue throw {@link dev.nettap.TapException}, whose message names the errno, the call and
 * the origin of the fd, and whose {@link dev.nettap.TapException#kind()} a caller can branch on.
 *
 * <h2>Where a queue comes from</h2>
 *
 * Every source gives a {@code TapHandle}, and every handle goes through the same validation in
 * {@code Tap.open}; an fd it refuses is closed.
 *
 * <h3>By name</h3>
 * {@link dev.nettap.TapHandle#create(String)} opens {@code /dev/net/tun} and attaches to (or creates)
 * the named device in the calling thread's network namespace. Creating needs {@code CAP_NET_ADMIN};
 * attaching to a device made with {@code ip tuntap add ... user U} does not, for that user.
 * {@snippet lang=java id=by-name :
 *   // By name, in this thread's network namespace ("" or "tap%d" lets the kernel choose)
 *   try (Tap tap = Tap.open(TapHandle.create("vm0"))) {
 *       tap.setOffloads(EnumSet.of(Offload.CSUM, Offload.TSO4, Offload.TSO6));
 *       System.out.println(tap.name() + " opened as " + tap.origin());
 *   }
 * }
 *
 * <h3>In another network namespace</h3>
 * {@link dev.nettap.TapHandle#createInNamespace(java.nio.file.Path, String)} (and its overloads
 * taking a mode, a clone device or a namespace fd) looks the name up inside that namespace, for a
 * VMM that keeps its guests' networks apart:
 * {@snippet lang=java id=in-namespace :
 *   // By name inside another network namespace: a short-lived thread setns-es, opens and
 *   // attaches; the calling thread never changes namespace, and the fd works from any thread
 *   Tap tap = Tap.open(TapHandle.createInNamespace(Path.of("/run/netns/blue"), "vm0"));
 * }
 *
 * <h3>An inherited file descriptor</h3>
 * A launcher that opened the queue (libvirt's unmanaged tap, a privileged helper) passes it as an
 * fd number; {@link dev.nettap.TapHandle#ofInheritedFd(int)} adopts it:
 * {@snippet lang=java id=inherited :
 *   // Inherited from the launcher as fd 3 (e.g. libvirt's unmanaged tap): nettap owns it from
 *   // here on, checks with TUNGETIFF that it is a TAP queue with IFF_NO_PI and IFF_VNET_HDR,
 *   // and sets FD_CLOEXEC and O_NONBLOCK (shared with the launcher's copy of the open file)
 *   Tap tap = Tap.open(TapHandle.ofInheritedFd(3));
 * }
 *
 * <h3>{@code SCM_RIGHTS} over a Unix socket</h3>
 * {@link dev.nettap.FdPassing} receives queues a privileged process sends over a Unix domain
 * socket, and sends them; every fd that arrives belongs to the returned
 * {@link dev.nettap.FdPassing.Received} until a {@code Tap} takes it:
 * {@snippet lang=java id=scm-rights :
 *   // Receiving side: listen on a socket path for one sender (one fd per queue, plus a label)
 *   try (FdPassing.Received r = FdPassing.receive(Path.of("/run/vmm.sock"), 4, Duration.ofSeconds(10))) {
 *       String device = r.label();
 *       for (TapHandle h : r.handles()) {
 *           queues.add(Tap.open(h));          // handles not opened are closed with r
 *       }
 *   }
 *   // Sending side (the fds stay the sender's; the receiver gets duplicates)
 *   FdPassing.send(Path.of("/run/vmm.sock"), "vm0", Duration.ofSeconds(5), tap0.fd(), tap1.fd());
 * }
 *
 * <h3>A multi-queue device</h3>
 * {@link dev.nettap.TapHandle#createQueues(String, int, dev.nettap.TapMode, java.nio.file.Path)} opens
 * every queue of an {@code IFF_MULTI_QUEUE} device:
 * {@snippet lang=java id=multi-queue :
 *   // A multi-queue device (IFF_MULTI_QUEUE): one handle and one Tap per queue, typically one
 *   // per vCPU; the kernel spreads flows over the queues
 *   List<Tap> queues = new ArrayList<>();
 *   try {
 *       for (TapHandle h : TapHandle.createQueues("vm0", 4, TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE)) {
 *           queues.add(Tap.open(h));
 *       }
 *   } catch (TapException e) {
 *       queues.forEach(Tap::close);
 *       throw e;
 *   }
 * }
 *
 * <h3>A macvtap device</h3>
 * A macvtap (QEMU's {@code tap,fd=} on {@code /dev/tapN}) has a character device instead of
 * {@code /dev/net/tun} and no name to attach by; {@link dev.nettap.TapHandle#macvtap(java.nio.file.Path)}
 * opens the node and {@link dev.nettap.TapHandle#macvtap(String)} (or
 * {@link dev.nettap.TapHandle#macvtapInNamespace(java.nio.file.Path, String)}) finds it from the
 * interface name, checking the node's device number against sysfs:
 * {@snippet lang=java id=macvtap :
 *   // A macvtap (or ipvtap) device: its character device by path, or by interface name (the
 *   // device number is read from sysfs inside the device's namespace and the node checked)
 *   Tap byPath = Tap.open(TapHandle.macvtap(Path.of("/dev/tap42")));
 *   Tap byName = Tap.open(TapHandle.macvtapInNamespace(Path.of("/run/netns/blue"), "macvtap0"));
 *   byte[] mac = byName.device().macAddress();   // the guest NIC should use this MAC
 * }
 *
 * <h3>A device prepared for an unprivileged VMM</h3>
 * As libvirt's unmanaged taps: an administrator makes a persistent device owned by the VMM's user
 * (or group) with {@link dev.nettap.PersistentTap}, the VMM attaches to it by name without
 * privileges (through {@code /dev/net/tun}, or another clone device node it may open):
 * {@snippet lang=java id=prepared :
 *   // Administrator (CAP_NET_ADMIN): a persistent TAP owned by the VMM's user, already up
 *   PersistentTap dev = PersistentTap.builder("vm0").owner(vmmUid).multiQueue(true).up(true).create();
 *
 *   // The unprivileged VMM: attaches without CAP_NET_ADMIN, changes nothing device-wide that
 *   // needs privileges, and never deletes the device; closing its queues leaves it as made
 *   Tap q = Tap.open(TapHandle.create("vm0", TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE));
 *
 *   // Administrator, once the VM is gone: deletes only what it created
 *   dev.delete();
 * }
 *
 * <h2>Things that belong to the device</h2>
 *
 * The virtio-net header size and the receive offloads ({@link dev.nettap.Tap#setOffloads}) are
 * properties of the device, not of one fd: setting them touches every queue and every process
 * holding that device. {@link dev.nettap.Tap#device()} gives the {@link dev.nettap.TapDevice} that
 * holds them for every queue this process has of the device (opening another queue does not reset
 * the offloads), with the link state, MTU, MAC address, carrier and send buffer.
 * {@code O_NONBLOCK}, which {@code Tap.open} sets, belongs to the open file and is shared with
 * whoever sent or passed down the fd.
 * {@snippet lang=java id=device :
 *   TapDevice dev = tap.device();          // shared by every queue of the device in this process
 *   dev.setMtu(9000);                      // link settings need CAP_NET_ADMIN (EPERM names it)
 *   dev.setUp(true);                       // a created TAP starts down: writes return LINK_DOWN
 *   tap.setOffloads(EnumSet.of(Offload.CSUM, Offload.TSO4, Offload.TSO6));   // for every queue
 * }
 *
 * <h2>Native access</h2>
 *
 * Launchers must grant native access to this module alone:
 * {@code --enable-native-access=dev.nettap} (with nettap on the class path,
 * {@code --enable-native-access=ALL-UNNAMED}). A jlink image can bake the option in with
 * {@code --add-options}.
 */
module dev.nettap {
    exports dev.nettap;
    exports dev.nettap.vnet;
}
