package dev.nettap;

import dev.nettap.internal.linux.ifreq;
import dev.nettap.internal.linux.iovec;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.linux.pollfd;
import dev.nettap.internal.sys.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
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
 * {@code TUNGETVNETHDRSZ}, and turns receive offloads off explicitly ({@code TUNSETOFFLOAD 0}), so
 * the kernel hands over only complete frames with complete checksums.
 *
 * <p><b>The header size belongs to the device, not to this queue.</b> It is shared by every queue
 * and every process that holds the device: setting it here changes it for all of them.
 * {@link #previousVnetHeaderSize()} reports what it was. {@code O_NONBLOCK} likewise belongs to the
 * open file description, shared with whoever else holds the same open file (a sender of the fd).
 *
 * <p><b>Frames.</b> {@link #read(MemorySegment, MemorySegment)} and
 * {@link #write(MemorySegment, MemorySegment)} move one frame with its {@value #VNET_HDR_SIZE}-byte
 * header by {@code readv}/{@code writev} straight from and into the caller's native segments, never
 * block, and return a byte count or a negative status: {@link #WOULD_BLOCK}, {@link #LINK_DOWN},
 * {@link #MALFORMED}, {@link #DEVICE_GONE}. They throw only for misuse: a closed {@code Tap}, a
 * heap segment, a header segment of the wrong size.
 *
 * <p><b>Threads.</b> One thread may read while another writes, and any thread may call
 * {@link #close()} at any time; each direction has its own preallocated scratch memory, so two
 * readers (or two writers) at once are not supported. {@link #close()} wakes every waiter, lets
 * calls in flight finish, and only then closes the fd, so a number the process reuses is never read
 * or written.
 *
 * <p><b>Ownership and lifetime.</b> A {@code Tap} owns its fd from {@link #open(TapHandle)} until
 * {@link #close()} returns. {@link #fd()} exposes it for a caller's own {@code epoll}; it is valid
 * until {@code close()} returns, and callers remove it from their epoll set first. Caller segments
 * are used only during the call that receives them and must stay alive for it.
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
    /** Status of a wait: the {@code Tap} was closed while waiting. */
    public static final long CLOSED = -5;
    /** Status of a wait: the timeout passed first. */
    public static final long TIMEOUT = 0;
    /** Status of a wait: the queue is ready. */
    public static final long READY = 1;

    /** The most segments one read or write accepts: the iovec table preallocated per direction. */
    public static final int MAX_SEGMENTS = 64;

    private static final int CLOSING = 0x8000_0000;
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

    /** Preallocated native scratch for one direction: iovec table, pollfd pair, errno slot. */
    private static final class Direction {
        final MemorySegment iov;
        final MemorySegment pfd;
        final MemorySegment errno;

        Direction(Arena arena, int fd, int wakeFd, short events) {
            iov = iovec.allocateArray(MAX_SEGMENTS + 1, arena);
            pfd = pollfd.allocateArray(2, arena);
            pollfd.fd(pfd, fd);
            pollfd.events(pfd, events);
            MemorySegment wake = pollfd.asSlice(pfd, 1);
            pollfd.fd(wake, wakeFd);
            pollfd.events(wake, (short) linux_h.POLLIN());
            errno = Sys.newErrnoSlot(arena);
        }
    }

    private Tap(int fd, int wakeFd, String name, String origin, TapMode mode, int previousHdrSize, Arena arena) {
        this.fd = fd;
        this.wakeFd = wakeFd;
        this.name = name;
        this.origin = origin;
        this.mode = mode;
        this.previousHdrSize = previousHdrSize;
        this.arena = arena;
        this.rx = new Direction(arena, fd, wakeFd, (short) linux_h.POLLIN());
        this.tx = new Direction(arena, fd, wakeFd, (short) linux_h.POLLOUT());
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
        Objects.requireNonNull(handle, "handle");
        Platform.requireLinux();
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
            MemorySegment ifr = ifreq.allocate(arena);
            if (Sys.ioctl(err, fd, linux_h.TUNGETIFF(), ifr) < 0) {
                int e = Sys.errno(err);
                String found = e == linux_h.EBADFD()
                        ? "a clone-device fd with no device attached (TUNSETIFF never succeeded, or the device was deleted)"
                        : e == linux_h.ENOTTY() || e == linux_h.EINVAL() ? "not a TAP/TUN queue (a file, pipe, socket or other device)"
                        : e == linux_h.EBADF() ? "not an open file descriptor" : null;
                throw new TapException(found == null ? TapException.Kind.SYSCALL : TapException.Kind.NOT_A_TAP,
                        "TUNGETIFF", e, ctx, TapException.syscall("TUNGETIFF", e, ctx, found).getMessage());
            }
            int flags = NoPiCheck.trueFlags(err, fd, Short.toUnsignedInt(ifreq.ifr_ifru.ifru_flags(ifreq.ifr_ifru(ifr))), ctx);
            String name = ifreq.ifr_ifrn.ifrn_name(ifreq.ifr_ifrn(ifr)).getString(0, StandardCharsets.UTF_8);
            TapMode mode = checkFlags(flags, handle.expectedMode(), ctx, name);
            int previous = vnetHdrSize(err, fd, ctx, arena);
            if (previous != VNET_HDR_SIZE) {
                MemorySegment sz = arena.allocateFrom(ValueLayout.JAVA_INT, VNET_HDR_SIZE);
                if (Sys.ioctl(err, fd, linux_h.TUNSETVNETHDRSZ(), sz) < 0) {
                    int e = Sys.errno(err);
                    throw new TapException(TapException.Kind.HEADER_SIZE, "TUNSETVNETHDRSZ", e, ctx,
                            TapException.syscall("TUNSETVNETHDRSZ", e, ctx, "cannot set the 12-byte virtio-net header").getMessage());
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
            // Receive offloads off: the kernel completes checksums and segments before handing frames over.
            if (Sys.ioctl(err, fd, linux_h.TUNSETOFFLOAD(), 0L) < 0) {
                throw TapException.syscall("TUNSETOFFLOAD", Sys.errno(err), ctx, null);
            }
            wakeFd = Sys.eventfd(err, 0, linux_h.EFD_CLOEXEC() | linux_h.EFD_NONBLOCK());
            if (wakeFd < 0) {
                throw TapException.syscall("eventfd", Sys.errno(err), ctx, null);
            }
            return new Tap(fd, wakeFd, name, handle.origin(), mode, previous, arena);
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
            throw new TapException(TapException.Kind.NOT_A_TAP, "fcntl", e, ctx, TapException.syscall("fcntl(F_GETFD)", e, ctx,
                    e == linux_h.EBADF() ? "not an open file descriptor" : null).getMessage());
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
            throw new TapException(TapException.Kind.HEADER_SIZE, "TUNGETVNETHDRSZ", e, ctx,
                    TapException.syscall("TUNGETVNETHDRSZ", e, ctx, null).getMessage());
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
        if (closed || (int) STATE.getVolatile(this) < 0) {
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
     * @param frame native segment that receives the frame; a frame longer than it is cut, the rest
     *              lost (size it to 65535 bytes with GSO, or MTU + 14 without)
     * @return the frame's length in bytes (without the header), or {@link #WOULD_BLOCK} or
     *         {@link #DEVICE_GONE}
     * @throws IllegalStateException    if this {@code Tap} is closed
     * @throws IllegalArgumentException if a segment is on the heap or {@code hdr} has the wrong size
     */
    public long read(MemorySegment hdr, MemorySegment frame) {
        checkHeader(hdr);
        checkNative(frame, "frame");
        enter();
        try {
            Direction d = rx;
            putIov(d.iov, 0, hdr);
            putIov(d.iov, 1, frame);
            return readResult(d, Sys.readv(d.errno, fd, d.iov, 2));
        } finally {
            exit();
        }
    }

    /**
     * Reads one frame scattered over {@code count} segments of {@code bufs}. Never blocks.
     *
     * @param hdr   native segment of exactly {@value #VNET_HDR_SIZE} bytes
     * @param bufs  native segments filled in order
     * @param count how many of {@code bufs} to use, 1 to {@value #MAX_SEGMENTS}
     * @return bytes read without the header, or {@link #WOULD_BLOCK} or {@link #DEVICE_GONE}
     * @throws IllegalStateException    if this {@code Tap} is closed
     * @throws IllegalArgumentException if a segment is on the heap, {@code hdr} has the wrong size or
     *                                  {@code count} is out of range
     */
    public long read(MemorySegment hdr, MemorySegment[] bufs, int count) {
        checkHeader(hdr);
        checkScatter(bufs, count);
        enter();
        try {
            Direction d = rx;
            putIov(d.iov, 0, hdr);
            for (int i = 0; i < count; i++) {
                putIov(d.iov, i + 1, bufs[i]);
            }
            return readResult(d, Sys.readv(d.errno, fd, d.iov, count + 1));
        } finally {
            exit();
        }
    }

    /**
     * Writes one frame: the header in {@code hdr}, then {@code frame}. Never blocks; the kernel
     * takes the whole frame or none of it.
     *
     * @param hdr   native segment of exactly {@value #VNET_HDR_SIZE} bytes
     * @param frame native segment holding the whole frame
     * @return the frame's length in bytes (without the header), or {@link #WOULD_BLOCK},
     *         {@link #LINK_DOWN}, {@link #MALFORMED} or {@link #DEVICE_GONE}
     * @throws IllegalStateException    if this {@code Tap} is closed
     * @throws IllegalArgumentException if a segment is on the heap or {@code hdr} has the wrong size
     */
    public long write(MemorySegment hdr, MemorySegment frame) {
        checkHeader(hdr);
        checkNative(frame, "frame");
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
     * Writes one frame gathered from {@code count} segments of {@code bufs}. Never blocks.
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
        checkHeader(hdr);
        checkScatter(bufs, count);
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

    private static void putIov(MemorySegment iov, int i, MemorySegment seg) {
        MemorySegment slot = iovec.asSlice(iov, i);
        // SAFETY: seg is native (checked by the caller) and alive for the duration of this call by the
        // documented contract; the kernel touches exactly [address, address + byteSize).
        iovec.iov_base(slot, seg);
        iovec.iov_len(slot, seg.byteSize());
    }

    private long readResult(Direction d, long n) {
        if (n >= 0) {
            return Math.max(0, n - VNET_HDR_SIZE);
        }
        int e = Sys.errno(d.errno);
        if (e == linux_h.EAGAIN()) {
            return WOULD_BLOCK;
        }
        if (e == linux_h.EBADFD()) {
            return DEVICE_GONE;
        }
        if (e == linux_h.EINTR()) {
            return WOULD_BLOCK; // non-blocking fd: a signal before any byte moved; the caller retries
        }
        throw new IllegalStateException(TapException.syscall("readv", e, "\"" + name + "\" (fd " + fd + ")",
                "unexpected on a TAP queue").getMessage());
    }

    private long writeResult(Direction d, long n) {
        if (n >= 0) {
            return Math.max(0, n - VNET_HDR_SIZE);
        }
        int e = Sys.errno(d.errno);
        if (e == linux_h.EAGAIN() || e == linux_h.EINTR()) {
            return WOULD_BLOCK;
        }
        if (e == linux_h.EIO()) {
            return LINK_DOWN;
        }
        if (e == linux_h.EINVAL()) {
            return MALFORMED;
        }
        if (e == linux_h.EBADFD()) {
            return DEVICE_GONE;
        }
        throw new IllegalStateException(TapException.syscall("writev", e, "\"" + name + "\" (fd " + fd + ")",
                "unexpected on a TAP queue").getMessage());
    }

    private static void checkHeader(MemorySegment hdr) {
        checkNative(hdr, "header");
        if (hdr.byteSize() != VNET_HDR_SIZE) {
            throw new IllegalArgumentException("header segment must be exactly " + VNET_HDR_SIZE + " bytes, is "
                    + hdr.byteSize());
        }
    }

    private static void checkNative(MemorySegment seg, String what) {
        if (!seg.isNative()) {
            throw new IllegalArgumentException(what + " segment is on the Java heap; readv/writev need native"
                    + " memory (Arena.allocate, or guest memory mapped by the VMM)");
        }
    }

    private static void checkScatter(MemorySegment[] bufs, int count) {
        if (count < 1 || count > MAX_SEGMENTS || count > bufs.length) {
            throw new IllegalArgumentException("segment count " + count + " out of range 1.."
                    + Math.min(MAX_SEGMENTS, bufs.length));
        }
        for (int i = 0; i < count; i++) {
            checkNative(bufs[i], "buffer " + i);
        }
    }

    // ---- readiness ----------------------------------------------------------------------------

    /**
     * Waits until a frame can be read, the timeout passes, or {@link #close()} is called. Blocks a
     * platform thread in {@code poll}; one reader thread waits at a time.
     *
     * @param timeout how long to wait at most (rounded up to milliseconds; negative means forever)
     * @return {@link #READY}, {@link #TIMEOUT}, {@link #CLOSED} or {@link #DEVICE_GONE}
     * @throws IllegalStateException if this {@code Tap} was closed before the call
     */
    public long awaitReadable(Duration timeout) {
        return await(rx, timeout);
    }

    /**
     * Waits until a frame can be written, the timeout passes, or {@link #close()} is called.
     *
     * @param timeout how long to wait at most (negative means forever)
     * @return {@link #READY}, {@link #TIMEOUT}, {@link #CLOSED} or {@link #DEVICE_GONE}
     * @throws IllegalStateException if this {@code Tap} was closed before the call
     */
    public long awaitWritable(Duration timeout) {
        return await(tx, timeout);
    }

    private long await(Direction d, Duration timeout) {
        long deadline = timeout.isNegative() ? Long.MAX_VALUE : System.nanoTime() + timeout.toNanos();
        enter();
        try {
            while (true) {
                int ms;
                if (deadline == Long.MAX_VALUE) {
                    ms = -1;
                } else {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        ms = 0;
                    } else {
                        ms = (int) Math.min(Integer.MAX_VALUE, (left + 999_999) / 1_000_000);
                    }
                }
                MemorySegment wake = pollfd.asSlice(d.pfd, 1);
                pollfd.revents(d.pfd, (short) 0);
                pollfd.revents(wake, (short) 0);
                int r = Sys.poll(d.errno, d.pfd, 2, ms);
                if (r < 0) {
                    int e = Sys.errno(d.errno);
                    if (e == linux_h.EINTR()) {
                        continue;
                    }
                    throw new IllegalStateException(TapException.syscall("poll", e, "\"" + name + "\"", null).getMessage());
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
        try (Arena local = Arena.ofConfined()) {
            MemorySegment err = Sys.errnoSlot();
            // An eventfd stays readable until read: every present and future poll on it returns.
            Sys.write(err, wakeFd, local.allocateFrom(ValueLayout.JAVA_LONG, 1L), 8);
            for (int spins = 0; ((int) STATE.getVolatile(this) & ~CLOSING) != 0; spins++) {
                if (spins < 100) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.parkNanos(20_000);
                }
            }
            Sys.close(err, fd);
            Sys.close(err, wakeFd);
        } finally {
            arena.close();
            closed = true;
        }
    }

    @Override
    public String toString() {
        return "Tap[" + name + ", " + mode + ", " + origin + (isClosed() ? ", closed" : "") + "]";
    }
}
