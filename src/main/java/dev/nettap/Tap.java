package dev.nettap;

import dev.nettap.internal.linux.iovec;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.linux.pollfd;
import dev.nettap.internal.sys.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.Set;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.locks.LockSupport;

/**
 * One open, validated TAP/TUN queue: the single door through which every fd nettap is given
 * passes, and the frame path over it.
 *
 * <p><b>Validation.</b> {@link #open(TapHandle)} checks the fd with {@code TUNGETIFF} (a TAP or
 * TUN queue, {@code IFF_NO_PI} set, {@code IFF_VNET_HDR} set, the mode the handle asked for), sets
 * {@code FD_CLOEXEC} and {@code O_NONBLOCK}, sets the virtio-net header size to
 * {@value #VNET_HDR_SIZE} bytes with {@code TUNSETVNETHDRSZ} and reads it back with
 * {@code TUNGETVNETHDRSZ}, and, for the first queue of a device this process holds, turns receive
 * offloads off explicitly ({@code TUNSETOFFLOAD 0}), so the kernel hands over only complete frames
 * with complete checksums; a further queue of the same device joins its {@link TapDevice} and leaves
 * the offloads in force as they are. {@code IFF_NO_PI} is checked without touching the device
 * (its {@code tun_flags} in sysfs; see {@link TapHandle}): an unprivileged process holding a queue of
 * a device in another network namespace cannot read them, and then trusts what {@code TUNGETIFF}
 * reports.
 *
 * <p><b>The header size belongs to the device, not to this queue.</b> It is shared by every queue
 * and every process that holds the device: setting it here changes it for all of them.
 * {@link #previousVnetHeaderSize()} reports what it was. {@code O_NONBLOCK} likewise belongs to the
 * open file description, shared with whoever else holds the same open file (a sender of the fd).
 *
 * <p><b>Frames.</b> {@link #read(MemorySegment, MemorySegment[], int)} and
 * {@link #write(MemorySegment, MemorySegment[], int)} move one frame with its
 * {@value #VNET_HDR_SIZE}-byte header by one {@code readv}/{@code writev} whose iovecs point straight
 * at the caller's native segments (guest memory, or any {@code Arena} memory): no copy, and no
 * allocation per frame (the iovec table, poll set and errno slot are preallocated per direction).
 * They never block, and return a byte count or a negative status: {@link #WOULD_BLOCK},
 * {@link #LINK_DOWN}, {@link #MALFORMED}, {@link #DEVICE_GONE}, {@link #POSSIBLY_TRUNCATED}. They
 * throw only for misuse: a closed {@code Tap}, a heap segment, a header segment of the wrong size,
 * more than {@value #MAX_SEGMENTS} segments.
 *
 * <p><b>Threads.</b> One thread may read while another writes, and any thread may call
 * {@link #close()} or {@link #statistics()} at any time. Each direction has its own scratch memory,
 * so at most one thread reads and one thread writes at a time (a VMM's RX and TX queues). Waits:
 * a platform thread waits in {@code poll} (one per direction at a time); any number of virtual
 * threads may wait at once, parked, and nettap's single poller thread ({@code epoll}) unparks them,
 * so no carrier is ever pinned by a wait.
 *
 * <p><b>Close.</b> {@link #close()} wakes every waiter (they return {@link #CLOSED}), lets calls in
 * flight finish (none of them blocks), and only then closes the fd, so a number the process reuses
 * is never read or written; every later call throws {@link IllegalStateException}.
 *
 * <p><b>Ownership and lifetime.</b> A {@code Tap} owns its fd from {@link #open(TapHandle)} until
 * {@link #close()} returns. {@link #fd()} exposes it for a caller's own {@code epoll}; it is valid
 * until {@code close()} returns, and callers remove it from their epoll set first. Caller segments
 * are used only during the call that receives them and must stay alive for it. Nothing here assumes
 * userspace reads every frame (the fd can be handed to vhost-net).
 */
public final class Tap implements AutoCloseable {
    /** Size of the virtio-net header (v1, with {@code num_buffers}) in front of every frame. */
    public static final int VNET_HDR_SIZE = 12;

    /** Status: nothing to read now, or the queue is full (EAGAIN). */
    public static final long WOULD_BLOCK = -1;
    /** Status: the interface is down (EIO on write). */
    public static final long LINK_DOWN = -2;
    /** Status: the kernel refused the frame as malformed (EINVAL on write). */
    public static final long MALFORMED = -3;
    /** Status: the device was deleted under this queue (EBADFD, or POLLERR on a wait). */
    public static final long DEVICE_GONE = -4;
    /**
     * Status of a read: the frame filled every buffer exactly, so it may have been cut (the kernel
     * drops the rest of a frame silently). The buffers hold as many bytes as they can.
     */
    public static final long POSSIBLY_TRUNCATED = -6;
    /** Status of a wait: the {@code Tap} was closed while waiting. */
    public static final long CLOSED = -5;
    /** Status of a virtual thread's wait: the thread was interrupted (its interrupt flag stays set). */
    public static final long INTERRUPTED = -7;
    /** Status of a wait: the timeout passed first. */
    public static final long TIMEOUT = 0;
    /** Status of a wait: the queue is ready. */
    public static final long READY = 1;

    /** The most segments one read or write accepts: the iovec table preallocated per direction. */
    public static final int MAX_SEGMENTS = 64;

