package dev.nettap;

import dev.nettap.internal.linux.ifreq;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Objects;

/**
 * An owned file descriptor for one TAP/TUN queue that has not been validated yet: how nettap gets a
 * queue, kept apart from using it. Every handle, however it was obtained, becomes usable only
 * through {@link Tap#open(TapHandle)}, which validates it.
 *
 * <p><b>Ownership.</b> The handle owns its fd from creation. {@link Tap#open(TapHandle)} takes the
 * fd over (and closes it if validation fails); {@link #close()} closes it if no {@link Tap} took
 * it. Closing twice, or closing after {@code Tap.open}, does nothing.
 *
 * <p><b>Threads.</b> A handle may be passed between threads; its methods are thread-safe.
 *
 * <p>Every handle records where it came from ({@link #origin()}), and every error about it names
 * that origin.
 */
public final class TapHandle implements AutoCloseable {
    /** The clone device, where it usually is. Containers may bind-mount it elsewhere. */
    public static final Path DEFAULT_CLONE_DEVICE = Path.of("/dev/net/tun");

    private int fd;
    private final String origin;
    private final String name;
    private final TapMode expectedMode;

    private TapHandle(int fd, String origin, String name, TapMode expectedMode) {
        this.fd = fd;
        this.origin = origin;
        this.name = name;
        this.expectedMode = expectedMode;
    }

    /**
     * Creates, or attaches to, the TAP named {@code name} through {@link #DEFAULT_CLONE_DEVICE}:
     * {@code open(O_RDWR|O_CLOEXEC|O_NONBLOCK)}, then {@code TUNSETIFF} with
     * {@code IFF_TAP|IFF_NO_PI|IFF_VNET_HDR}. The device lives in the network namespace of the
     * calling thread; it is not persistent, so it disappears when its last fd is closed, unless it
     * was created persistent by someone else (then it stays, and is not ours to delete).
     *
     * @param name the interface name; {@code ""} or a template with one {@code %d} let the kernel
     *             choose, and {@link #name()} returns what it chose
     * @return the handle
     * @throws IllegalArgumentException if the kernel would reject {@code name} (checked before any
     *                                  system call; the message names the rule)
     * @throws TapException             if the clone device cannot be opened or {@code TUNSETIFF} fails
     */
    public static TapHandle create(String name) throws TapException {
        return create(name, TapMode.TAP, DEFAULT_CLONE_DEVICE);
    }

    /**
     * Creates, or attaches to, a TAP or TUN device named {@code name} through the clone device at
     * {@code cloneDevice}, in the calling thread's network namespace. See {@link #create(String)}.
     *
     * @param name        the interface name, or {@code ""} / a {@code %d} template
     * @param mode        {@link TapMode#TAP} (Ethernet frames) or {@link TapMode#TUN} (IP packets)
     * @param cloneDevice the clone device, normally {@link #DEFAULT_CLONE_DEVICE}
     * @return the handle
     * @throws IllegalArgumentException if the kernel would reject {@code name}
     * @throws TapException             if the clone device cannot be opened or {@code TUNSETIFF} fails
     */
    public static TapHandle create(String name, TapMode mode, Path cloneDevice) throws TapException {
        byte[] nameBytes = InterfaceNames.check(name);
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(cloneDevice, "cloneDevice");
        Platform.requireLinux();
        return attach(nameBytes, name, mode, cloneDevice, null);
    }

    /**
     * Creates, or attaches to, a device named {@code name} inside another network namespace, given
     * by a namespace file such as {@code /run/netns/blue} (what {@code ip netns add blue} makes) or
     * {@code /proc/PID/ns/net}. A dedicated platform thread enters the namespace, opens the clone
     * device and attaches, then ends; the calling thread's namespace never changes, and the fd
     * works from any thread afterwards (a queue belongs to the namespace it was opened in).
     *
     * @param netns       the network namespace file
     * @param name        the interface name, or {@code ""} / a {@code %d} template
     * @param mode        TAP or TUN
     * @param cloneDevice the clone device, as seen from inside that namespace's mount view (the
     *                    namespace switch changes only the network namespace)
     * @return the handle
     * @throws IllegalArgumentException if the kernel would reject {@code name}
     * @throws TapException             if the namespace file cannot be opened or is not a network
     *                                  namespace, or the device cannot be created there
     */
    public static TapHandle createInNamespace(Path netns, String name, TapMode mode, Path cloneDevice)
            throws TapException {
        byte[] nameBytes = InterfaceNames.check(name);
        Objects.requireNonNull(netns, "netns");
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(cloneDevice, "cloneDevice");
        Platform.requireLinux();
        return InNamespace.call(netns, () -> attach(nameBytes, name, mode, cloneDevice, netns));
    }

