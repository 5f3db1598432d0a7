package dev.nettap;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Sys;
import dev.nettap.internal.sys.PollCalls;
import dev.nettap.internal.sys.FileCalls;
import dev.nettap.vnet.VirtioNetHdr;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;

/**
 * One open, validated TAP/TUN queue: the single door through which every fd nettap is given
 * passes, and the frame path over it.
 *
 * <p><b>Validation.</b> {@link #open(TapHandle)} checks the fd with {@code TUNGETIFF} (a TAP or
 * TUN queue, {@code IFF_NO_PI} set, {@code IFF_VNET_HDR} set, the mode the handle asked for), sets
 * {@code FD_CLOEXEC} and {@code O_NONBLOCK}, sets the virtio-net header size to
 * {@value VirtioNetHdr#SIZE} bytes ({@link VirtioNetHdr#SIZE}) with {@code TUNSETVNETHDRSZ} and reads
 * it back with {@code TUNGETVNETHDRSZ}, and, for the first queue of a device this process holds,
 * turns receive offloads off explicitly ({@code TUNSETOFFLOAD 0}), so the kernel hands over only
 * complete frames with complete checksums; a further queue of the same device joins its
 * {@link TapDevice} and leaves the offloads in force as they are. {@code IFF_NO_PI} is checked
 * without touching the device (its {@code tun_flags} in sysfs; see {@link TapHandle}): an
 * unprivileged process holding a queue of a device in another network namespace cannot read them,
 * and then trusts what {@code TUNGETIFF} reports.
 *
 * <p><b>The header size belongs to the device, not to this queue.</b> It is shared by every queue
 * and every process that holds the device: setting it here changes it for all of them.
 * {@link #previousVnetHeaderSize()} reports what it was. {@code O_NONBLOCK} likewise belongs to the
 * open file description, shared with whoever else holds the same open file (a sender of the fd).
 *
 * <p><b>Frames.</b> {@link #read(MemorySegment, MemorySegment[], int)} and
 * {@link #write(MemorySegment, MemorySegment[], int)} move one frame with its
 * {@value VirtioNetHdr#SIZE}-byte header by one {@code readv}/{@code writev} whose iovecs point straight
 * at the caller's native segments (guest memory, or any {@code Arena} memory): no copy, and no
 * allocation per frame (the iovec table, poll set and errno slot are preallocated per direction).
 * They never block, and return a byte count or a negative status (the table below). They throw only
 * for misuse: {@link IllegalStateException} for a closed {@code Tap}, {@link IllegalArgumentException}
 * for a bad argument (a heap segment, a header segment of the wrong size, more than
 * {@value #MAX_SEGMENTS} segments, a segment whose arena is closed), and the
 * {@code ReadPendingException}/{@code WritePendingException} below for a second concurrent reader or
 * writer. A kernel condition is never thrown: every errno a TAP read or write can return is a status.
 *
 * <p><b>Lengths.</b> {@link #write(MemorySegment, MemorySegment, long)} writes the first
 * {@code length} bytes of a segment (validated: 0 to its size), so a caller that sends part of a
 * buffer needs no slice. A read that fills every buffer exactly returns {@link #POSSIBLY_TRUNCATED}
 * from {@link #read(MemorySegment, MemorySegment)}; {@link #readLength(MemorySegment, MemorySegment)}
 * returns the length in that case too (equal to the buffer's size), for a caller that writes what
 * it read on by length.
 *
 * <p><b>Many queues.</b> {@link TapSelector} waits for the first of several {@code Tap}s to become
 * readable or writable; a {@code Tap} closed while registered leaves every selector before its fd
 * closes.
 *
 * <p><b>Statuses.</b> {@link #describe(long)} names any of them.
 * <table class="striped">
 * <caption>Statuses of frame calls and waits</caption>
 * <thead><tr><th>Status</th><th>Value</th><th>From</th><th>Meaning</th></tr></thead>
 * <tbody>
 * <tr><td>{@link #READY}</td><td>1</td><td>waits</td><td>the queue is ready</td></tr>
 * <tr><td>{@link #TIMEOUT}</td><td>0</td><td>waits</td><td>the timeout passed first</td></tr>
 * <tr><td>{@link #WOULD_BLOCK}</td><td>-1</td><td>read, write</td><td>nothing to read / no room
 *     ({@code EAGAIN}; also {@code EINTR}, which moves no byte)</td></tr>
 * <tr><td>{@link #LINK_DOWN}</td><td>-2</td><td>write</td><td>the interface is down ({@code EIO})</td></tr>
 * <tr><td>{@link #MALFORMED}</td><td>-3</td><td>write, read</td><td>the kernel refused the frame or its
 *     header ({@code EINVAL}; on a read, a frame the header cannot describe, dropped)</td></tr>
 * <tr><td>{@link #DEVICE_GONE}</td><td>-4</td><td>all</td><td>the device was deleted
 *     ({@code EBADFD}; {@code POLLERR}/{@code POLLHUP} on a wait)</td></tr>
 * <tr><td>{@link #CLOSED}</td><td>-5</td><td>waits, select</td><td>{@link #close()} was called during the wait</td></tr>
 * <tr><td>{@link #POSSIBLY_TRUNCATED}</td><td>-6</td><td>read</td><td>the frame filled every buffer exactly
 *     and may have been cut</td></tr>
 * <tr><td>{@link #INTERRUPTED}</td><td>-7</td><td>waits</td><td>the waiting thread (platform or virtual) was
 *     interrupted; its interrupt flag stays set</td></tr>
 * <tr><td>{@link #NO_BUFFER_SPACE}</td><td>-8</td><td>write, read</td><td>the kernel could not allocate
 *     memory for the frame, or it is too large ({@code ENOBUFS}, {@code ENOMEM}); transient</td></tr>
 * <tr><td>{@link #BAD_ADDRESS}</td><td>-9</td><td>write, read</td><td>the kernel could not access a buffer
 *     ({@code EFAULT}: memory unmapped under a live segment, e.g. guest memory changed by the VMM). On a
 *     read the kernel reports it only for the header: a fault while copying the frame itself is
 *     ignored and the full length returned</td></tr>
 * <tr><td>{@link #WAIT_FAILED}</td><td>-10</td><td>waits</td><td>{@code poll}/{@code epoll} failed (or
 *     nettap's poller thread did); nothing was waited for, the next wait tries again</td></tr>
 * <tr><td>{@link #KERNEL_ERROR}</td><td>-11</td><td>read, write</td><td>any other errno; counted, with the
 *     errno, in {@link TapStatistics.Queue#lastErrno()}</td></tr>
 * </tbody>
 * </table>
 * Every status a frame call returns is counted per direction in {@link #statistics()}.
 *
 * <p><b>Threads.</b> One thread may read while another writes, and any thread may call
 * {@link #close()} or {@link #statistics()} at any time. Each direction owns scratch memory (its
 * iovec table), so at most one thread reads and one thread writes at a time, and this is enforced:
 * a read while another thread is inside a read throws {@link java.nio.channels.ReadPendingException}
 * at once, a write during another write {@link java.nio.channels.WritePendingException} (never a
 * corrupted iovec). The same holds for platform threads waiting: one per direction at a time. Any
 * number of virtual threads may wait at once, parked, and nettap's single poller thread
 * ({@code epoll}) unparks them, so no carrier is ever pinned by a wait.
 *
 * <p><b>Close.</b> {@link #close()} wakes every waiter (they return {@link #CLOSED}), lets calls in
 * flight finish (none of them blocks), and only then closes the fd, so a number the process reuses
 * is never read or written; every later call throws {@link IllegalStateException}.
 *
 * <p><b>Ownership and lifetime.</b> A {@code Tap} owns its fd from {@link #open(TapHandle)} until
 * {@link #close()} returns. {@link #fd()} exposes it for a caller's own {@code epoll}; it is valid
 * until {@code close()} returns, and callers remove it from their epoll set first. Caller segments
 * are used only during the call that receives them; they are held alive for it (an arena closed by
 * another thread meanwhile fails to close, as for any FFM call), but the caller must not unmap the
 * memory behind them. Nothing here assumes userspace reads every frame (the fd can be handed to
 * vhost-net).
 */
