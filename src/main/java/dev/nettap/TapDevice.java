package dev.nettap;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Sys;
import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.Set;

/**
 * What belongs to a TAP, TUN or macvtap <em>device</em> rather than to one of its queues: the
 * virtio-net header size, the receive offloads in force, the driver's features, the link state,
 * MTU, MAC address, carrier and send buffer. Every {@link Tap} this process holds of one device
 * shares one {@code TapDevice} ({@link Tap#device()}): opening another queue of a device this
 * process already holds changes nothing here (in particular the offloads set through one queue stay
 * in force, and {@link #offloads()} reports them for every queue); the first queue this process
 * opens of a device turns receive offloads off, so what {@link #offloads()} reports is what the
 * kernel does. Other processes holding the device see and may change the same settings; the
 * kernel cannot report the offloads, so a change made by another process is not seen here.
 * Queues are known to be of one device by the macvtap's character device, or by the tun device's
 * namespace ({@code TUNGETDEVNETNS}) and name; where the namespace cannot be read (it needs
 * {@code CAP_NET_ADMIN}), a queue is a device object of its own, since two devices of one name in
 * two namespaces could not be told apart.
 *
 * <p><b>Privileges.</b> Offloads, header size, features, carrier and send buffer are ioctls on a
 * queue fd: any holder of the queue may make them. Link up/down, MTU and MAC address go through
 * interface ioctls on a socket created in the device's network namespace (found with
 * {@code TUNGETDEVNETNS} for a tun device, or the namespace file the handle was opened in, else the
 * calling thread's namespace); reading needs no privilege, changing needs {@code CAP_NET_ADMIN}
 * in that namespace, and a refusal is a {@link TapException} with {@code EPERM} naming it. An
 * unprivileged VMM given a device that an administrator prepared (up, MAC and MTU set) does not
 * need any of the setters.
 *
 * <p><b>Threads and lifetime.</b> Thread-safe. The device object lives as long as this process
 * holds an open queue of the device; once the last {@link Tap} closes, every method throws
 * {@link IllegalStateException}.
 */
public final class TapDevice {
    /** {@code TUNGETFEATURES} bit: the device can be a TUN device ({@code IFF_TUN}). */
    public static final int FEATURE_TUN = 0x0001;
    /** {@code TUNGETFEATURES} bit: the device can be a TAP device ({@code IFF_TAP}). */
    public static final int FEATURE_TAP = 0x0002;
    /** {@code TUNGETFEATURES} bit: frames can come without a packet-information prefix ({@code IFF_NO_PI}). */
    public static final int FEATURE_NO_PI = 0x1000;
    /** {@code TUNGETFEATURES} bit: frames carry a virtio-net header ({@code IFF_VNET_HDR}). */
    public static final int FEATURE_VNET_HDR = 0x4000;
    /** {@code TUNGETFEATURES} bit: several queues per device ({@code IFF_MULTI_QUEUE}). */
    public static final int FEATURE_MULTI_QUEUE = 0x0100;

    /** Every device this process holds, by key; its lock guards membership (see {@link DeviceRegistry}). */
    private static final DeviceRegistry<TapDevice> HELD = new DeviceRegistry<>();

    private final DeviceQueues queues;     // this process's open queues of the device
    private final TapMode mode;
    private final boolean charDevice;      // macvtap / ipvtap
    private final DeviceOffloads offloads; // the receive offloads in force (own lock)
    private final DeviceLink link;         // interface ioctls in the device's namespace

    private TapDevice(DeviceQueues queues, TapMode mode, boolean charDevice, NetnsRef netns) {
        this.queues = queues;
        this.mode = mode;
        this.charDevice = charDevice;
        this.offloads = new DeviceOffloads(queues);
        this.link = new DeviceLink(queues, charDevice, netns);
    }

    /** {@return the namespace file the queues were opened in, when the library knows it by path; else {@code null}} */
    java.nio.file.Path netnsPath() {
        return link.netnsPath();
    }

    /**
     * The device object for the queue {@code fd} (validated by {@link Tap#open}), counted as one
     * more member until {@link #leave}. The first member turns the device's receive offloads
     * off ({@code TUNSETOFFLOAD 0}); later ones change nothing.
     */
    static TapDevice join(MemorySegment err, int fd, String name, TapMode mode, NetnsRef netns, String ctx)
            throws TapException {
        DeviceNode node = DeviceNode.of(err, fd);
        boolean chr = node != null && node.isTapCharDevice();
        String key = DeviceRegistry.key(chr, chr ? node.rdev() : 0, chr ? null : DeviceRegistry.namespaceId(err, fd), name);
        return HELD.join(key, q -> {
            DeviceOffloads.turnOff(err, fd, ctx); // under the registry's lock: a second queue waits for it
            return new TapDevice(q, mode, chr, netns);
        });
    }

