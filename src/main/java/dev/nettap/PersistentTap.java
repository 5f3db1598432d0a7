package dev.nettap;

import dev.nettap.internal.sys.FileCalls;
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
 * A persistent TAP or TUN device this process created for someone else to use: the privileged side
 * of a deployment that prepares devices for an unprivileged VMM, as {@code ip tuntap add ... user U
 * group G} followed by {@code ip link set NAME up} does. The device outlives every fd (it holds
 * none after {@link Builder#create()} returns); its owner and/or group may then attach queues
 * without {@code CAP_NET_ADMIN} through {@link TapHandle#create(String, TapMode, Path)}, and closing
 * their queues leaves the device as it was made.
 *
 * <p><b>Only what it created.</b> {@link Builder#create()} asks the kernel for a new device
 * ({@code IFF_TUN_EXCL}): it fails with {@code EBUSY} rather than adopt an existing one. This
 * object is the only way to delete, so a device the library did not create is never deleted by it,
 * and {@link #delete()} first checks that the interface of that name still has the index it was
 * created with (not a device someone else made under the same name since).
 *
 * <p>Creating, changing and deleting need {@code CAP_NET_ADMIN} (in the device's namespace); an
 * {@code EPERM} says so. Thread-safe.
 */
public final class PersistentTap {
    private final String name;
    private final TapMode mode;
    private final boolean multiQueue;
    private final int ifindex;
    private final Path netns;
    private final Path cloneDevice;
    private boolean deleted; // guarded by this

    private PersistentTap(String name, TapMode mode, boolean multiQueue, int ifindex, Path netns, Path cloneDevice) {
        this.name = name;
        this.mode = mode;
        this.multiQueue = multiQueue;
        this.ifindex = ifindex;
        this.netns = netns;
        this.cloneDevice = cloneDevice;
    }

    /**
     * Starts describing a persistent device.
     *
     * @param name the interface name, or a template with one {@code %d}
     * @return a builder with defaults: TAP, no owner, no group, single queue, down, the calling
     *         thread's network namespace, {@link TapHandle#DEFAULT_CLONE_DEVICE}
     * @throws IllegalArgumentException if the kernel would reject {@code name}
     */
    public static Builder builder(String name) {
        InterfaceNames.check(name);
        return new Builder(name);
    }

    /** What to create; not thread-safe, used once. */
    public static final class Builder {
        private final String name;
        private TapMode mode = TapMode.TAP;
        private long owner = -1;
        private long group = -1;
        private boolean multiQueue;
        private boolean up;
        private Path netns;
        private Path cloneDevice = TapHandle.DEFAULT_CLONE_DEVICE;

        private Builder(String name) {
            this.name = name;
        }

        /**
         * TAP (Ethernet frames) or TUN (IP packets).
         *
         * @param mode the mode
         * @return this builder
         */
        public Builder mode(TapMode mode) {
            this.mode = Objects.requireNonNull(mode, "mode");
            return this;
        }

        /**
         * The user allowed to attach queues ({@code TUNSETOWNER}).
         *
         * @param uid a user id, 0 or more
         * @return this builder
         * @throws IllegalArgumentException if {@code uid} is negative
         */
        public Builder owner(int uid) {
            if (uid < 0) {
                throw new IllegalArgumentException("uid must be non-negative, not " + uid);
            }
            this.owner = uid;
            return this;
        }

        /**
         * The group allowed to attach queues ({@code TUNSETGROUP}). With both an owner and a group,
         * a user must match both.
         *
         * @param gid a group id, 0 or more
         * @return this builder
         * @throws IllegalArgumentException if {@code gid} is negative
         */
        public Builder group(int gid) {
            if (gid < 0) {
                throw new IllegalArgumentException("gid must be non-negative, not " + gid);
            }
            this.group = gid;
            return this;
        }

        /**
         * Whether the device takes several queues ({@code IFF_MULTI_QUEUE}); users must then attach
         * with {@link TapHandle#createQueues}.
         *
         * @param multiQueue {@code true} for a multi-queue device
         * @return this builder
         */
        public Builder multiQueue(boolean multiQueue) {
            this.multiQueue = multiQueue;
            return this;
        }

        /**
         * Whether to bring the interface up once created (a TAP starts down, and a VMM without
         * {@code CAP_NET_ADMIN} cannot bring it up itself).
         *
         * @param up {@code true} to bring it up
         * @return this builder
         */
        public Builder up(boolean up) {
            this.up = up;
            return this;
        }

        /**
         * Creates the device inside another network namespace (a dedicated thread enters it).
         *
         * @param netns the namespace file, e.g. {@code /run/netns/blue}
         * @return this builder
         */
        public Builder inNamespace(Path netns) {
            this.netns = Objects.requireNonNull(netns, "netns");
            return this;
        }

        /**
         * The clone device, resolved in this process's mount namespace.
         *
         * @param cloneDevice the path, normally {@link TapHandle#DEFAULT_CLONE_DEVICE}
         * @return this builder
         */
        public Builder cloneDevice(Path cloneDevice) {
            this.cloneDevice = Objects.requireNonNull(cloneDevice, "cloneDevice");
            return this;
        }

        /**
         * Creates the device: {@code TUNSETIFF} with {@code IFF_TUN_EXCL|IFF_NO_PI|IFF_VNET_HDR}
         * (and {@code IFF_MULTI_QUEUE}), {@code TUNSETOWNER}, {@code TUNSETGROUP},
         * {@code TUNSETPERSIST 1}, then {@code IFF_UP} if asked, and closes its fd. On any failure the
         * half-made device is removed again.
         *
         * @return the device
         * @throws TapException {@code EBUSY} if an interface of that name exists, {@code EPERM}
         *                      without {@code CAP_NET_ADMIN}, or as the failing call says
         */
        public PersistentTap create() throws TapException {
            Platform.requireLinux();
            byte[] nameBytes = InterfaceNames.check(name);
            NetnsRef ns = netns == null ? NetnsRef.CALLER : NetnsRef.of(netns);
            return ns.call(() -> make(nameBytes, ns));
        }

        private PersistentTap make(byte[] nameBytes, NetnsRef ns) throws TapException {
            String ctx = cloneDevice + " for persistent \"" + name + "\"" + ns.where();
            int flags = (mode == TapMode.TAP ? linux_h.IFF_TAP() : linux_h.IFF_TUN()) | linux_h.IFF_TUN_EXCL()
                    | linux_h.IFF_NO_PI() | linux_h.IFF_VNET_HDR() | (multiQueue ? linux_h.IFF_MULTI_QUEUE() : 0);
            MemorySegment err = Sys.errnoSlot();
            int fd = openClone(err, cloneDevice, ctx);
            boolean persisted = false;
            try {
                String chosen = setIff(err, fd, nameBytes, flags, ctx, "an interface of that name exists:"
                        + " only a new device is created (IFF_TUN_EXCL), never one someone else made");
                String c = ctx.replace("\"" + name + "\"", "\"" + chosen + "\"");
                if (owner >= 0 && FileCalls.ioctl(err, fd, linux_h.TUNSETOWNER(), owner) < 0) {
                    throw TapException.syscall("TUNSETOWNER", Sys.errno(err), c, null);
                }
                if (group >= 0 && FileCalls.ioctl(err, fd, linux_h.TUNSETGROUP(), group) < 0) {
                    throw TapException.syscall("TUNSETGROUP", Sys.errno(err), c, null);
                }
                if (FileCalls.ioctl(err, fd, linux_h.TUNSETPERSIST(), 1L) < 0) {
                    throw TapException.syscall("TUNSETPERSIST", Sys.errno(err), c, null);
                }
                persisted = true;
                int index;
                try (IfaceIoctl io = new IfaceIoctl(chosen, c)) {
                    index = io.index();
                    if (up) {
                        io.setUp(true);
                    }
                }
                PersistentTap made = new PersistentTap(chosen, mode, multiQueue, index, netns, cloneDevice);
                persisted = false; // success: keep it
                return made;
            } finally {
                if (persisted) {
                    FileCalls.ioctl(err, fd, linux_h.TUNSETPERSIST(), 0L); // undo: the device goes with the fd
                }
                FileCalls.close(err, fd);
            }
        }
    }

    private static int openClone(MemorySegment err, Path cloneDevice, String ctx) throws TapException {
        try (Arena arena = Arena.ofConfined()) {
            int fd = FileCalls.open(err, arena.allocateFrom(cloneDevice.toString()), linux_h.O_RDWR() | linux_h.O_CLOEXEC());
            if (fd < 0) {
                throw TapException.syscall("open", Sys.errno(err), ctx, null);
            }
            return fd;
        }
    }

    private static String setIff(MemorySegment err, int fd, byte[] nameBytes, int flags, String ctx, String onBusy)
            throws TapException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ifr = ifreq.allocate(arena);
            MemorySegment nameField = ifreq.ifr_ifrn.ifrn_name(ifreq.ifr_ifrn(ifr));
            MemorySegment.copy(nameBytes, 0, nameField, ValueLayout.JAVA_BYTE, 0, nameBytes.length);
            ifreq.ifr_ifru.ifru_flags(ifreq.ifr_ifru(ifr), (short) flags);
            // SAFETY: ifr is a 40-byte struct ifreq in this arena; TUNSETIFF reads and writes within it.
            if (FileCalls.ioctl(err, fd, linux_h.TUNSETIFF(), ifr) < 0) {
                int e = Sys.errno(err);
                throw TapException.syscall("TUNSETIFF", e, ctx, e == linux_h.EPERM()
                        ? "creating or deleting a persistent device needs CAP_NET_ADMIN"
                        : e == linux_h.EBUSY() ? onBusy : null);
            }
            return nameField.getString(0, StandardCharsets.UTF_8);
        }
    }

    /** {@return the interface name the kernel gave the device} */
    public String name() {
        return name;
    }

    /** {@return TAP or TUN} */
    public TapMode mode() {
        return mode;
    }

    /** {@return whether the device is multi-queue} */
    public boolean isMultiQueue() {
        return multiQueue;
    }

    /** {@return the interface index the device was created with, in its namespace} */
    public int ifindex() {
        return ifindex;
    }

    /**
     * Deletes the device: checks that the interface of this name still has the index it was
     * created with, attaches a queue, clears {@code TUNSETPERSIST} and closes it. The kernel removes
     * the device once no fd holds a queue of it any more: if a VMM still holds queues, the device
     * stays until it closes them. Idempotent.
     *
     * @throws TapException of kind {@link TapException.Kind#NOT_A_TAP} if the interface of this name
     *                      is no longer the device created here (nothing is deleted), {@code ENODEV}
     *                      if it is gone, {@code EBUSY} if a VMM holds the only queue of a
     *                      single-queue device, {@code EPERM} without {@code CAP_NET_ADMIN}
     */
    public synchronized void delete() throws TapException {
        if (deleted) {
            return;
        }
        NetnsRef ns = netns == null ? NetnsRef.CALLER : NetnsRef.of(netns);
        String ctx = "persistent \"" + name + "\"" + ns.where();
        byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
        ns.call(() -> {
            try (IfaceIoctl io = new IfaceIoctl(name, ctx)) {
                int now = io.index();
                if (now != ifindex) {
                    throw new TapException(TapException.Kind.NOT_A_TAP, "SIOCGIFINDEX", 0, ctx, ctx + " has index "
                            + now + ", not " + ifindex + ": another device took the name; it is not ours to delete");
                }
            }
            MemorySegment err = Sys.errnoSlot();
            int fd = openClone(err, cloneDevice, ctx);
            try {
                int flags = (mode == TapMode.TAP ? linux_h.IFF_TAP() : linux_h.IFF_TUN()) | linux_h.IFF_NO_PI()
                        | linux_h.IFF_VNET_HDR() | (multiQueue ? linux_h.IFF_MULTI_QUEUE() : 0);
                setIff(err, fd, nameBytes, flags, ctx, "a VMM still holds the device's only queue: close it first");
                if (FileCalls.ioctl(err, fd, linux_h.TUNSETPERSIST(), 0L) < 0) {
                    throw TapException.syscall("TUNSETPERSIST", Sys.errno(err), ctx, null);
                }
            } finally {
                FileCalls.close(err, fd);
            }
            return null;
        });
        deleted = true;
    }

    @Override
    public String toString() {
        return "PersistentTap[" + name + ", " + mode + (multiQueue ? ", multi-queue" : "") + ", index " + ifindex
                + (netns == null ? "" : ", netns " + netns) + (deleted ? ", deleted" : "") + "]";
    }
}