public final class Tap implements AutoCloseable {
    /**
     * Size of the virtio-net header in front of every frame.
     *
     * @deprecated use {@link VirtioNetHdr#SIZE}, the one name for the 12-byte header size
     */
    @Deprecated(forRemoval = true)
    public static final int VNET_HDR_SIZE = VirtioNetHdr.SIZE;

    /** Status: nothing to read now, or the queue is full (EAGAIN). */
    public static final long WOULD_BLOCK = Status.WOULD_BLOCK;
    /** Status: the interface is down (EIO on write). */
    public static final long LINK_DOWN = Status.LINK_DOWN;
    /** Status: the kernel refused the frame as malformed (EINVAL). */
    public static final long MALFORMED = Status.MALFORMED;
    /** Status: the device was deleted under this queue (EBADFD, or POLLERR/POLLHUP on a wait). */
    public static final long DEVICE_GONE = Status.DEVICE_GONE;
    /**
     * Status of a read: the frame filled every buffer exactly, so it may have been cut (the kernel
     * drops the rest of a frame silently). The buffers hold as many bytes as they can.
     */
    public static final long POSSIBLY_TRUNCATED = Status.POSSIBLY_TRUNCATED;
    /** Status of a wait: the {@code Tap} was closed while waiting. */
    public static final long CLOSED = Status.CLOSED;
    /** Status of a wait: the thread was interrupted (its interrupt flag stays set). */
    public static final long INTERRUPTED = Status.INTERRUPTED;
    /** Status: the kernel could not allocate memory for the frame, or it is too large (ENOBUFS, ENOMEM). */
    public static final long NO_BUFFER_SPACE = Status.NO_BUFFER_SPACE;
    /** Status: the kernel could not access a buffer (EFAULT). */
    public static final long BAD_ADDRESS = Status.BAD_ADDRESS;
    /** Status of a wait: {@code poll} or nettap's epoll poller failed; nothing was waited for. */
    public static final long WAIT_FAILED = Status.WAIT_FAILED;
    /** Status: another errno; see {@link TapStatistics.Queue#lastErrno()}. */
    public static final long KERNEL_ERROR = Status.KERNEL_ERROR;
    /** Status of a wait: the timeout passed first. */
    public static final long TIMEOUT = Status.TIMEOUT;
    /** Status of a wait: the queue is ready. */
    public static final long READY = Status.READY;