    /** Records a queue that joined; called by the {@link Tap} constructor. */
    void add(QueueMember tap) {
        queues.add(tap);
    }

    /** A member left ({@code tap} closed, or {@code null}: an open that failed after joining). */
    void leave(QueueMember tap) {
        HELD.leave(queues, tap);
    }

    // ---- identity -----------------------------------------------------------------------------

    /**
     * The interface's name now, from {@code TUNGETIFF} (it may have been renamed since it was opened).
     *
     * @return the name
     * @throws TapException          if {@code TUNGETIFF} fails (the device was deleted)
     * @throws IllegalStateException if no queue of the device is open
     */
    public String name() throws TapException {
        return queues.withQueue(fd -> QueueIoctls.name(Sys.errnoSlot(), fd));
    }

    /** {@return TAP (Ethernet frames) or TUN (IP packets)} */
    public TapMode mode() {
        return mode;
    }

    /** {@return whether this is a macvtap or ipvtap device (a character device of its own) rather than a tun device} */
    public boolean isMacvtap() {
        return charDevice;
    }

    /** {@return how many queues of this device this process holds open now} */
    public int openQueues() {
        return queues.openQueues();
    }

    // ---- queue-fd ioctls ----------------------------------------------------------------------

    /**
     * The device's virtio-net header size ({@code TUNGETVNETHDRSZ}): {@value dev.nettap.vnet.VirtioNetHdr#SIZE}
     * while this process's queues use it, unless another holder changed it.
     *
     * @return the size in bytes
     * @throws TapException          if the ioctl fails
     * @throws IllegalStateException if no queue of the device is open
     */
    public int vnetHeaderSize() throws TapException {
        return QueueIoctls.getInt(queues, linux_h.TUNGETVNETHDRSZ(), "TUNGETVNETHDRSZ");
    }

    /**
     * What the driver supports ({@code TUNGETFEATURES}): {@code IFF_*} bits such as
     * {@link #FEATURE_MULTI_QUEUE} and {@link #FEATURE_VNET_HDR}.
     *
     * @return the feature bits
     * @throws TapException          if the ioctl fails
     * @throws IllegalStateException if no queue of the device is open
     */
    public int features() throws TapException {
        return QueueIoctls.getInt(queues, linux_h.TUNGETFEATURES(), "TUNGETFEATURES");
    }

    /**
     * Turns the carrier on or off ({@code TUNSETCARRIER}), as a cable being plugged or pulled: the
     * interface stays administratively up, the kernel's stack sees {@code NO-CARRIER} and stops
     * sending. TUN/TAP only: a macvtap follows its lower device's carrier.
     *
     * @param on the carrier state
     * @throws TapException          if the kernel refuses ({@code EINVAL}/{@code ENOTTY} on a macvtap)
     * @throws IllegalStateException if no queue of the device is open
     */
    public void setCarrier(boolean on) throws TapException {
        QueueIoctls.setInt(queues, linux_h.TUNSETCARRIER(), "TUNSETCARRIER", on ? 1 : 0,
                "TUNSETCARRIER is a tun ioctl: a macvtap follows its lower device's carrier");
    }

    /**
     * Sets the send buffer of the device's queues ({@code TUNSETSNDBUF}), in bytes: how much the
     * kernel keeps queued towards the kernel stack for this device before a write would block. The
     * kernel drops rather than blocks in most paths, so this bounds memory, not loss.
     *
     * @param bytes the size, at least 1
     * @throws IllegalArgumentException if {@code bytes} is not positive
     * @throws TapException             if the kernel refuses
     * @throws IllegalStateException    if no queue of the device is open
     */
    public void setSendBufferSize(int bytes) throws TapException {
        if (bytes <= 0) {
            throw new IllegalArgumentException("send buffer size must be positive, not " + bytes);
        }
        QueueIoctls.setInt(queues, linux_h.TUNSETSNDBUF(), "TUNSETSNDBUF", bytes, null);
    }

    // ---- offloads ----------------------------------------------------------------------------

