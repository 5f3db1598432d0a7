package dev.nettap;

import dev.nettap.internal.linux.ifreq;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Sys;
import dev.nettap.internal.sys.FileCalls;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * An owned file descriptor for one TAP, TUN or macvtap queue that has not been validated yet: how
 * nettap gets a queue, kept apart from using it. A handle comes from the clone device by name
 * ({@link #create}, {@link #createInNamespace}, {@link #createQueues}), from a macvtap character
 * device by path or by interface name ({@link #macvtap(Path)}, {@link #macvtap(String)},
 * {@link #macvtapInNamespace}), from an inherited fd ({@link #ofInheritedFd(int)}) or from an
 * {@code SCM_RIGHTS} message ({@link FdPassing}). A device an administrator pre-created for this
 * user ({@link PersistentTap}, or {@code ip tuntap add ... user U}) is attached by name without any
 * capability. Every handle, however it was obtained, becomes usable only through
 * {@link Tap#open(TapHandle)}, which validates it.
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
    private final NetnsRef netns; // where the device was opened, when known by path; null otherwise

    private TapHandle(int fd, String origin, String name, TapMode expectedMode, NetnsRef netns) {
        this.fd = fd;
        this.origin = origin;
        this.name = name;
        this.expectedMode = expectedMode;
        this.netns = netns;
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
        return attach(nameBytes, name, mode, cloneDevice, NetnsRef.CALLER, false);
    }

    /**
     * Creates, or attaches to, the TAP named {@code name} inside another network namespace,
     * through {@link #DEFAULT_CLONE_DEVICE}. Same as
     * {@link #createInNamespace(Path, String, TapMode, Path) createInNamespace(netns, name,
     * TapMode.TAP, DEFAULT_CLONE_DEVICE)}.
     *
     * @param netns the network namespace file, e.g. {@code /run/netns/blue}
     * @param name  the interface name, or {@code ""} / a {@code %d} template
     * @return the handle
     * @throws IllegalArgumentException if the kernel would reject {@code name}
     * @throws TapException             if the namespace file cannot be opened or is not a network
     *                                  namespace, or the device cannot be created there
     */
    public static TapHandle createInNamespace(Path netns, String name) throws TapException {
        return createInNamespace(netns, name, TapMode.TAP, DEFAULT_CLONE_DEVICE);
    }

    /**
     * Creates, or attaches to, a TAP or TUN device named {@code name} inside another network
     * namespace, through {@link #DEFAULT_CLONE_DEVICE}. Same as
     * {@link #createInNamespace(Path, String, TapMode, Path) createInNamespace(netns, name, mode,
     * DEFAULT_CLONE_DEVICE)}.
     *
     * @param netns the network namespace file
     * @param name  the interface name, or {@code ""} / a {@code %d} template
     * @param mode  {@link TapMode#TAP} or {@link TapMode#TUN}
     * @return the handle
     * @throws IllegalArgumentException if the kernel would reject {@code name}
     * @throws TapException             if the namespace file cannot be opened or is not a network
     *                                  namespace, or the device cannot be created there
     */
    public static TapHandle createInNamespace(Path netns, String name, TapMode mode) throws TapException {
        return createInNamespace(netns, name, mode, DEFAULT_CLONE_DEVICE);
    }

    /**
     * As {@link #createInNamespace(Path, String)}, with the network namespace given by an open fd of
     * a namespace file (not consumed: the caller keeps it and closes it). Same as
     * {@link #createInNamespace(int, String, TapMode, Path) createInNamespace(netnsFd, name,
     * TapMode.TAP, DEFAULT_CLONE_DEVICE)}.
     *
     * @param netnsFd an open fd of a network namespace file
     * @param name    the interface name, or {@code ""} / a {@code %d} template
     * @return the handle
     * @throws IllegalArgumentException if {@code netnsFd} is negative or the kernel would reject
     *                                  {@code name}
     * @throws TapException             if the fd is not a network namespace or the device cannot be
     *                                  created there
     */
    public static TapHandle createInNamespace(int netnsFd, String name) throws TapException {
        return createInNamespace(netnsFd, name, TapMode.TAP, DEFAULT_CLONE_DEVICE);
    }

    /**
     * As {@link #createInNamespace(Path, String, TapMode)}, with the network namespace given by an
     * open fd of a namespace file (not consumed). Same as
     * {@link #createInNamespace(int, String, TapMode, Path) createInNamespace(netnsFd, name, mode,
     * DEFAULT_CLONE_DEVICE)}.
     *
     * @param netnsFd an open fd of a network namespace file
     * @param name    the interface name, or {@code ""} / a {@code %d} template
     * @param mode    {@link TapMode#TAP} or {@link TapMode#TUN}
     * @return the handle
     * @throws IllegalArgumentException if {@code netnsFd} is negative or the kernel would reject
     *                                  {@code name}
     * @throws TapException             if the fd is not a network namespace or the device cannot be
     *                                  created there
     */
    public static TapHandle createInNamespace(int netnsFd, String name, TapMode mode) throws TapException {
        return createInNamespace(netnsFd, name, mode, DEFAULT_CLONE_DEVICE);
    }

    /**
     * Opens a queue of a macvtap (or ipvtap) device through its character device node, the way
     * QEMU opens {@code /dev/tapN} and libvirt hands over a pre-created macvtap: no clone device,
     * no name, no {@code TUNSETIFF} name lookup. The node is checked with {@code fstat} before it is
     * opened for real (through an {@code O_PATH} fd): it must be a character device other than the
     * TUN clone device; once open, the driver must answer {@code TUNGETIFF} and accept
     * {@code IFF_TAP|IFF_NO_PI|IFF_VNET_HDR}. Each call opens one more queue of the device (a
     * macvtap is multi-queue by opening its node again). Needs read and write permission on the
     * node only; no capability.
     *
     * <p>A macvtap queue starts with receive offloads on; {@link Tap#open(TapHandle)} turns them
     * off for the first queue this process holds of the device.
     *
     * @param charDevice the node, e.g. {@code /dev/tap7}
     * @return the handle, named after the interface ({@code TUNGETIFF})
     * @throws TapException of kind {@link TapException.Kind#NOT_A_TAP} if the node is not a macvtap
     *                      or ipvtap character device (a file, the clone device, another device),
     *                      {@link TapException.Kind#SYSCALL} if it cannot be opened
     */
    public static TapHandle macvtap(Path charDevice) throws TapException {
        Objects.requireNonNull(charDevice, "charDevice");
        Platform.requireLinux();
        return ofMacvtap(Macvtap.byPath(charDevice, -1, "", null));
    }

    /**
     * Opens a queue of the macvtap (or ipvtap) interface {@code ifname} of the calling thread's
     * network namespace. The character device's number is read from
     * {@code /sys/class/net/IFNAME/macvtap/tapN/dev} as that namespace shows it (if this process's
     * {@code /sys} belongs to another namespace, a short-lived thread mounts the right sysfs in a
     * private mount namespace: that needs {@code CAP_SYS_ADMIN}); the node is {@code /dev/tapN}
     * when its {@code st_rdev} matches, or a private node made with {@code mknod} and unlinked once
     * open (needs {@code CAP_MKNOD}); without that privilege it waits up to two seconds for udev.
     * Then as {@link #macvtap(Path)}.
     *
     * @param ifname the interface name
     * @return the handle
     * @throws IllegalArgumentException if {@code ifname} is not a valid interface name
     * @throws TapException             {@code ENODEV} if there is no such interface,
     *                                  {@link TapException.Kind#NOT_A_TAP} if it is not a macvtap or
     *                                  ipvtap, or as {@link #macvtap(Path)}
     */
    public static TapHandle macvtap(String ifname) throws TapException {
        Objects.requireNonNull(ifname, "ifname");
        Platform.requireLinux();
        return ofMacvtap(Macvtap.byName(ifname, NetnsRef.CALLER));
    }

    /**
     * As {@link #macvtap(String)}, for an interface in another network namespace, given by a
     * namespace file ({@code /run/netns/X} or {@code /proc/PID/ns/net}). Entering the namespace
     * needs {@code CAP_SYS_ADMIN}.
     *
     * @param netns  the network namespace file
     * @param ifname the interface name in that namespace
     * @return the handle; the fd works from any thread
     * @throws IllegalArgumentException if {@code ifname} is not a valid interface name
     * @throws TapException             as {@link #macvtap(String)}, or of kind
     *                                  {@link TapException.Kind#NOT_A_NAMESPACE}
     */
    public static TapHandle macvtapInNamespace(Path netns, String ifname) throws TapException {
        Objects.requireNonNull(netns, "netns");
        Objects.requireNonNull(ifname, "ifname");
        Platform.requireLinux();
        return ofMacvtap(Macvtap.byName(ifname, NetnsRef.of(netns)));
    }

    /** A handle for a configured macvtap queue ({@link Macvtap}). */
    private static TapHandle ofMacvtap(Macvtap.Opened q) {
        NetnsRef netns = q.netns();
        return new TapHandle(q.fd(), q.origin(), q.name(), TapMode.TAP, netns != null && netns.path() != null ? netns : null);
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
     * @param cloneDevice the clone device, normally {@link #DEFAULT_CLONE_DEVICE}; the path is
     *                    resolved in this process's mount namespace (entering the network
     *                    namespace changes nothing else)
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
        return InNamespace.call(netns, () -> attach(nameBytes, name, mode, cloneDevice, NetnsRef.of(netns), false));
    }

    /**
     * As {@link #createInNamespace(Path, String, TapMode, Path)}, with the network namespace given by
     * an open fd of a namespace file ({@code /run/netns/X}, {@code /proc/PID/ns/net}, or one received
     * from another process). The fd is not consumed: the caller keeps it and closes it.
     *
     * @param netnsFd     an open fd of a network namespace file
     * @param name        the interface name, or {@code ""} / a {@code %d} template
     * @param mode        TAP or TUN
     * @param cloneDevice the clone device, normally {@link #DEFAULT_CLONE_DEVICE}; the path is
     *                    resolved in this process's mount namespace (entering the network
     *                    namespace changes nothing else)
     * @return the handle; its origin reads {@code /dev/net/tun as "vm0" in netns fd 5}
     * @throws IllegalArgumentException if {@code netnsFd} is negative or the kernel would reject
     *                                  {@code name}
     * @throws TapException             of kind {@link TapException.Kind#NOT_A_NAMESPACE} if the fd is
     *                                  not a network namespace, {@link TapException.Kind#SYSCALL} if it
     *                                  is not open ({@code EBADF}) or the device cannot be created there
     */
    public static TapHandle createInNamespace(int netnsFd, String name, TapMode mode, Path cloneDevice)
            throws TapException {
        if (netnsFd < 0) {
            throw new IllegalArgumentException("netnsFd must be an open file descriptor, not " + netnsFd);
        }
        byte[] nameBytes = InterfaceNames.check(name);
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(cloneDevice, "cloneDevice");
        Platform.requireLinux();
        return InNamespace.call(netnsFd, "network namespace fd " + netnsFd, () -> attach(nameBytes, name, mode, cloneDevice, NetnsRef.ofFd(netnsFd), false));
    }

    /**
     * Adopts an fd this process inherited, by convention a TAP queue handed to it as fd 3 by a
     * container runtime or another launcher. Same as {@link #ofInheritedFd(int, TapMode)} with
     * {@link TapMode#TAP}.
     *
     * @param fd the inherited fd number, e.g. 3
     * @return the handle; its origin reads {@code fd 3 (inherited)}
     * @throws IllegalArgumentException if {@code fd} is negative
     * @throws TapException             of kind {@link TapException.Kind#NOT_A_TAP} (errno
     *                                  {@code EBADF}) if {@code fd} is not open
     */
    public static TapHandle ofInheritedFd(int fd) throws TapException {
        return ofInheritedFd(fd, TapMode.TAP);
    }

    /**
     * Adopts an fd this process inherited (or got any other way the library does not know). The
     * handle takes ownership at once: it sets {@code FD_CLOEXEC} (per fd: the queue does not leak
     * into processes this one starts) and {@code O_NONBLOCK}. <b>{@code O_NONBLOCK} is a flag of the
     * open file description, shared with every other process that holds the same open file</b> (the
     * launcher that passed it, if it kept a copy): they see their reads and writes turn
     * non-blocking too.
     *
     * <p>Nothing else is checked here: whether the fd is a TAP/TUN queue of the right mode with
     * {@code IFF_NO_PI} and {@code IFF_VNET_HDR} is decided by {@link Tap#open(TapHandle)}, which
     * closes the fd when it refuses it. So, from this call on, the fd belongs to nettap whatever
     * happens: a refused fd is closed, never leaked; the caller must not close it or use it again.
     * If this method throws because the fd is not open there is nothing to close; if it throws for
     * any other reason it has closed the fd.
     *
     * @param fd       the fd number
     * @param expected the mode the fd must have, or {@code null} to accept TAP and TUN
     * @return the handle; its origin reads {@code fd 3 (inherited)}
     * @throws IllegalArgumentException if {@code fd} is negative
     * @throws TapException             of kind {@link TapException.Kind#NOT_A_TAP} (errno
     *                                  {@code EBADF}) if {@code fd} is not open, or
     *                                  {@link TapException.Kind#SYSCALL} if its flags cannot be set
     */
    public static TapHandle ofInheritedFd(int fd, TapMode expected) throws TapException {
        if (fd < 0) {
            throw new IllegalArgumentException("an inherited fd is a non-negative number, not " + fd);
        }
        Platform.requireLinux();
        return adopt(fd, "fd " + fd + " (inherited)", expected);
    }

    /**
     * Takes ownership of {@code fd}: sets {@code FD_CLOEXEC} and {@code O_NONBLOCK}. Closes the fd
     * when a flag cannot be set; throws {@code NOT_A_TAP}/{@code EBADF} without closing anything
     * when the fd is not open.
     */
    static TapHandle adopt(int fd, String origin, TapMode expected) throws TapException {
        MemorySegment err = Sys.errnoSlot();
        int fdFlags = FileCalls.fcntl(err, fd, linux_h.F_GETFD(), 0);
        if (fdFlags < 0) {
            int e = Sys.errno(err);
            String ctx = origin;
            if (e == linux_h.EBADF()) {
                throw TapException.syscall(TapException.Kind.NOT_A_TAP, "fcntl(F_GETFD)", e, ctx,
                        "not an open file descriptor");
            }
            FileCalls.close(err, fd);
            throw TapException.syscall("fcntl(F_GETFD)", e, ctx, null);
        }
        if ((fdFlags & linux_h.FD_CLOEXEC()) == 0
                && FileCalls.fcntl(err, fd, linux_h.F_SETFD(), fdFlags | linux_h.FD_CLOEXEC()) < 0) {
            int e = Sys.errno(err);
            FileCalls.close(err, fd);
            throw TapException.syscall("fcntl(F_SETFD, FD_CLOEXEC)", e, origin, null);
        }
        int fl = FileCalls.fcntl(err, fd, linux_h.F_GETFL(), 0);
        if (fl < 0 || ((fl & linux_h.O_NONBLOCK()) == 0
                && FileCalls.fcntl(err, fd, linux_h.F_SETFL(), fl | linux_h.O_NONBLOCK()) < 0)) {
            int e = Sys.errno(err);
            FileCalls.close(err, fd);
            throw TapException.syscall("fcntl(F_SETFL, O_NONBLOCK)", e, origin, null);
        }
        return new TapHandle(fd, origin, null, expected, null);
    }

    /** The kernel's limit on the queues of one device (MAX_TAP_QUEUES). */
    public static final int MAX_QUEUES = 256;

    /**
     * Creates, or attaches to, a multi-queue device ({@code IFF_MULTI_QUEUE}) and opens
     * {@code queues} queues of it, one fd each, in the calling thread's network namespace. The
     * kernel spreads the device's outgoing frames over the queues by flow; a VMM gives each to one
     * virtio-net queue pair. Every queue goes through {@link Tap#open(TapHandle)} on its own; the
     * header size and offloads are per device: the queues share one {@link TapDevice}, and opening
     * one more never resets the offloads set through another.
     *
     * @param name        the interface name, or {@code ""} / a {@code %d} template (the name the
     *                    kernel picks for the first queue is used for the others)
     * @param queues      how many queues, 1 to {@value #MAX_QUEUES}
     * @param mode        TAP or TUN
     * @param cloneDevice the clone device, normally {@link #DEFAULT_CLONE_DEVICE}
     * @return the handles, in queue order; on failure, the ones already opened are closed
     * @throws IllegalArgumentException if the name is invalid or {@code queues} out of range
     * @throws TapException             if a queue cannot be attached ({@code EINVAL} when a device of
     *                                  that name exists without {@code IFF_MULTI_QUEUE})
     */
    public static List<TapHandle> createQueues(String name, int queues, TapMode mode, Path cloneDevice)
            throws TapException {
        byte[] nameBytes = checkQueues(name, queues, mode, cloneDevice);
        return attachQueues(nameBytes, name, queues, mode, cloneDevice, NetnsRef.CALLER);
    }

    /**
     * As {@link #createQueues(String, int, TapMode, Path)}, inside another network namespace (see
     * {@link #createInNamespace(Path, String, TapMode, Path)}).
     *
     * @param netns       the network namespace file
     * @param name        the interface name, or {@code ""} / a {@code %d} template
     * @param queues      how many queues, 1 to {@value #MAX_QUEUES}
     * @param mode        TAP or TUN
     * @param cloneDevice the clone device, normally {@link #DEFAULT_CLONE_DEVICE}; the path is
     *                    resolved in this process's mount namespace (entering the network
     *                    namespace changes nothing else)
     * @return the handles, in queue order
     * @throws IllegalArgumentException if the name is invalid or {@code queues} out of range
     * @throws TapException             if the namespace or a queue cannot be opened
     */
    public static List<TapHandle> createQueuesInNamespace(Path netns, String name, int queues, TapMode mode,
                                                          Path cloneDevice) throws TapException {
        byte[] nameBytes = checkQueues(name, queues, mode, cloneDevice);
        Objects.requireNonNull(netns, "netns");
        return InNamespace.call(netns, () -> attachQueues(nameBytes, name, queues, mode, cloneDevice, NetnsRef.of(netns)));
    }

    private static byte[] checkQueues(String name, int queues, TapMode mode, Path cloneDevice) {
        byte[] nameBytes = InterfaceNames.check(name);
        if (queues < 1 || queues > MAX_QUEUES) {
            throw new IllegalArgumentException("queue count " + queues + " out of range 1.." + MAX_QUEUES);
        }
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(cloneDevice, "cloneDevice");
        Platform.requireLinux();
        return nameBytes;
    }

    private static List<TapHandle> attachQueues(byte[] nameBytes, String name, int queues, TapMode mode,
                                                Path cloneDevice, NetnsRef where) throws TapException {
        List<TapHandle> handles = new ArrayList<>(queues);
        try {
            TapHandle first = attach(nameBytes, name, mode, cloneDevice, where, true);
            handles.add(first);
            byte[] chosen = first.name().getBytes(StandardCharsets.UTF_8);
            for (int i = 1; i < queues; i++) {
                handles.add(attach(chosen, first.name(), mode, cloneDevice, where, true));
            }
            return List.copyOf(handles);
        } catch (TapException | RuntimeException | Error e) {
            handles.forEach(TapHandle::close);
            throw e;
        }
    }

    static TapHandle attach(byte[] nameBytes, String name, TapMode mode, Path cloneDevice, NetnsRef ns,
                            boolean multiQueue) throws TapException {
        String where = ns.where();
        String ctx = cloneDevice + " for \"" + name + "\"" + where;
        MemorySegment err = Sys.errnoSlot();
        try (Arena arena = Arena.ofConfined()) {
            int fd = FileCalls.open(err, arena.allocateFrom(cloneDevice.toString()),
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
                    | linux_h.IFF_NO_PI() | linux_h.IFF_VNET_HDR() | (multiQueue ? linux_h.IFF_MULTI_QUEUE() : 0);
            ifreq.ifr_ifru.ifru_flags(ifreq.ifr_ifru(ifr), (short) flags);
            if (FileCalls.ioctl(err, fd, linux_h.TUNSETIFF(), ifr) < 0) {
                int e = Sys.errno(err);
                FileCalls.close(err, fd);
                throw TapException.syscall("TUNSETIFF", e, ctx, setIffHint(e, mode));
            }
            String chosen = nameField.getString(0, StandardCharsets.UTF_8);
            String origin = cloneDevice + " as \"" + chosen + "\"" + where;
            // A namespace given by fd is the caller's to close: only a path is kept for later.
            return new TapHandle(fd, origin, chosen, mode, ns.path() != null ? ns : null);
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

    /** The namespace file the device was opened in, or {@code null} when not known by path. */
    NetnsRef netns() {
        return netns;
    }

    /** The mode this handle was created for, or {@code null} if any mode is acceptable. */
    TapMode expectedMode() {
        return expectedMode;
    }

    /** How errors about {@code fd}, just released from this handle, name it: {@code fd 3 (inherited)}. */
    String context(int fd) {
        return origin.startsWith("fd " + fd + " ") ? origin : "fd " + fd + " (" + origin + ")";
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
            FileCalls.close(Sys.errnoSlot(), f); // close(2) always releases the fd, even on EINTR/EIO: no retry
        }
    }

    @Override
    public String toString() {
        return "TapHandle[" + origin + "]";
    }
}