    private static final int CLOSING = 0x8000_0000;
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(Tap.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** CLOSING bit | number of calls in flight. */
    @SuppressWarnings("unused") // accessed through STATE
    private volatile int state;
    private volatile boolean closed;

    private final int fd;
    private final int wakeFd;
    private final String name;
    private final String origin;
    private final TapMode mode;
    private final int previousHdrSize;
    private final Arena arena;
    private final Direction rx;
    private final Direction tx;
    private final MemorySegment wakeValue;
    private WaitSet waitSet; // guarded by this; created by the first virtual-thread wait
    private final TapDevice device;

    /** Preallocated native scratch for one direction: iovec table, pollfd pair, errno slot. */
    private static final class Direction {
        final MemorySegment iov;
        final MemorySegment pfd;
        final MemorySegment wake; // pfd's second entry: the eventfd
        final MemorySegment errno;
        // Counters written only by this direction's thread; read racily by statistics().
        long wouldBlock;
        long truncated;
        long linkDown;
        long malformed;

        Direction(Arena arena, int fd, int wakeFd, short events) {
            iov = iovec.allocateArray(MAX_SEGMENTS + 1, arena);
            pfd = pollfd.allocateArray(2, arena);
            pollfd.fd(pfd, fd);
            pollfd.events(pfd, events);
            wake = pollfd.asSlice(pfd, 1);
            pollfd.fd(wake, wakeFd);
            pollfd.events(wake, (short) linux_h.POLLIN());
            errno = Sys.newErrnoSlot(arena);
        }
    }

    private Tap(int fd, int wakeFd, String name, String origin, TapMode mode, int previousHdrSize, Arena arena,
                TapDevice device) {
        this.fd = fd;
        this.wakeFd = wakeFd;
        this.name = name;
        this.origin = origin;
        this.mode = mode;
        this.previousHdrSize = previousHdrSize;
        this.arena = arena;
        this.rx = new Direction(arena, fd, wakeFd, (short) linux_h.POLLIN());
        this.tx = new Direction(arena, fd, wakeFd, (short) linux_h.POLLOUT());
        this.wakeValue = arena.allocateFrom(ValueLayout.JAVA_LONG, 1L);
        this.device = device;
        device.add(this);
    }

    /**
     * Validates and configures the queue behind {@code handle} and takes its fd over. On failure the
     * fd is closed too: after this call the handle is empty either way.
     *
     * @param handle a handle from any source
     * @return the open queue
     * @throws TapException         if the fd is not a TAP/TUN queue with {@code IFF_NO_PI} and
     *                              {@code IFF_VNET_HDR}, is of the wrong mode, or cannot be configured;
     *                              the message names what was found and the handle's origin
     * @throws IllegalStateException if the handle was already closed or used
     */
    public static Tap open(TapHandle handle) throws TapException {
        Platform.requireLinux();
        Objects.requireNonNull(handle, "handle");
        int fd = handle.release();
        if (fd < 0) {
            throw new IllegalStateException("handle " + handle.origin() + " was already closed or opened");
        }
        String ctx = handle.context(fd);
        MemorySegment err = Sys.errnoSlot();
        int wakeFd = -1;
        Arena arena = Arena.ofShared();
        try {
            setFdFlags(err, fd, ctx);
            Iff iff = Iff.query(err, fd);
            if (iff == null) {
                int e = Sys.errno(err);
                String found = e == linux_h.EBADFD()
                        ? "a clone-device fd with no device attached (TUNSETIFF never succeeded, or the device was deleted)"
                        : e == linux_h.ENOTTY() || e == linux_h.EINVAL() ? "not a TAP/TUN queue (a file, pipe, socket or other device)"
                        : e == linux_h.EBADF() ? "not an open file descriptor" : null;
                throw TapException.syscall(found == null ? TapException.Kind.SYSCALL : TapException.Kind.NOT_A_TAP,
                        "TUNGETIFF", e, ctx, found);
            }
            int flags = NoPiCheck.trueFlags(err, fd, iff, handle.netns(), ctx);
            String name = iff.name();
            TapMode mode = checkFlags(flags, handle.expectedMode(), ctx, name);
            int previous = vnetHdrSize(err, fd, ctx, arena);
            if (previous != VNET_HDR_SIZE) {
                MemorySegment sz = arena.allocateFrom(ValueLayout.JAVA_INT, VNET_HDR_SIZE);
                if (Sys.ioctl(err, fd, linux_h.TUNSETVNETHDRSZ(), sz) < 0) {
                    int e = Sys.errno(err);
                    throw TapException.syscall(TapException.Kind.HEADER_SIZE, "TUNSETVNETHDRSZ", e, ctx,
                            "cannot set the 12-byte virtio-net header");
                }
                int now = vnetHdrSize(err, fd, ctx, arena);
                if (now != VNET_HDR_SIZE) {
                    throw new TapException(TapException.Kind.HEADER_SIZE, "TUNGETVNETHDRSZ", 0, ctx,
                            "virtio-net header size of " + ctx + " reads back as " + now + " after setting " + VNET_HDR_SIZE);
                }
                System.getLogger("dev.nettap").log(System.Logger.Level.DEBUG,
                        "{0}: virtio-net header size {1} -> {2} (the size is per device: every holder sees it)",
                        ctx, previous, VNET_HDR_SIZE);
            }
            wakeFd = Sys.eventfd(err, 0, linux_h.EFD_CLOEXEC() | linux_h.EFD_NONBLOCK());
            if (wakeFd < 0) {
                throw TapException.syscall("eventfd", Sys.errno(err), ctx, null);
            }
            // The first queue this process holds of the device turns receive offloads off; later
            // queues leave the device's offloads as they are (see TapDevice).
            TapDevice device = TapDevice.join(err, fd, name, mode, handle.netns(), ctx);
            return new Tap(fd, wakeFd, name, handle.origin(), mode, previous, arena, device);
        } catch (TapException | RuntimeException | Error e) {
            Sys.close(err, fd);
            if (wakeFd >= 0) {
                Sys.close(err, wakeFd);
            }
            arena.close();
            throw e;
        }
    }

    private static void setFdFlags(MemorySegment err, int fd, String ctx) throws TapException {
        int fdFlags = Sys.fcntl(err, fd, linux_h.F_GETFD(), 0);
        if (fdFlags < 0) {
            int e = Sys.errno(err);
            throw TapException.syscall(TapException.Kind.NOT_A_TAP, "fcntl(F_GETFD)", e, ctx,
                    e == linux_h.EBADF() ? "not an open file descriptor" : null);
        }
        if ((fdFlags & linux_h.FD_CLOEXEC()) == 0
                && Sys.fcntl(err, fd, linux_h.F_SETFD(), fdFlags | linux_h.FD_CLOEXEC()) < 0) {
            throw TapException.syscall("fcntl(F_SETFD, FD_CLOEXEC)", Sys.errno(err), ctx, null);
        }
        int fl = Sys.fcntl(err, fd, linux_h.F_GETFL(), 0);
        if (fl < 0) {
            throw TapException.syscall("fcntl(F_GETFL)", Sys.errno(err), ctx, null);
        }
        if ((fl & linux_h.O_NONBLOCK()) == 0
                && Sys.fcntl(err, fd, linux_h.F_SETFL(), fl | linux_h.O_NONBLOCK()) < 0) {
            throw TapException.syscall("fcntl(F_SETFL, O_NONBLOCK)", Sys.errno(err), ctx, null);
        }
    }

    private static TapMode checkFlags(int flags, TapMode expected, String ctx, String name) throws TapException {
        int type = flags & (linux_h.IFF_TUN() | linux_h.IFF_TAP());
        TapMode mode = type == linux_h.IFF_TAP() ? TapMode.TAP : type == linux_h.IFF_TUN() ? TapMode.TUN : null;
        String found = ctx + " (device \"" + name + "\", flags 0x" + Integer.toHexString(flags) + ")";
        if (mode == null) {
            throw new TapException(TapException.Kind.NOT_A_TAP, "TUNGETIFF", 0, ctx,
                    found + " is neither IFF_TAP nor IFF_TUN");
        }
        if (expected != null && mode != expected) {
            throw new TapException(TapException.Kind.WRONG_MODE, "TUNGETIFF", 0, ctx,
                    found + " is a " + mode + " device; a " + expected + " device was asked for");
        }
        if ((flags & linux_h.IFF_NO_PI()) == 0) {
            throw new TapException(TapException.Kind.UNSUPPORTED_FLAGS, "TUNGETIFF", 0, ctx,
                    found + " was opened without IFF_NO_PI: frames carry a packet-information prefix nettap does not use");
        }
        if ((flags & linux_h.IFF_VNET_HDR()) == 0) {
            throw new TapException(TapException.Kind.UNSUPPORTED_FLAGS, "TUNGETIFF", 0, ctx,
                    found + " was opened without IFF_VNET_HDR: the virtio-net header (and every offload) needs it");
        }
        return mode;
    }

    private static int vnetHdrSize(MemorySegment err, int fd, String ctx, Arena arena) throws TapException {
        MemorySegment sz = arena.allocate(ValueLayout.JAVA_INT);
        if (Sys.ioctl(err, fd, linux_h.TUNGETVNETHDRSZ(), sz) < 0) {
            int e = Sys.errno(err);
            throw TapException.syscall(TapException.Kind.HEADER_SIZE, "TUNGETVNETHDRSZ", e, ctx, null);
        }
        return sz.get(ValueLayout.JAVA_INT, 0);
    }

    // ---- accessors ----------------------------------------------------------------------------

    /** {@return the interface name, as {@code TUNGETIFF} reported it when this queue was opened} */
    public String name() {
        return name;
    }

    /** {@return whether frames are Ethernet (TAP) or IP (TUN)} */
    public TapMode mode() {
        return mode;
    }

    /** {@return where the fd came from, as errors name it} */
    public String origin() {
        return origin;
    }

    /**
     * The device's virtio-net header size before {@link #open(TapHandle)} set it to
     * {@value #VNET_HDR_SIZE}: 10 on a fresh TAP, or whatever another holder of the device set.
     *
     * @return the previous size in bytes
     */
    public int previousVnetHeaderSize() {
        return previousHdrSize;
    }

    /**
     * The raw fd, for a caller's own epoll set. Valid until {@link #close()} returns; do not close
     * it, do not change its flags, and remove it from any epoll set before closing this {@code Tap}.
     *
     * @return the fd
     * @throws IllegalStateException if this {@code Tap} is closed
     */
    public int fd() {
        if ((int) STATE.getVolatile(this) < 0) {
            throw closedError();
        }
        return fd;
    }

    /** {@return whether {@link #close()} was called} */
    public boolean isClosed() {
        return (int) STATE.getVolatile(this) < 0;
    }

    // ---- frames -------------------------------------------------------------------------------

    /**
     * Reads one frame: its header into {@code hdr}, the frame into {@code frame}. Never blocks.
     *
     * @param hdr   native segment of exactly {@value #VNET_HDR_SIZE} bytes
     * @param frame native segment that receives the frame; size it to 65535 bytes when receive
     *              offloads are on, MTU + 14 otherwise
     * @return the frame's length in bytes (without the header), or {@link #WOULD_BLOCK},
     *         {@link #POSSIBLY_TRUNCATED} or {@link #DEVICE_GONE}
     * @throws IllegalStateException    if this {@code Tap} is closed
     * @throws IllegalArgumentException if a segment is on the heap or {@code hdr} has the wrong size
     */
    public long read(MemorySegment hdr, MemorySegment frame) {
        checkHeader(hdr, true);
        checkNative(frame, "frame", -1, true);
        enter();
        try {
            Direction d = rx;
            putIov(d.iov, 0, hdr);
            putIov(d.iov, 1, frame);
            return readResult(d, Sys.readv(d.errno, fd, d.iov, 2), frame.byteSize());
        } finally {
            exit();
        }
    }

    /**
     * Reads one frame scattered over the first {@code count} segments of {@code bufs}, in order,
     * with one {@code readv} whose iovecs point straight at them. Never blocks.
     *
     * @param hdr   native segment of exactly {@value #VNET_HDR_SIZE} bytes
     * @param bufs  native segments filled in order
     * @param count how many of {@code bufs} to use, 1 to {@value #MAX_SEGMENTS}
     * @return bytes read without the header, or {@link #WOULD_BLOCK}, {@link #POSSIBLY_TRUNCATED}
     *         or {@link #DEVICE_GONE}
     * @throws IllegalStateException    if this {@code Tap} is closed
     * @throws IllegalArgumentException if a segment is on the heap, {@code hdr} has the wrong size or
     *                                  {@code count} is out of range
     */
    public long read(MemorySegment hdr, MemorySegment[] bufs, int count) {
        checkHeader(hdr, true);
        long capacity = checkScatter(bufs, count, true);
        enter();
        try {
            Direction d = rx;
            putIov(d.iov, 0, hdr);
            for (int i = 0; i < count; i++) {
                putIov(d.iov, i + 1, bufs[i]);
            }
            return readResult(d, Sys.readv(d.errno, fd, d.iov, count + 1), capacity);
        } finally {
            exit();
        }
    }

    /**
     * Drains up to {@code max} frames in one go (one wake-up, one close check): frame {@code i}
     * goes to {@code hdrs[i]} and {@code frames[i]}, and {@code results[i]} receives its length or
     * {@link #POSSIBLY_TRUNCATED}. Stops at the first read that would block.
     *
     * @param hdrs    native segments of exactly {@value #VNET_HDR_SIZE} bytes each
     * @param frames  native segments, one per frame
     * @param results receives each frame's result
     * @param max     at most this many frames; no more than any array's length
     * @return how many frames were read (0 if none was ready), or {@link #DEVICE_GONE} if the device
     *         was gone before the first
     * @throws IllegalStateException    if this {@code Tap} is closed
     * @throws IllegalArgumentException if a segment is on the heap, a header has the wrong size or
     *                                  {@code max} exceeds an array
     */
    public int readBatch(MemorySegment[] hdrs, MemorySegment[] frames, long[] results, int max) {
        if (max < 0 || max > hdrs.length || max > frames.length || max > results.length) {
            throw new IllegalArgumentException("batch of " + max + " does not fit arrays of " + hdrs.length + ", "
                    + frames.length + " and " + results.length);
        }
        for (int i = 0; i < max; i++) {
            checkHeader(hdrs[i], true);
            checkNative(frames[i], "frame", i, true);
        }
        enter();
        try {
            Direction d = rx;
            for (int i = 0; i < max; i++) {
                putIov(d.iov, 0, hdrs[i]);
                putIov(d.iov, 1, frames[i]);
                long r = readResult(d, Sys.readv(d.errno, fd, d.iov, 2), frames[i].byteSize());
                if (r == WOULD_BLOCK) {
                    return i;
                }
                if (r == DEVICE_GONE) {
                    return i == 0 ? (int) DEVICE_GONE : i;
                }
                results[i] = r;
            }
            return max;
        } finally {
            exit();
        }
    }

    /**
     * Writes one frame: the header in {@code hdr}, then {@code frame}. Never blocks; the kernel
     * takes the whole frame or none of it (and may still drop it later when its queues are full:
     * see {@link #statistics()}).
     *
     * @param hdr   native segment of exactly {@value #VNET_HDR_SIZE} bytes
     * @param frame native segment holding the whole frame
     * @return the frame's length in bytes (without the header), or {@link #WOULD_BLOCK},
     *         {@link #LINK_DOWN}, {@link #MALFORMED} (see {@link #explainMalformed}) or
     *         {@link #DEVICE_GONE}
     * @throws IllegalStateException    if this {@code Tap} is closed
     * @throws IllegalArgumentException if a segment is on the heap or {@code hdr} has the wrong size
     */
    public long write(MemorySegment hdr, MemorySegment frame) {
        checkHeader(hdr, false);
        checkNative(frame, "frame", -1, false);
        enter();
        try {
            Direction d = tx;
            putIov(d.iov, 0, hdr);
            putIov(d.iov, 1, frame);
            return writeResult(d, Sys.writev(d.errno, fd, d.iov, 2));
        } finally {
            exit();
        }
    }

    /**
     * Writes one frame gathered from the first {@code count} segments of {@code bufs} with one
     * {@code writev} whose iovecs point straight at them (no copy). Never blocks.
     *
     * @param hdr   native segment of exactly {@value #VNET_HDR_SIZE} bytes
     * @param bufs  native segments, concatenated in order
     * @param count how many of {@code bufs} to use, 1 to {@value #MAX_SEGMENTS}
     * @return bytes written without the header, or a negative status as for
     *         {@link #write(MemorySegment, MemorySegment)}
     * @throws IllegalStateException    if this {@code Tap} is closed
     * @throws IllegalArgumentException if a segment is on the heap, {@code hdr} has the wrong size or
     *                                  {@code count} is out of range
     */
    public long write(MemorySegment hdr, MemorySegment[] bufs, int count) {
        checkHeader(hdr, false);
        checkScatter(bufs, count, false);
        enter();
        try {
            Direction d = tx;
            putIov(d.iov, 0, hdr);
            for (int i = 0; i < count; i++) {
                putIov(d.iov, i + 1, bufs[i]);
            }
            return writeResult(d, Sys.writev(d.errno, fd, d.iov, count + 1));
        } finally {
            exit();
        }
    }

    /**
     * Why the kernel may have refused a frame with {@link #MALFORMED}, from the rules it applies
     * (a pure check of the header and the frame's length; no system call).
     *
     * @param mode        the device's mode
     * @param hdr         the {@value #VNET_HDR_SIZE}-byte header that was written
     * @param frameLength the frame's length without the header
     * @return the first rule the frame breaks, or a note that none of the known rules applies
     */
    public static String explainMalformed(TapMode mode, MemorySegment hdr, long frameLength) {
        int flags = hdr.get(ValueLayout.JAVA_BYTE, 0) & 0xff;
        int gso = hdr.get(ValueLayout.JAVA_BYTE, 1) & 0xff;
        int hdrLen = Short.toUnsignedInt(hdr.get(LE16, 2));
        int gsoSize = Short.toUnsignedInt(hdr.get(LE16, 4));
        int csumStart = Short.toUnsignedInt(hdr.get(LE16, 6));
        int csumOffset = Short.toUnsignedInt(hdr.get(LE16, 8));
        int type = gso & 0x7f;
        if (mode == TapMode.TAP && frameLength < 14) {
            return "frame of " + frameLength + " bytes is shorter than an Ethernet header (14)";
        }
        if (type != 0 && type != 1 && type != 3 && type != 4 && type != 5) {
            return "gso_type " + type + " is not NONE, TCPV4, UDP, TCPV6 or UDP_L4";
        }
        if ((flags & 1) != 0 && csumStart + csumOffset + 2 > frameLength) {
            return "csum_start " + csumStart + " + csum_offset " + csumOffset + " + 2 is past the frame's "
                    + frameLength + " bytes";
        }
        if (hdrLen > frameLength) {
            return "hdr_len " + hdrLen + " is beyond the frame's " + frameLength + " bytes";
        }
        if (type != 0 && gsoSize == 0) {
            return "gso_type " + type + " with gso_size 0";
        }
        if (type != 0 && (flags & 1) == 0) {
            return "GSO without NEEDS_CSUM";
        }
        if ((type == 1 || type == 4) && csumOffset != 16 || (type == 3 || type == 5) && csumOffset != 6) {
            return "csum_offset " + csumOffset + " does not match gso_type " + type;
        }
        return "none of the known rules: the kernel found the frame itself malformed (bad IP or L4 header for its GSO type?)";
    }

    private static final long IOV_SIZE = iovec.sizeof();
    private static final long IOV_BASE = iovec.iov_base$offset();
    private static final long IOV_LEN = iovec.iov_len$offset();

    private static void putIov(MemorySegment iov, int i, MemorySegment seg) {
        long at = i * IOV_SIZE; // i <= MAX_SEGMENTS: inside the table of MAX_SEGMENTS + 1 entries
        // SAFETY: seg is native (checked by the caller) and alive for the duration of this call by the
        // documented contract; the kernel touches exactly [address, address + byteSize). Plain offsets,
        // not asSlice: no object per iovec, whatever the JIT inlines.
        iov.set(ValueLayout.ADDRESS, at + IOV_BASE, seg);
        iov.set(ValueLayout.JAVA_LONG, at + IOV_LEN, seg.byteSize());
    }

    private long readResult(Direction d, long n, long capacity) {
        if (n >= 0) {
            long len = Math.max(0, n - VNET_HDR_SIZE);
            if (len == capacity) {
                d.truncated++;
                return POSSIBLY_TRUNCATED;
            }
            return len;
        }
        int e = Sys.errno(d.errno);
        if (e == linux_h.EAGAIN() || e == linux_h.EINTR()) { // EINTR: a signal before any byte moved
            d.wouldBlock++;
            return WOULD_BLOCK;
        }
        if (e == linux_h.EBADFD()) {
            return DEVICE_GONE;
        }
        throw new IllegalStateException(TapException.describe("readv", e, context(),
                "unexpected on a TAP queue"));
    }

    private long writeResult(Direction d, long n) {
        if (n >= 0) {
            return Math.max(0, n - VNET_HDR_SIZE);
        }
        int e = Sys.errno(d.errno);
        if (e == linux_h.EAGAIN() || e == linux_h.EINTR()) {
            d.wouldBlock++;
            return WOULD_BLOCK;
        }
        if (e == linux_h.EIO()) {
            d.linkDown++;
            return LINK_DOWN;
        }
        if (e == linux_h.EINVAL()) {
            d.malformed++;
            return MALFORMED;
        }
        if (e == linux_h.EBADFD()) {
            return DEVICE_GONE;
        }
        throw new IllegalStateException(TapException.describe("writev", e, context(),
                "unexpected on a TAP queue"));
    }

    private static void checkHeader(MemorySegment hdr, boolean kernelWrites) {
        checkNative(hdr, "header", -1, kernelWrites);
        if (hdr.byteSize() != VNET_HDR_SIZE) {
            throw new IllegalArgumentException("header segment must be exactly " + VNET_HDR_SIZE + " bytes, is "
                    + hdr.byteSize());
        }
    }

    /**
     * The checks FFM would make if the segment were a downcall argument, since only its address goes
     * into an iovec: native, alive, accessible from this thread, and writable when the kernel writes
     * into it. Messages are built only on failure: the per-frame path allocates nothing.
     */
    private static void checkNative(MemorySegment seg, String what, int index, boolean kernelWrites) {
        if (!seg.isNative() || !seg.scope().isAlive() || !seg.isAccessibleBy(Thread.currentThread())
                || (kernelWrites && seg.isReadOnly())) {
            throw badSegment(seg, index < 0 ? what : what + " " + index, kernelWrites);
        }
    }

    private static IllegalArgumentException badSegment(MemorySegment seg, String what, boolean kernelWrites) {
        String why = !seg.isNative() ? "is on the Java heap; readv/writev need native memory (Arena.allocate, or guest"
                + " memory mapped by the VMM)"
                : !seg.scope().isAlive() ? "belongs to a closed arena"
                : !seg.isAccessibleBy(Thread.currentThread()) ? "is confined to another thread"
                : "is read-only, and the kernel would write into it";
        return new IllegalArgumentException(what + " segment " + why);
    }

    /** Checks a scatter list and returns its total size. */
    private static long checkScatter(MemorySegment[] bufs, int count, boolean kernelWrites) {
        if (count < 1 || count > MAX_SEGMENTS || count > bufs.length) {
            throw new IllegalArgumentException("segment count " + count + " out of range 1.."
                    + Math.min(MAX_SEGMENTS, bufs.length) + " (the iovec table holds " + MAX_SEGMENTS + ")");
        }
        long total = 0;
        for (int i = 0; i < count; i++) {
            checkNative(bufs[i], "buffer", i, kernelWrites);
            total += bufs[i].byteSize();
        }
        return total;
    }

    // ---- offloads ----------------------------------------------------------------------------

    /**
     * Sets the device's receive offloads: {@link TapDevice#setOffloads(Set)} on {@link #device()}.
     * The offloads belong to the device, so every queue of it sees the change, and opening another
     * queue of the same device does not reset them.
     *
     * @param offloads the offloads to allow; an empty set turns them all off
     * @throws IllegalArgumentException if the set breaks a dependency (see {@link Offload})
     * @throws TapException             if the kernel refuses the set (e.g. USO on a kernel before 6.2)
     * @throws IllegalStateException    if this {@code Tap} is closed
     */
    public void setOffloads(Set<Offload> offloads) throws TapException {
        enter();
        try {
            device.setOffloads(offloads);
        } finally {
            exit();
        }
    }

    /** {@return the device's receive offloads in force, as {@link TapDevice#offloads()} (none until set)} */
    public Set<Offload> offloads() {
        return device.offloads();
    }

    /**
     * Which receive offloads this kernel accepts on this device: {@link TapDevice#probeOffloads()}.
     *
     * @return the offloads the kernel accepted
     * @throws TapException          if the offloads in force cannot be restored
     * @throws IllegalStateException if this {@code Tap} is closed
     */
    public Set<Offload> probeOffloads() throws TapException {
        enter();
        try {
            return device.probeOffloads();
        } finally {
            exit();
        }
    }

    /**
     * The device this queue belongs to: what is per device rather than per queue (header size,
     * offloads, link state, MTU, MAC address, carrier, send buffer). Every {@code Tap} this process
     * holds of the same device returns the same object.
     *
     * @return the device
     */
    public TapDevice device() {
        return device;
    }

    /** Runs {@code call} with this queue's fd, kept open for the call; throws if closed. */
    <T> T withFd(TapDevice.FdCall<T> call) throws TapException {
        enter();
        try {
            return call.apply(fd);
        } finally {
            exit();
        }
    }

    // ---- statistics ---------------------------------------------------------------------------

    /**
     * The device's kernel counters beside this queue's own. The kernel does not refuse writes it
     * cannot queue: it drops them and counts them, so a backend watches {@code txDropped} /
     * {@code rxDropped} here rather than expecting errors. Reading the kernel's counters costs a
     * thread switch into the device's network namespace: do not call per packet.
     *
     * @return a snapshot
     * @throws TapException         if the kernel counters cannot be read
     * @throws IllegalStateException if this {@code Tap} is closed
     */
    public TapStatistics statistics() throws TapException {
        enter();
        try {
            TapStatistics.Kernel k = KernelCounters.read(fd, name);
            return new TapStatistics(k, rx.wouldBlock, rx.truncated, tx.wouldBlock, tx.linkDown, tx.malformed);
        } finally {
            exit();
        }
    }

    // ---- readiness ----------------------------------------------------------------------------

    /**
     * Waits until a frame can be read, the timeout passes, or {@link #close()} is called. A
     * platform thread blocks in {@code poll} (one reader thread waits at a time); a virtual thread
     * parks and is unparked by nettap's poller thread, so its carrier is never pinned (any number
     * of virtual threads may wait at once).
     *
     * @param timeout how long to wait at most (rounded up to milliseconds; negative means forever)
     * @return {@link #READY}, {@link #TIMEOUT}, {@link #CLOSED} or {@link #DEVICE_GONE}
     * @throws IllegalStateException if this {@code Tap} was closed before the call
     */
    public long awaitReadable(Duration timeout) {
        return await(rx, true, timeout);
    }

    /**
     * Waits until a frame can be written, the timeout passes, or {@link #close()} is called; as
     * {@link #awaitReadable(Duration)}. The kernel reports a queue whose link is down as not
     * writable (a write would fail with {@link #LINK_DOWN}).
     *
     * @param timeout how long to wait at most (negative means forever)
     * @return {@link #READY}, {@link #TIMEOUT}, {@link #CLOSED} or {@link #DEVICE_GONE}
     * @throws IllegalStateException if this {@code Tap} was closed before the call
     */
    public long awaitWritable(Duration timeout) {
        return await(tx, false, timeout);
    }

    private long await(Direction d, boolean readable, Duration timeout) {
        long deadline = timeout.isNegative() ? Long.MAX_VALUE : System.nanoTime() + timeout.toNanos();
        if (Thread.currentThread().isVirtual()) {
            return awaitVirtual(readable, deadline);
        }
        enter();
        try {
            while (true) {
                int ms;
                if (deadline == Long.MAX_VALUE) {
                    ms = -1;
                } else {
                    long left = deadline - System.nanoTime();
                    ms = left <= 0 ? 0 : (int) Math.min(Integer.MAX_VALUE, (left + 999_999) / 1_000_000);
                }
                MemorySegment wake = d.wake;
                pollfd.revents(d.pfd, (short) 0);
                pollfd.revents(wake, (short) 0);
                int r = Sys.poll(d.errno, d.pfd, 2, ms);
                if (r < 0) {
                    int e = Sys.errno(d.errno);
                    if (e == linux_h.EINTR()) {
                        continue;
                    }
                    throw new IllegalStateException(TapException.describe("poll", e, context(), null));
                }
                if (pollfd.revents(wake) != 0 || (int) STATE.getVolatile(this) < 0) {
                    return CLOSED;
                }
                short rev = pollfd.revents(d.pfd);
                if ((rev & (linux_h.POLLERR() | linux_h.POLLHUP() | linux_h.POLLNVAL())) != 0) {
                    return DEVICE_GONE;
                }
                if (rev != 0) {
                    return READY;
                }
                if (ms == 0) {
                    return TIMEOUT;
                }
            }
        } finally {
            exit();
        }
    }

    private long awaitVirtual(boolean readable, long deadline) {
        if (isClosed()) {
            throw closedError();
        }
        WaitSet ws = waitSet();
        long now = ws.probe(readable); // poll(fd, 0): never blocks, pins the carrier only for the call
        if (now != TIMEOUT || (deadline != Long.MAX_VALUE && deadline - System.nanoTime() <= 0)) {
            return now;
        }
        Waiter w = new Waiter(Thread.currentThread());
        if (!ws.add(w, readable)) {
            return CLOSED;
        }
        try {
            while (w.events == 0) {
                if (Thread.currentThread().isInterrupted()) {
                    return INTERRUPTED;
                }
                if (deadline == Long.MAX_VALUE) {
                    LockSupport.park(this);
                } else {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        break;
                    }
                    LockSupport.parkNanos(this, left);
                }
            }
        } finally {
            ws.remove(w, readable);
        }
        int ev = w.events; // read after removal: an event that raced the deadline is not lost
        if (ev == 0) {
            return TIMEOUT;
        }
        if (ev == Waiter.CLOSED_EVENT) {
            return CLOSED;
        }
        if (ev == Waiter.ARM_FAILED_EVENT) {
            throw new IllegalStateException(TapException.describe("epoll_ctl(EPOLL_CTL_MOD)", ws.armErrno,
                    context(), "cannot wait on this queue"));
        }
        return (ev & (linux_h.EPOLLERR() | linux_h.EPOLLHUP())) != 0 ? DEVICE_GONE : READY;
    }