    /** The most segments one read or write accepts: the iovec table preallocated per direction. */
    public static final int MAX_SEGMENTS = Segments.MAX_SEGMENTS;

    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final int fd;
    private final int closeFd;
    private final int[] interruptFds;
    private final String name;
    private final String origin;
    private final TapMode mode;
    private final int previousHdrSize;
    private final Arena arena;
    private final CloseGate gate;
    private final FramePath rx;
    private final FramePath tx;
    private final PlatformWait rxWait;
    private final PlatformWait txWait;
    private final VirtualWait virtualWait;
    private final TapDevice device;
    private final QueueMember member = new QueueMember() { // TapDevice and its parts know queues only as this
        @Override
        public <T> T withFd(QueueMember.FdCall<T> call) throws TapException {
            return Tap.this.withFd(call);
        }

        @Override
        public boolean isClosed() {
            return Tap.this.isClosed();
        }
    };
    private final MemorySegment wakeValue;
    private final java.util.concurrent.CopyOnWriteArrayList<CloseHook> closeHooks =
            new java.util.concurrent.CopyOnWriteArrayList<>();

    private Tap(int fd, int[] eventFds, QueueValidation.Queue q, String origin, Arena arena, TapDevice device) {
        this.fd = fd;
        this.closeFd = eventFds[0];
        this.interruptFds = new int[] {eventFds[1], eventFds[2]};
        this.name = q.name();
        this.origin = origin;
        this.mode = q.mode();
        this.previousHdrSize = q.previousHdrSize();
        this.arena = arena;
        this.gate = new CloseGate("Tap \"" + name + "\" (" + origin + ")");
        this.rx = new FramePath(arena, fd, gate, true);
        this.tx = new FramePath(arena, fd, gate, false);
        this.rxWait = new PlatformWait(arena, gate, true, fd, closeFd, eventFds[1]);
        this.txWait = new PlatformWait(arena, gate, false, fd, closeFd, eventFds[2]);
        this.virtualWait = new VirtualWait(arena, fd, context());
        this.wakeValue = arena.allocateFrom(ValueLayout.JAVA_LONG, 1L);
        this.device = device;
        device.add(member); // last: the device hands out this queue's fd from here on
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
        int[] eventFds = {-1, -1, -1}; // close, read interrupt, write interrupt
        Arena arena = Arena.ofShared();
        TapDevice device = null;
        try {
            QueueValidation.Queue q = QueueValidation.validate(err, fd, handle.expectedMode(), handle.netns(), ctx);
            for (int i = 0; i < eventFds.length; i++) {
                eventFds[i] = PollCalls.eventfd(err, 0, linux_h.EFD_CLOEXEC() | linux_h.EFD_NONBLOCK());
                if (eventFds[i] < 0) {
                    throw TapException.syscall("eventfd", Sys.errno(err), ctx, null);
                }
            }
            // The first queue this process holds of the device turns receive offloads off; later
            // queues leave the device's offloads as they are (see TapDevice).
            device = TapDevice.join(err, fd, q.name(), q.mode(), handle.netns(), ctx);
            return new Tap(fd, eventFds, q, handle.origin(), arena, device);
        } catch (Throwable e) {
            if (device != null) {
                device.leave(null); // joined, but no Tap was made
            }
            FileCalls.close(err, fd);
            for (int efd : eventFds) {
                if (efd >= 0) {
                    FileCalls.close(err, efd);
                }
            }
            arena.close();
            throw e;
        }
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
     * {@value VirtioNetHdr#SIZE}: 10 on a fresh TAP, or whatever another holder of the device set.
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
        if (gate.isClosing()) {
            throw gate.closedError();
        }
        return fd;
    }

    /** {@return whether {@link #close()} was called} */
    public boolean isClosed() {
        return gate.isClosing();
    }

    /**
     * Names a status: {@code "WOULD_BLOCK: nothing to read now, or no room to write (EAGAIN)"}. A
     * constant string, nothing allocated, so a VMM can log statuses on its hot path. 0 and 1 are
     * named as the wait results {@link #TIMEOUT} and {@link #READY}; any other non-negative value is
     * a byte count.
     *
     * @param status a value returned by a frame call or a wait
     * @return its name and meaning
     */
    public static String describe(long status) {
        return Status.describe(status);
    }

    // ---- frames -------------------------------------------------------------------------------

    /**
     * Reads one frame: its header into {@code hdr}, the frame into {@code frame}. Never blocks.
     *
     * @param hdr   native segment of exactly {@value VirtioNetHdr#SIZE} bytes
     * @param frame native segment that receives the frame; size it to 65535 bytes when receive
     *              offloads are on, MTU + 14 otherwise
     * @return the frame's length in bytes (without the header), or {@link #WOULD_BLOCK},
     *         {@link #POSSIBLY_TRUNCATED}, {@link #DEVICE_GONE}, {@link #MALFORMED},
     *         {@link #NO_BUFFER_SPACE}, {@link #BAD_ADDRESS} or {@link #KERNEL_ERROR}
     * @throws IllegalStateException    if this {@code Tap} is closed
     * @throws IllegalArgumentException if a segment is on the heap, closed or read-only, or
     *                                  {@code hdr} has the wrong size
     * @throws java.nio.channels.ReadPendingException if another thread is reading
     */
    public long read(MemorySegment hdr, MemorySegment frame) {
        Segments.checkHeader(hdr, true);
        Segments.checkNative(frame, "frame", -1, true);
        return rx.transfer(hdr, frame, frame.byteSize());
    }

    /**
     * Reads one frame as {@link #read(MemorySegment, MemorySegment)} does, but always returns the
     * length, also when the frame filled {@code frame} exactly: then {@code n == frame.byteSize()},
     * and the frame may have been cut (the kernel drops the rest silently). A caller that wants the
     * distinction compares the length with the buffer's size, or uses
     * {@link #read(MemorySegment, MemorySegment)}, which returns {@link #POSSIBLY_TRUNCATED} for that
     * case. Either way a full read is counted as possibly truncated in {@link #statistics()}.
     *
     * <p>A forwarder whose buffer is larger than any frame the kernel can hand over (65535 bytes
     * plus the Ethernet header with receive offloads on, MTU + 14 without) never sees a full
     * buffer; one with a smaller buffer can still use the length, e.g. to write it on with
     * {@link #write(MemorySegment, MemorySegment, long)}.
     *
     * @param hdr   native segment of exactly {@value VirtioNetHdr#SIZE} bytes
     * @param frame native segment that receives the frame
     * @return the frame's length in bytes (without the header; {@code frame.byteSize()} when the
     *         buffer was filled), or {@link #WOULD_BLOCK}, {@link #DEVICE_GONE}, {@link #MALFORMED},
     *         {@link #NO_BUFFER_SPACE}, {@link #BAD_ADDRESS} or {@link #KERNEL_ERROR}; never
     *         {@link #POSSIBLY_TRUNCATED}
     * @throws IllegalStateException    if this {@code Tap} is closed
     * @throws IllegalArgumentException if a segment is on the heap, closed or read-only, or
     *                                  {@code hdr} has the wrong size
     * @throws java.nio.channels.ReadPendingException if another thread is reading
     */
    public long readLength(MemorySegment hdr, MemorySegment frame) {
        Segments.checkHeader(hdr, true);
        Segments.checkNative(frame, "frame", -1, true);
        return rx.transfer(hdr, frame, frame.byteSize(), true);
    }

    /**
     * Reads one frame scattered over the first {@code count} segments of {@code bufs}, in order,
     * with one {@code readv} whose iovecs point straight at them. Never blocks.
     *
     * @param hdr   native segment of exactly {@value VirtioNetHdr#SIZE} bytes
     * @param bufs  native segments filled in order
     * @param count how many of {@code bufs} to use, 1 to {@value #MAX_SEGMENTS}
     * @return bytes read without the header, or a status as for {@link #read(MemorySegment, MemorySegment)}
     * @throws IllegalStateException    if this {@code Tap} is closed
     * @throws IllegalArgumentException if a segment is on the heap, closed or read-only, {@code hdr}
     *                                  has the wrong size or {@code count} is out of range
     * @throws java.nio.channels.ReadPendingException if another thread is reading
     */
    public long read(MemorySegment hdr, MemorySegment[] bufs, int count) {
        Segments.checkHeader(hdr, true);
        return rx.transfer(hdr, bufs, count); // checks each buffer as it reads it (see FramePath)
    }

    /**
     * Drains up to {@code max} frames in one go (one hold of the reader role): frame {@code i} goes
     * to {@code hdrs[i]} and {@code frames[i]}, and {@code results[i]} receives its length or
     * {@link #POSSIBLY_TRUNCATED}. Stops at the first read that would block; a read that returns
     * another status ends the batch with that status in its {@code results} slot (counted).
     *
     * @param hdrs    native segments of exactly {@value VirtioNetHdr#SIZE} bytes each
     * @param frames  native segments, one per frame
     * @param results receives each frame's result
     * @param max     at most this many frames; no more than any array's length
     * @return how many entries of {@code results} were filled (0 if no frame was ready), or
     *         {@link #DEVICE_GONE} if the device was gone before the first
     * @throws IllegalStateException    if this {@code Tap} is closed
     * @throws IllegalArgumentException if a segment is on the heap, a header has the wrong size or
     *                                  {@code max} exceeds an array
     * @throws java.nio.channels.ReadPendingException if another thread is reading
     */
    public int readBatch(MemorySegment[] hdrs, MemorySegment[] frames, long[] results, int max) {
        if (max < 0 || max > hdrs.length || max > frames.length || max > results.length) {
            throw new IllegalArgumentException("batch of " + max + " does not fit arrays of " + hdrs.length + ", "
                    + frames.length + " and " + results.length);
        }
        for (int i = 0; i < max; i++) {
            Segments.checkHeader(hdrs[i], true);
            Segments.checkNative(frames[i], "frame", i, true);
        }
        return rx.readBatch(hdrs, frames, results, max);
    }

    /**
     * Writes one frame: the header in {@code hdr}, then {@code frame}. Never blocks; the kernel
     * takes the whole frame or none of it (and may still drop it later when its queues are full:
     * see {@link #statistics()}).
     *
     * @param hdr   native segment of exactly {@value VirtioNetHdr#SIZE} bytes
     * @param frame native segment holding the whole frame
     * @return the frame's length in bytes (without the header), or {@link #WOULD_BLOCK},
     *         {@link #LINK_DOWN}, {@link #MALFORMED} (see {@link #explainMalformed}),
     *         {@link #DEVICE_GONE}, {@link #NO_BUFFER_SPACE}, {@link #BAD_ADDRESS} or
     *         {@link #KERNEL_ERROR}
     * @throws IllegalStateException    if this {@code Tap} is closed
     * @throws IllegalArgumentException if a segment is on the heap or closed, or {@code hdr} has the
     *                                  wrong size
     * @throws java.nio.channels.WritePendingException if another thread is writing
     */
    public long write(MemorySegment hdr, MemorySegment frame) {
        Segments.checkHeader(hdr, false);
        Segments.checkNative(frame, "frame", -1, false);
        return tx.transfer(hdr, frame, frame.byteSize());
    }

    /**
     * Writes one frame of {@code length} bytes: the header in {@code hdr}, then the first
     * {@code length} bytes of {@code frame}, with one {@code writev} (no copy, and no slice: a
     * forwarder writes what it read with the length {@link #readLength} returned). Never blocks.
     *
     * @param hdr    native segment of exactly {@value VirtioNetHdr#SIZE} bytes
     * @param frame  native segment whose first {@code length} bytes are the frame
     * @param length the frame's length, 0 to {@code frame.byteSize()}
     * @return the frame's length in bytes (without the header), or a negative status as for
     *         {@link #write(MemorySegment, MemorySegment)}
     * @throws IllegalStateException    if this {@code Tap} is closed
     * @throws IllegalArgumentException if a segment is on the heap or closed, {@code hdr} has the
     *                                  wrong size, or {@code length} is negative or beyond
     *                                  {@code frame} (the message names both)
     * @throws java.nio.channels.WritePendingException if another thread is writing
     */
    public long write(MemorySegment hdr, MemorySegment frame, long length) {
        Segments.checkHeader(hdr, false);
        Segments.checkNative(frame, "frame", -1, false);
        Segments.checkLength(frame, length);
        return tx.transfer(hdr, frame, length);
    }

    /**
     * Writes one frame gathered from the first {@code count} segments of {@code bufs} with one
     * {@code writev} whose iovecs point straight at them (no copy). Never blocks.
     *
     * @param hdr   native segment of exactly {@value VirtioNetHdr#SIZE} bytes
     * @param bufs  native segments, concatenated in order
     * @param count how many of {@code bufs} to use, 1 to {@value #MAX_SEGMENTS}
     * @return bytes written without the header, or a negative status as for
     *         {@link #write(MemorySegment, MemorySegment)}
     * @throws IllegalStateException    if this {@code Tap} is closed
     * @throws IllegalArgumentException if a segment is on the heap or closed, {@code hdr} has the
     *                                  wrong size or {@code count} is out of range
     * @throws java.nio.channels.WritePendingException if another thread is writing
     */
    public long write(MemorySegment hdr, MemorySegment[] bufs, int count) {
        Segments.checkHeader(hdr, false);
        return tx.transfer(hdr, bufs, count); // checks each buffer as it reads it (see FramePath)
    }

    /**
     * Why the kernel may have refused a frame with {@link #MALFORMED}, from the rules it applies
     * (a pure check of the header and the frame's length; no system call).
     *
     * @param mode        the device's mode
     * @param hdr         the {@value #VNET_HDR_SIZE}-byte header that was written (any size is
     *                    accepted: a segment under 10 bytes is named as the broken rule)
     * @param frameLength the frame's length without the header
     * @return the first rule the frame breaks, or a note that none of the known rules applies;
     *         never throws
     */
    public static String explainMalformed(TapMode mode, MemorySegment hdr, long frameLength) {
        return WriteRules.explain(mode, hdr, frameLength);
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
        gate.enter();
        try {
            device.setOffloads(offloads);
        } finally {
            gate.exit();
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
        gate.enter();
        try {
            return device.probeOffloads();
        } finally {
            gate.exit();
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
    <T> T withFd(QueueMember.FdCall<T> call) throws TapException {
        gate.enter();
        try {
            return call.apply(fd);
        } finally {
            gate.exit();
        }
    }

    /**
     * Runs {@code call} with this queue's fd while it is open and adds {@code hook}, told before the
     * fd closes. The gate is held for the call, so a close waits for it and then sees the hook.
     */
    <T> T withFdAndHook(CloseHook hook, QueueMember.FdCall<T> call) throws TapException {
        gate.enter();
        try {
            T r = call.apply(fd);
            closeHooks.add(hook);
            return r;
        } finally {
            gate.exit();
        }
    }

    /** Removes {@code hook} (no effect if absent or already told). */
    void removeCloseHook(CloseHook hook) {
        closeHooks.remove(hook);
    }

    // ---- statistics ---------------------------------------------------------------------------

    /**
     * This queue's own counters (frames, bytes and every status, per direction, kept by nettap on
     * the reading and writing threads; no privilege needed) beside the device's kernel counters
     * where this process can read them. The kernel does not refuse writes it cannot queue: it drops
     * them and counts them, so a backend watches {@code rxDropped}/{@code txDropped} rather than
     * expecting errors.
     *
     * <p>The kernel counters are read from the device's network namespace when this process has
     * {@code CAP_NET_ADMIN} over it (for a macvtap queue: when it was opened with
     * {@link TapHandle#macvtapInNamespace}, which names that namespace); otherwise from this
     * process's own namespace if the device is there (matched by name and hardware address);
     * otherwise they are empty and {@link TapStatistics#kernelSource()} says why. Reading them never delays {@link #close()}
     * (the fd is used only for a few {@code ioctl}s) and starts no thread per call, but it reads
     * {@code /proc}: do not call per packet.
     *
     * @return a snapshot
     * @throws IllegalStateException if this {@code Tap} is closed
     */
    public TapStatistics statistics() {
        KernelCounters.Location where;
        gate.enter();
        try {
            where = KernelCounters.locate(fd, context(), device.isMacvtap(), device.netnsPath());
        } finally {
            gate.exit();
        }
        TapStatistics.Queue reads = rx.snapshot();
        TapStatistics.Queue writes = tx.snapshot();
        KernelCounters.Result k = where.read();
        return new TapStatistics(reads, writes, k.kernel(), k.source());
    }

    // ---- readiness ----------------------------------------------------------------------------

    /**
     * Waits until a frame can be read, the timeout passes, the thread is interrupted, or
     * {@link #close()} is called. A platform thread blocks in {@code poll} (one platform thread
     * waits per direction at a time); a virtual thread parks and is unparked by nettap's poller
     * thread, so its carrier is never pinned (any number of virtual threads may wait at once).
     * Both kinds return {@link #INTERRUPTED} when interrupted before or during the wait, and leave
     * the interrupt flag set.
     *
     * @param timeout how long to wait at most, any {@link Duration}: negative, or longer than about
     *                146 years (e.g. {@code ChronoUnit.FOREVER.getDuration()}), means forever;
     *                rounded up to milliseconds on platform threads
     * @return {@link #READY}, {@link #TIMEOUT}, {@link #CLOSED}, {@link #DEVICE_GONE},
     *         {@link #INTERRUPTED} or {@link #WAIT_FAILED}
     * @throws IllegalStateException if this {@code Tap} was closed before the call
     * @throws java.nio.channels.ReadPendingException if another platform thread is waiting to read
     */
    public long awaitReadable(Duration timeout) {
        return await(true, timeout);
    }

    /**
     * Waits until a frame can be written, the timeout passes, the thread is interrupted, or
     * {@link #close()} is called; as {@link #awaitReadable(Duration)}. The kernel reports a queue
     * whose link is down as not writable (a write would fail with {@link #LINK_DOWN}).
     *
     * @param timeout how long to wait at most, as for {@link #awaitReadable(Duration)}
     * @return {@link #READY}, {@link #TIMEOUT}, {@link #CLOSED}, {@link #DEVICE_GONE},
     *         {@link #INTERRUPTED} or {@link #WAIT_FAILED}
     * @throws IllegalStateException if this {@code Tap} was closed before the call
     * @throws java.nio.channels.WritePendingException if another platform thread is waiting to write
     */
    public long awaitWritable(Duration timeout) {
        return await(false, timeout);
    }

    private long await(boolean readable, Duration timeout) {
        long nanos = Timeouts.nanos(timeout);
        if (Thread.currentThread().isVirtual()) {
            if (gate.isClosing()) {
                throw gate.closedError();
            }
            return virtualWait.await(readable, nanos);
        }
        return (readable ? rxWait : txWait).await(nanos);
    }

    // ---- lifetime -----------------------------------------------------------------------------

    /** How errors name this queue: {@code "vm0" (fd 7)}. */
    private String context() {
        return "\"" + name + "\" (fd " + fd + ")";
    }

    /**
     * Closes the queue: wakes every waiter (they return {@link #CLOSED}), waits for calls in flight
     * to return (they never block), then closes the fd. Idempotent and thread-safe; when it returns,
     * the fd is closed. A non-persistent device disappears once its last queue is closed.
     */
    @Override
    public void close() {
        if (!gate.beginClose()) {
            gate.awaitClosed(); // another thread is closing: return once it is done
            return;
        }
        device.leave(member);
        MemorySegment err = Sys.errnoSlot();
        try {
            // An eventfd stays readable until read: every present and future poll on it returns.
            // SAFETY: wakeValue is an 8-byte segment (8 = its size) of this queue's arena, closed
            // below only after this write; this thread alone closes (beginClose won).
            FileCalls.write(err, closeFd, wakeValue, 8);
            virtualWait.close();
        } finally {
            try {
                gate.awaitQuiescent();
                // No call is in flight and none can start: the hooks are final. Each removes the
                // fd from whatever holds its number before the number is freed.
                for (CloseHook h : closeHooks) {
                    try {
                        h.tapClosing(this, fd);
                    } catch (RuntimeException e) {
                        System.getLogger("dev.nettap").log(System.Logger.Level.WARNING,
                                "nettap: a close hook of " + this + " failed", e);
                    }
                }
                closeHooks.clear();
                FileCalls.close(err, fd);
                FileCalls.close(err, closeFd);
                FileCalls.close(err, interruptFds[0]);
                FileCalls.close(err, interruptFds[1]);
                arena.close();
            } finally {
                gate.markClosed();
            }
        }
    }

    @Override
    public String toString() {
        return "Tap[" + name + ", " + mode + ", " + origin + (isClosed() ? ", closed" : "") + "]";
    }
}