    /**
     * Sets the device's receive offloads with {@code TUNSETOFFLOAD}: from now on the kernel may hand
     * every queue frames with partial checksums and GSO super-frames of the kinds in
     * {@code offloads} (size receive buffers to 65535 bytes then). The kernel has no way to read them
     * back, so this object remembers what it set ({@link #offloads()}), for every queue.
     *
     * @param offloads the offloads to allow; an empty set turns them all off
     * @throws IllegalArgumentException if the set breaks a dependency (see {@link Offload})
     * @throws TapException             if the kernel refuses the set (e.g. USO on a kernel before 6.2)
     * @throws IllegalStateException    if no queue of the device is open
     */
    public void setOffloads(Set<Offload> offloads) throws TapException {
        this.offloads.set(offloads);
    }

    /** {@return the receive offloads in force: the last set through any queue of this process (none at first)} */
    public Set<Offload> offloads() {
        return offloads.get();
    }

    /**
     * Which receive offloads this kernel accepts on this device: each one is tried with
     * {@code TUNSETOFFLOAD} together with the flags it depends on, then {@link #offloads()} is
     * restored. Meant for set-up (it briefly changes the device's offloads, shared by every holder),
     * not for a device in use.
     *
     * @return the offloads the kernel accepted
     * @throws TapException          if the offloads in force cannot be restored
     * @throws IllegalStateException if no queue of the device is open
     */
    public Set<Offload> probeOffloads() throws TapException {
        return offloads.probe();
    }

    // ---- link settings (interface ioctls in the device's namespace) ---------------------------

    /**
     * Whether the interface is administratively up ({@code IFF_UP}). A created TAP starts down:
     * writes then return {@link Tap#LINK_DOWN} and {@link Tap#awaitWritable} waits.
     *
     * @return {@code true} if up
     * @throws TapException          if the flags cannot be read
     * @throws IllegalStateException if no queue of the device is open
     */
    public boolean isUp() throws TapException {
        return link.call(io -> (io.flags() & linux_h.IFF_UP()) != 0);
    }

    /**
     * Brings the interface up or down ({@code SIOCSIFFLAGS}), as {@code ip link set NAME up}. Needs
     * {@code CAP_NET_ADMIN} in the device's namespace.
     *
     * @param up {@code true} for up
     * @throws TapException          {@code EPERM} without the privilege
     * @throws IllegalStateException if no queue of the device is open
     */
    public void setUp(boolean up) throws TapException {
        link.call(io -> {
            io.setUp(up);
            return null;
        });
    }

    /**
     * The interface's MTU ({@code SIOCGIFMTU}).
     *
     * @return the MTU in bytes
     * @throws TapException          if it cannot be read
     * @throws IllegalStateException if no queue of the device is open
     */
    public int mtu() throws TapException {
        return link.call(IfaceIoctl::mtu);
    }

    /**
     * Sets the interface's MTU ({@code SIOCSIFMTU}). Needs {@code CAP_NET_ADMIN} in the device's
     * namespace; the kernel refuses values outside the device's range with {@code EINVAL} (68 to
     * 65535 for a TAP).
     *
     * @param mtu the MTU in bytes
     * @throws TapException          {@code EPERM} without the privilege, {@code EINVAL} out of range
     * @throws IllegalStateException if no queue of the device is open
     */
    public void setMtu(int mtu) throws TapException {
        link.call(io -> {
            io.setMtu(mtu);
            return null;
        });
    }

    /**
     * The interface's MAC address ({@code SIOCGIFHWADDR}): the kernel side's address, not the
     * guest's. Meaningless (zero) for a TUN device.
     *
     * @return 6 bytes
     * @throws TapException          if it cannot be read
     * @throws IllegalStateException if no queue of the device is open
     */
    public byte[] macAddress() throws TapException {
        return link.call(IfaceIoctl::mac);
    }

    /**
     * Sets the interface's MAC address ({@code SIOCSIFHWADDR}), the kernel side's; for a macvtap it
     * must match the guest's. Needs {@code CAP_NET_ADMIN} in the device's namespace.
     *
     * @param mac 6 bytes, a unicast address
     * @throws IllegalArgumentException if {@code mac} is not 6 bytes or is multicast
     * @throws TapException             {@code EPERM} without the privilege, {@code EOPNOTSUPP} for TUN
     * @throws IllegalStateException    if no queue of the device is open
     */
    public void setMacAddress(byte[] mac) throws TapException {
        Objects.requireNonNull(mac, "mac");
        if (mac.length != 6 || (mac[0] & 1) != 0) {
            throw new IllegalArgumentException("a MAC address is 6 bytes and unicast (low bit of the first byte clear)");
        }
        byte[] copy = mac.clone();
        link.call(io -> {
            io.setMac(copy);
            return null;
        });
    }

    @Override
    public String toString() {
        return "TapDevice[" + queues.key() + ", " + mode + "]";
    }
}