    private WaitSet waitSet() {
        WaitSet ws = waitSet;
        if (ws != null) {
            return ws;
        }
        synchronized (this) {
            if (waitSet == null) {
                enter(); // the fd stays open while it is registered
                try {
                    waitSet = new WaitSet(this, Poller.get());
                } catch (TapException e) {
                    throw new IllegalStateException(e.getMessage(), e);
                } finally {
                    exit();
                }
            }
            return waitSet;
        }
    }

    /** A parked virtual thread and what woke it. */
    static final class Waiter {
        static final int CLOSED_EVENT = -1;
        static final int ARM_FAILED_EVENT = -2;
        final Thread thread;
        volatile int events;

        Waiter(Thread thread) {
            this.thread = thread;
        }
    }

    /** The virtual-thread waiters of one {@code Tap}, and its registration with the {@link Poller}. */
    static final class WaitSet {
        private final Tap tap;
        private final Poller poller;
        private final long id;
        private final MemorySegment armIn;
        private final MemorySegment armOut;
        private final MemorySegment armBoth;
        private final ArrayDeque<Waiter> readers = new ArrayDeque<>();
        private final ArrayDeque<Waiter> writers = new ArrayDeque<>();
        private final MemorySegment errno;
        private final MemorySegment probeIn;
        private final MemorySegment probeOut;
        private boolean closed;
        int armErrno;

