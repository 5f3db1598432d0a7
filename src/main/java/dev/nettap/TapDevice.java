package dev.nettap;

import dev.nettap.internal.sys.MountCalls;
import dev.nettap.internal.sys.FileCalls;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

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

    /** A call made with the fd of one open queue of the device. */
    @FunctionalInterface
    interface FdCall<T> {
        T apply(int fd) throws TapException;
    }

    /**
     * One open queue of the device, as this class sees it: a {@link Tap} hands in an adapter, so
     * this class does not depend on {@code Tap} (no class cycle).
     */
    interface Member {
        /** Runs {@code call} with the queue's fd, kept open for the call; throws {@link IllegalStateException} if closed. */
        <T> T withFd(FdCall<T> call) throws TapException;

        /** {@return whether the queue is closed} */
        boolean isClosed();
    }

    private static final Map<String, TapDevice> HELD = new HashMap<>(); // guarded by HELD
    private static final AtomicLong UNSHARED = new AtomicLong(); // keys of queues whose namespace is unknown

    private final String key;
    private final TapMode mode;
    private final boolean charDevice; // macvtap / ipvtap
    private final NetnsRef netns;     // where the handle was opened, when known by path; else null
    private final List<Member> queues = new ArrayList<>(); // guarded by HELD
    private int members;                                // guarded by HELD: joined, not yet left
    private final Object offloadLock = new Object();
    private volatile Set<Offload> offloads = Collections.unmodifiableSet(EnumSet.noneOf(Offload.class));

    private TapDevice(String key, TapMode mode, boolean charDevice, NetnsRef netns) {
        this.key = key;
        this.mode = mode;
        this.charDevice = charDevice;
        this.netns = netns;
    }

    /** {@return the namespace file the queues were opened in, when the library knows it by path; else {@code null}} */
    java.nio.file.Path netnsPath() {
        return netns == null ? null : netns.path();
    }

    /**
     * The device object for the queue {@code fd} (validated by {@link Tap#open}), counted as one
     * more member until {@link #leave(Tap)}. The first member turns the device's receive offloads
     * off ({@code TUNSETOFFLOAD 0}); later ones change nothing.
     */
    static TapDevice join(MemorySegment err, int fd, String name, TapMode mode, NetnsRef netns, String ctx)
            throws TapException {
        DeviceNode node = DeviceNode.of(err, fd);
        boolean chr = node != null && node.isTapCharDevice();
        String key = key(chr, chr ? node.rdev() : 0, chr ? null : namespaceId(err, fd), name);
        synchronized (HELD) {
            TapDevice d = HELD.get(key);
            if (d == null) {
                // Receive offloads off: the kernel completes checksums and segments before handing frames over.
                if (FileCalls.ioctl(err, fd, linux_h.TUNSETOFFLOAD(), 0L) < 0) {
                    throw TapException.syscall("TUNSETOFFLOAD", Sys.errno(err), ctx, null);
                }
                d = new TapDevice(key, mode, chr, netns);
                HELD.put(key, d);
            }
            d.members++;
            return d;
        }
    }

    /**
     * The key under which queues share a device object: the character device number of a macvtap
     * (unique system-wide), else the tun device's namespace and name. When the namespace cannot be
     * read ({@code nsId} {@code null}: {@code TUNGETDEVNETNS} needs {@code CAP_NET_ADMIN}), the name
     * alone does not tell devices apart (an unprivileged VMM may be handed two devices of one name
     * from two namespaces), so the queue gets a key of its own and shares nothing: its first open
     * turns its device's offloads off, and {@link #offloads()} reports only what was set through it.
     */
    static String key(boolean chr, long rdev, String nsId, String name) {
        if (chr) {
            return "chr " + DeviceNode.format(rdev);
        }
        return nsId != null ? "tun " + nsId + " " + name : "tun ? " + name + " #" + UNSHARED.incrementAndGet();
    }

    /** The inode of the device's network namespace, or {@code null} when {@code TUNGETDEVNETNS} is not permitted. */
    private static String namespaceId(MemorySegment err, int fd) {
        int nsfd = FileCalls.ioctl(err, fd, linux_h.TUNGETDEVNETNS(), 0L);
        if (nsfd < 0) {
            return null; // unprivileged: the namespace is unknown, so the queue shares with nothing (see key)
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = dev.nettap.internal.linux.stat.allocate(arena);
            // SAFETY: st is a struct stat in this arena, alive for the call.
            return MountCalls.fstat(err, nsfd, st) < 0 ? null : Long.toString(dev.nettap.internal.linux.stat.st_ino(st));
        } finally {
            FileCalls.close(err, nsfd);
        }
    }

    /** Records a queue that joined; called by the {@link Tap} constructor. */
    void add(Member tap) {
        synchronized (HELD) {
            queues.add(tap);
        }
    }

    /** A member left ({@code tap} closed, or {@code null}: an open that failed after joining). */
    void leave(Member tap) {
        synchronized (HELD) {
            if (tap != null) {
                queues.remove(tap);
            }
            if (--members == 0 && HELD.get(key) == this) {
                HELD.remove(key);
            }
        }
    }

    /** Runs {@code call} with the fd of an open queue of this device. */
    private <T> T withQueue(FdCall<T> call) throws TapException {
        List<Member> snapshot;
        synchronized (HELD) {
            snapshot = List.copyOf(queues);
        }
        for (Member t : snapshot) {
            try {
                return t.withFd(call);
            } catch (IllegalStateException e) {
                if (!t.isClosed()) {
                    throw e;
                } // that queue closed meanwhile: try the next
            }
        }
        throw new IllegalStateException("this process holds no open queue of device " + key);
    }

    /** {@return how errors name the device} */
    private String context(int fd) {
        Iff iff = Iff.query(Sys.errnoSlot(), fd);
        return "device \"" + (iff == null ? "?" : iff.name()) + "\" (fd " + fd + ")";
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
        return withQueue(fd -> {
            MemorySegment err = Sys.errnoSlot();
            Iff iff = Iff.query(err, fd);
            if (iff == null) {
                throw TapException.syscall("TUNGETIFF", Sys.errno(err), "fd " + fd, null);
            }
            return iff.name();
        });
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
        synchronized (HELD) {
            return queues.size();
        }
    }

    // ---- queue-fd ioctls ----------------------------------------------------------------------

    private int getInt(long request, String what) throws TapException {
        return withQueue(fd -> {
            MemorySegment err = Sys.errnoSlot();
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment v = arena.allocate(ValueLayout.JAVA_INT);
                // SAFETY: v is a 4-byte int in this arena; the ioctl writes one int.
                if (FileCalls.ioctl(err, fd, request, v) < 0) {
                    throw TapException.syscall(what, Sys.errno(err), context(fd), null);
                }
                return v.get(ValueLayout.JAVA_INT, 0);
            }
        });
    }

    private void setInt(long request, String what, int value, String hintOnEinval) throws TapException {
        withQueue(fd -> {
            MemorySegment err = Sys.errnoSlot();
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment v = arena.allocateFrom(ValueLayout.JAVA_INT, value);
                // SAFETY: v is a 4-byte int in this arena; the ioctl reads one int.
                if (FileCalls.ioctl(err, fd, request, v) < 0) {
                    int e = Sys.errno(err);
                    throw TapException.syscall(what, e, context(fd),
                            e == linux_h.EPERM() ? "needs CAP_NET_ADMIN"
                                    : e == linux_h.EINVAL() || e == linux_h.ENOTTY() ? hintOnEinval : null);
                }
                return null;
            }
        });
    }

    /**
     * The device's virtio-net header size ({@code TUNGETVNETHDRSZ}): {@value dev.nettap.vnet.VirtioNetHdr#SIZE}
     * while this process's queues use it, unless another holder changed it.
     *
     * @return the size in bytes
     * @throws TapException          if the ioctl fails
     * @throws IllegalStateException if no queue of the device is open
     */
    public int vnetHeaderSize() throws TapException {
        return getInt(linux_h.TUNGETVNETHDRSZ(), "TUNGETVNETHDRSZ");
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
        return getInt(linux_h.TUNGETFEATURES(), "TUNGETFEATURES");
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
        setInt(linux_h.TUNSETCARRIER(), "TUNSETCARRIER", on ? 1 : 0,
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
        setInt(linux_h.TUNSETSNDBUF(), "TUNSETSNDBUF", bytes, null);
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
        Set<Offload> set = offloads.isEmpty() ? EnumSet.noneOf(Offload.class) : EnumSet.copyOf(offloads);
        Offload.checkDependencies(set);
        synchronized (offloadLock) {
            withQueue(fd -> {
                MemorySegment err = Sys.errnoSlot();
                if (FileCalls.ioctl(err, fd, linux_h.TUNSETOFFLOAD(), (long) Offload.flags(set)) < 0) {
                    int e = Sys.errno(err);
                    throw TapException.syscall("TUNSETOFFLOAD", e, context(fd) + " with " + set,
                            e == linux_h.EINVAL() ? "this kernel does not accept that combination" : null);
                }
                return null;
            });
            this.offloads = Collections.unmodifiableSet(set);
        }
    }

    /** {@return the receive offloads in force: the last set through any queue of this process (none at first)} */
    public Set<Offload> offloads() {
        return offloads;
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
        synchronized (offloadLock) {
            Set<Offload> current = offloads;
            return withQueue(fd -> {
                MemorySegment err = Sys.errnoSlot();
                Set<Offload> accepted = EnumSet.noneOf(Offload.class);
                for (Offload o : Offload.values()) {
                    EnumSet<Offload> trial = EnumSet.of(Offload.CSUM, o);
                    if (o == Offload.TSO_ECN) {
                        trial.add(Offload.TSO4);
                    } else if (o == Offload.USO4 || o == Offload.USO6) {
                        trial.add(Offload.USO4);
                        trial.add(Offload.USO6);
                    }
                    if (FileCalls.ioctl(err, fd, linux_h.TUNSETOFFLOAD(), (long) Offload.flags(trial)) == 0) {
                        accepted.add(o);
                    }
                }
                if (FileCalls.ioctl(err, fd, linux_h.TUNSETOFFLOAD(), (long) Offload.flags(current)) < 0) {
                    throw TapException.syscall("TUNSETOFFLOAD", Sys.errno(err), context(fd) + " restoring " + current, null);
                }
                return Collections.unmodifiableSet(accepted);
            });
        }
    }

    // ---- link settings (interface ioctls in the device's namespace) ---------------------------

    /** An interface-ioctl action on a socket in the device's namespace. */
    @FunctionalInterface
    private interface LinkCall<T> {
        T apply(IfaceIoctl io) throws TapException;
    }

    private <T> T link(LinkCall<T> call) throws TapException {
        return withQueue(fd -> {
            MemorySegment err = Sys.errnoSlot();
            Iff iff = Iff.query(err, fd);
            if (iff == null) {
                throw TapException.syscall("TUNGETIFF", Sys.errno(err), "fd " + fd, null);
            }
            String name = iff.name();
            String ctx = "device \"" + name + "\" (fd " + fd + ")";
            int nsfd = charDevice ? -1 : FileCalls.ioctl(err, fd, linux_h.TUNGETDEVNETNS(), 0L);
            NetnsRef ns = nsfd >= 0 ? NetnsRef.ofFd(nsfd) : netns != null ? netns : NetnsRef.CALLER;
            try {
                return ns.call(() -> {
                    if (charDevice && netns == null) {
                        requireSameMacvtap(fd, name, ctx);
                    }
                    try (IfaceIoctl io = new IfaceIoctl(name, ctx + ns.where())) {
                        return call.apply(io);
                    }
                });
            } finally {
                if (nsfd >= 0) {
                    FileCalls.close(err, nsfd);
                }
            }
        });
    }

    /**
     * A macvtap opened by path (or fd) has no known namespace, so its name is looked up in the
     * caller's, where another interface may have the same name. Proven the same device when the
     * name there is a macvtap or ipvtap whose character device is the queue's (device numbers are
     * system-wide); otherwise refused, since the ioctls would act on another interface.
     */
    private static void requireSameMacvtap(int fd, String name, String ctx) throws TapException {
        MemorySegment err = Sys.errnoSlot();
        DeviceNode node = DeviceNode.of(err, fd);
        if (node == null) {
            throw TapException.syscall("fstat", Sys.errno(err), ctx, null);
        }
        String why;
        try {
            long rdev = Macvtap.charDevice(name, NetnsRef.CALLER, ctx);
            if (rdev == node.rdev()) {
                return;
            }
            why = "\"" + name + "\" there is character device " + DeviceNode.format(rdev);
        } catch (TapException e) {
            why = e.getMessage();
        }
        throw new TapException(TapException.Kind.NOT_A_TAP, null, 0, ctx, "cannot prove that interface \"" + name
                + "\" in the caller's network namespace is this queue's device " + DeviceNode.format(node.rdev())
                + " (" + why + "); call from a thread in the device's namespace, or open it with"
                + " TapHandle.macvtapInNamespace");
    }

    /**
     * Whether the interface is administratively up ({@code IFF_UP}). A created TAP starts down:
     * writes then return {@link Tap#LINK_DOWN} and {@link Tap#awaitWritable} waits.
     *
     * @return {@code true} if up
     * @throws TapException          if the flags cannot be read
     * @throws IllegalStateException if no queue of the device is open
     */
    public boolean isUp() throws TapException {
        return link(io -> (io.flags() & linux_h.IFF_UP()) != 0);
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
        link(io -> {
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
        return link(IfaceIoctl::mtu);
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
        link(io -> {
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
        return link(IfaceIoctl::mac);
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
        link(io -> {
            io.setMac(copy);
            return null;
        });
    }

    @Override
    public String toString() {
        return "TapDevice[" + key + ", " + mode + "]";
    }
}