    private static TapHandle attach(byte[] nameBytes, String name, TapMode mode, Path cloneDevice, Path netns)
            throws TapException {
        String where = netns == null ? "" : " in netns " + netns;
        String ctx = cloneDevice + " for \"" + name + "\"" + where;
        MemorySegment err = Sys.errnoSlot();
        try (Arena arena = Arena.ofConfined()) {
            int fd = Sys.open(err, arena.allocateFrom(cloneDevice.toString()),
                    linux_h.O_RDWR() | linux_h.O_CLOEXEC() | linux_h.O_NONBLOCK());
            if (fd < 0) {
                int e = Sys.errno(err);
                String hint = e == linux_h.ENOENT() ? "no clone device there: is the tun module loaded, or is it bind-mounted elsewhere?"
                        : e == linux_h.EACCES() || e == linux_h.EPERM() ? "needs read and write permission on the device node"
                        : e == linux_h.ENODEV() ? "the tun driver is not available in this kernel" : null;
                throw TapException.syscall("open", e, ctx, hint);
            }
            MemorySegment ifr = ifreq.allocate(arena);
            MemorySegment nameField = ifreq.ifr_ifrn.ifrn_name(ifreq.ifr_ifrn(ifr));
            MemorySegment.copy(nameBytes, 0, nameField, ValueLayout.JAVA_BYTE, 0, nameBytes.length);
            int flags = (mode == TapMode.TAP ? linux_h.IFF_TAP() : linux_h.IFF_TUN())
                    | linux_h.IFF_NO_PI() | linux_h.IFF_VNET_HDR();
            ifreq.ifr_ifru.ifru_flags(ifreq.ifr_ifru(ifr), (short) flags);
            if (Sys.ioctl(err, fd, linux_h.TUNSETIFF(), ifr) < 0) {
                int e = Sys.errno(err);
                Sys.close(err, fd);
                throw TapException.syscall("TUNSETIFF", e, ctx, setIffHint(e, mode));
            }
            String chosen = nameField.getString(0, StandardCharsets.UTF_8);
            String origin = cloneDevice + " as \"" + chosen + "\"" + where;
            return new TapHandle(fd, origin, chosen, mode);
        }
    }

    private static String setIffHint(int e, TapMode mode) {
        if (e == linux_h.EPERM()) {
            return "needs CAP_NET_ADMIN, or a device pre-created for this user (ip tuntap add ... user U)";
        }
        if (e == linux_h.EBUSY()) {
            return "the device is already attached: a single-queue device takes one fd only";
        }
        if (e == linux_h.EINVAL()) {
            return "an interface of that name exists but is not a " + mode
                    + " device with matching flags (another link type, the other mode, or a multi-queue mismatch)";
        }
        if (e == linux_h.ENFILE()) {
            return "the name template ran out of numbers";
        }
        return null;
    }

    /**
     * The interface name: for a created handle, the one the kernel chose; {@code null} for a handle
     * whose name is not known before validation.
     *
     * @return the name, or {@code null}
     */
    public String name() {
        return name;
    }

    /**
     * Where this handle came from, as errors name it, e.g. {@code /dev/net/tun as "vm0"}.
     *
     * @return the origin
     */
    public String origin() {
        return origin;
    }

    /**
     * The raw fd, or -1 once it was closed or handed to a {@link Tap}. Still owned by this handle:
     * do not close it.
     *
     * @return the fd or -1
     */
    public synchronized int fd() {
        return fd;
    }

    /** The mode this handle was created for, or {@code null} if any mode is acceptable. */
    TapMode expectedMode() {
        return expectedMode;
    }

    /** Hands the fd over to the caller (a {@link Tap}), leaving this handle empty; -1 if it was empty. */
    synchronized int release() {
        int f = fd;
        fd = -1;
        return f;
    }

    /** Closes the fd unless a {@link Tap} took it; idempotent. */
    @Override
    public void close() {
        int f = release();
        if (f >= 0) {
            Sys.close(Sys.errnoSlot(), f); // close(2) always releases the fd, even on EINTR/EIO: no retry
        }
    }

    @Override
    public String toString() {
        return "TapHandle[" + origin + "]";
    }
}