        WaitSet(Tap tap, Poller poller) throws TapException {
            this.tap = tap;
            this.poller = poller;
            // Everything is allocated before the fd is registered, so a failure leaves nothing behind.
            long key = poller.newKey();
            int once = linux_h.EPOLLONESHOT();
            armIn = Poller.event(tap.arena, linux_h.EPOLLIN() | once, key);
            armOut = Poller.event(tap.arena, linux_h.EPOLLOUT() | once, key);
            armBoth = Poller.event(tap.arena, linux_h.EPOLLIN() | linux_h.EPOLLOUT() | once, key);
            errno = Sys.newErrnoSlot(tap.arena);
            probeIn = pollfd.allocate(tap.arena);
            pollfd.fd(probeIn, tap.fd);
            pollfd.events(probeIn, (short) linux_h.POLLIN());
            probeOut = pollfd.allocate(tap.arena);
            pollfd.fd(probeOut, tap.fd);
            pollfd.events(probeOut, (short) linux_h.POLLOUT());
            this.id = key;
            poller.register(tap.fd, key, this, tap.context());
        }

        /** Readiness now, without blocking: READY, DEVICE_GONE, TIMEOUT (not ready) or CLOSED. */
        synchronized long probe(boolean readable) {
            if (closed) {
                return CLOSED;
            }
            MemorySegment p = readable ? probeIn : probeOut;
            pollfd.revents(p, (short) 0);
            // SAFETY: the fd is open while this set is not closed; p lives in the tap's arena.
            if (Sys.poll(errno, p, 1, 0) < 0) {
                return TIMEOUT; // EINTR (or ENOMEM): treat as not ready; the wait that follows decides
            }
            short rev = pollfd.revents(p);
            if ((rev & (linux_h.POLLERR() | linux_h.POLLHUP() | linux_h.POLLNVAL())) != 0) {
                return DEVICE_GONE;
            }
            return rev != 0 ? READY : TIMEOUT;
        }

        synchronized boolean add(Waiter w, boolean readable) {
            if (closed) {
                return false;
            }
            (readable ? readers : writers).add(w);
            rearm();
            return true;
        }

        synchronized void remove(Waiter w, boolean readable) {
            (readable ? readers : writers).remove(w);
        }

        /** Called by the poller thread with the events of one (one-shot) report. */
        synchronized void fired(int events) {
            boolean error = (events & (linux_h.EPOLLERR() | linux_h.EPOLLHUP())) != 0;
            if (error || (events & linux_h.EPOLLIN()) != 0) {
                wakeAll(readers, events);
            }
            if (error || (events & linux_h.EPOLLOUT()) != 0) {
                wakeAll(writers, events);
            }
            rearm(); // the one-shot registration is disarmed now: re-arm for whoever still waits
        }

        /** Wakes every waiter with {@link Waiter#CLOSED_EVENT} and leaves the poller, before the fd closes. */
        synchronized void close() {
            closed = true;
            poller.deregister(tap.fd, id);
            wakeAll(readers, Waiter.CLOSED_EVENT);
            wakeAll(writers, Waiter.CLOSED_EVENT);
        }

        private void rearm() {
            if (closed || (readers.isEmpty() && writers.isEmpty())) {
                return;
            }
            MemorySegment ev = writers.isEmpty() ? armIn : readers.isEmpty() ? armOut : armBoth;
            // SAFETY: tap.fd is open while this set is not closed (close() runs before the fd is closed),
            // and ev lives in the tap's arena, which closes after close().
            if (!poller.arm(tap.fd, ev, errno)) {
                armErrno = Sys.errno(errno);
                wakeAll(readers, Waiter.ARM_FAILED_EVENT); // never park a waiter nobody will wake
                wakeAll(writers, Waiter.ARM_FAILED_EVENT);
            }
        }

        private static void wakeAll(ArrayDeque<Waiter> q, int events) {
            for (Waiter w; (w = q.poll()) != null; ) {
                w.events = events;
                LockSupport.unpark(w.thread);
            }
        }
    }

    // ---- lifetime -----------------------------------------------------------------------------

    private void enter() {
        int s;
        do {
            s = (int) STATE.getVolatile(this);
            if (s < 0) {
                throw closedError();
            }
        } while (!STATE.weakCompareAndSet(this, s, s + 1));
    }

    private void exit() {
        STATE.getAndAdd(this, -1);
    }

    /** How errors name this queue: {@code "vm0" (fd 7)}. */
    private String context() {
        return "\"" + name + "\" (fd " + fd + ")";
    }

    private IllegalStateException closedError() {
        return new IllegalStateException("Tap \"" + name + "\" (" + origin + ") is closed");
    }

    /**
     * Closes the queue: wakes every waiter (they return {@link #CLOSED}), waits for calls in flight
     * to return (they never block), then closes the fd. Idempotent and thread-safe; when it returns,
     * the fd is closed. A non-persistent device disappears once its last queue is closed.
     */
    @Override
    public void close() {
        int s;
        do {
            s = (int) STATE.getVolatile(this);
            if (s < 0) {
                while (!closed) { // another thread is closing: return once it is done
                    LockSupport.parkNanos(50_000);
                }
                return;
            }
        } while (!STATE.compareAndSet(this, s, s | CLOSING));
        device.leave(this);
        MemorySegment err = Sys.errnoSlot();
        try {
            // An eventfd stays readable until read: every present and future poll on it returns.
            Sys.write(err, wakeFd, wakeValue, 8);
            WaitSet ws;
            synchronized (this) {
                ws = waitSet;
            }
            if (ws != null) {
                ws.close();
            }
        } finally {
            try {
                for (int spins = 0; ((int) STATE.getVolatile(this) & ~CLOSING) != 0; spins++) {
                    if (spins < 100) {
                        Thread.onSpinWait();
                    } else {
                        LockSupport.parkNanos(20_000);
                    }
                }
                Sys.close(err, fd);
                Sys.close(err, wakeFd);
                arena.close();
            } finally {
                closed = true;
            }
        }
    }

    @Override
    public String toString() {
        return "Tap[" + name + ", " + mode + ", " + origin + (isClosed() ? ", closed" : "") + "]";
    }
}
