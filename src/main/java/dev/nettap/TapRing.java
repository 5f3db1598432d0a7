package dev.nettap;

import dev.nettap.internal.uring.IoUring;
import dev.nettap.internal.uring.UringException;
import dev.nettap.internal.uring.UringProbe;
import dev.nettap.internal.uring.UringSupport;
import dev.nettap.vnet.VirtioNetHdr;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The io_uring packet path: one ring shared by several {@link Tap} queues, driven by one thread.
 * Writes to any member are queued with {@link #submitWrite} and handed to the kernel together by
 * the next {@link #submit()} or {@link #await}; reads run by themselves; {@link #await} reaps
 * finished reads and writes of every member in one batch into a caller-owned
 * {@link RingCompletions}, with the same statuses as {@link Tap#read}/{@link Tap#write}.
 *
 * <p><b>Reads.</b> On Linux 6.7+ ({@link ReadMode#MULTISHOT}) each member has one multishot read
 * armed into a ring of provided buffers shared by all members: one submission keeps receiving
 * frames, each into whichever buffer the kernel takes next. Elsewhere ({@link ReadMode#READV}) each
 * receive buffer belongs to one member and carries a {@code readv} of header and frame that is
 * submitted again when the buffer comes back. Either way a received frame is handed over in a
 * buffer ({@link RingCompletions#buffer}), read through {@link #rxHeader}/{@link #rxFrame}, and
 * given back with {@link #release} (at once, or after it was written out with
 * {@link #submitWrite}: a forwarder sends a frame from the buffer it arrived in, without a copy).
 * While the caller holds every buffer, reading pauses; it resumes at the next {@link #release}.
 *
 * <p><b>Writes</b> name memory the kernel may read after the call returns, so they accept only
 * memory that outlives every request: this ring's {@link #txMemory()}, its receive buffers, or the
 * guest region registered at {@link #open} ({@link Config#guestMemory()}, pinned by the kernel for
 * the ring's life). A header directly followed by its frame goes out as one {@code WRITE} (from
 * the guest region as {@code WRITE_FIXED}); a header and frame apart as one {@code WRITEV}.
 *
 * <p><b>Members and their fds.</b> The members' queues are registered files: at {@link #open} the
 * ring takes the kernel's own reference to each queue's open file. Closing a member {@code Tap}
 * while the ring is open is allowed and harmless: its fd number closes, but the queue stays
 * attached (and a non-persistent device stays) until this ring closes; the ring never uses a
 * member's fd number after {@link #open}, so an fd reused by someone else is never touched.
 *
 * <p><b>Threads.</b> Confined to the thread that called {@link #open} (it owns the ring's memory,
 * like {@link Arena#ofConfined()}): every method but {@link #wakeup()} throws
 * {@link WrongThreadException} from another thread. {@link #wakeup()} may be called from any thread
 * at any time, even during or after close: it makes a current or the next {@link #await} return.
 * ({@code io_uring_enter} does not return for a thread interrupt; this is how another thread stops
 * the owner.)
 *
 * <p><b>Close.</b> {@link #close()} cancels every request in flight (armed reads, writes not yet
 * done), waits for all their completions, releases the registered queues and guest region, then
 * frees the buffers. When it returns no request can touch memory or a queue any more.
 *
 * <p><b>Availability.</b> {@link #unavailableReason()} says whether io_uring can be used here and,
 * if not, why (absent, forbidden by {@code kernel.io_uring_disabled}/seccomp/an LSM, an opcode
 * missing, or turned off with {@code -Ddev.nettap.uring=off}); {@link #open} then throws a
 * {@link TapException} of kind {@link TapException.Kind#URING_UNAVAILABLE}, and the caller uses the
 * {@code readv}/{@code writev} path ({@link UringForwarder} does so by itself).
 */
public final class TapRing implements AutoCloseable {
    /** Largest user data a write may carry: 48 bits (the ring keeps the member and kind in the rest). */
    public static final long MAX_USER_DATA = RingUserData.PAYLOAD; // (1L << 48) - 1
    /** Most members one ring takes. */
    public static final int MAX_MEMBERS = 4096;

    /** How reads are issued. */
    public enum ReadMode {
        /** Multishot reads where the kernel has them (Linux 6.7+), else {@code readv}. */
        AUTO,
        /** One multishot read per member into shared provided buffers ({@code IORING_OP_READ_MULTISHOT}). */
        MULTISHOT,
        /** One {@code readv} per receive buffer, submitted again as each buffer comes back. */
        READV
    }

    /**
     * How a ring is sized.
     *
     * @param entries      submission queue size, 1..4096 (at least every buffer plus every member
     *                     plus one, so a write per held buffer always fits: see {@link #defaults})
     * @param rxBuffers    receive buffers, a power of two 1..32768
     * @param rxBufferSize bytes per receive buffer, header included: {@value VirtioNetHdr#SIZE} +
     *                     65535 (plus headroom) with receive offloads on, 12 + 14 + MTU without
     * @param txBytes      size of {@link #txMemory()}, 0..1 GiB
     * @param readMode     how reads are issued
     * @param guestMemory  a native region writes may come from as registered (fixed) buffers, or null
     */
    public record Config(int entries, int rxBuffers, int rxBufferSize, long txBytes, ReadMode readMode,
                         MemorySegment guestMemory) {
        /**
         * Checks the ranges.
         *
         * @param entries      submission queue size
         * @param rxBuffers    receive buffers
         * @param rxBufferSize bytes per receive buffer
         * @param txBytes      size of the ring's own write memory
         * @param readMode     how reads are issued
         * @param guestMemory  the guest region, or null
         */
        public Config {
            if (entries < 1 || entries > 4096) {
                throw new IllegalArgumentException("entries must be 1..4096, is " + entries);
            }
            if (rxBuffers < 1 || rxBuffers > 32768 || Integer.bitCount(rxBuffers) != 1) {
                throw new IllegalArgumentException("rxBuffers must be a power of two 1..32768, is " + rxBuffers);
            }
            if (rxBufferSize <= VirtioNetHdr.SIZE + 14 || rxBufferSize > (1 << 20)) {
                throw new IllegalArgumentException("rxBufferSize must be " + (VirtioNetHdr.SIZE + 15) + "..1048576, is "
                        + rxBufferSize);
            }
            if (txBytes < 0 || txBytes > (1L << 30)) {
                throw new IllegalArgumentException("txBytes must be 0..1 GiB, is " + txBytes);
            }
            Objects.requireNonNull(readMode, "readMode");
            if (guestMemory != null && (!guestMemory.isNative() || guestMemory.byteSize() == 0)) {
                throw new IllegalArgumentException("guestMemory must be a non-empty native segment: " + guestMemory);
            }
        }

        /**
         * {@return a configuration for {@code members} queues: {@code rxBuffers} buffers of
         * {@code rxBufferSize} bytes, a submission queue with room for a write per buffer, 64 KiB
         * of {@link #txMemory()}, {@link ReadMode#AUTO}, no guest region}
         *
         * @param members      how many queues the ring will hold
         * @param rxBuffers    a power of two
         * @param rxBufferSize bytes per buffer, header included
         */
        public static Config defaults(int members, int rxBuffers, int rxBufferSize) {
            return new Config(Math.min(4096, rxBuffers + members + 2), rxBuffers, rxBufferSize, 65536, ReadMode.AUTO, null);
        }

        /**
         * {@return this configuration with another read mode}
         *
         * @param mode the mode
         */
        public Config withReadMode(ReadMode mode) {
            return new Config(entries, rxBuffers, rxBufferSize, txBytes, mode, guestMemory);
        }

        /**
         * {@return this configuration with a guest region for fixed-buffer writes}
         *
         * @param region native memory
         */
        public Config withGuestMemory(MemorySegment region) {
            return new Config(entries, rxBuffers, rxBufferSize, txBytes, readMode, region);
        }

        /**
         * {@return this configuration with another submission queue size}
         *
         * @param n 1..4096
         */
        public Config withEntries(int n) {
            return new Config(n, rxBuffers, rxBufferSize, txBytes, readMode, guestMemory);
        }
    }

    // This class checks the owner and delegates: RingSetUp checks and acquires, RingReceive reads, RingWrites
    // checks and queues writes, RingReaper turns completions into RingCompletions, RingWake wakes up and closes.
    private final Thread owner = Thread.currentThread();
    private final IoUring ring;
    private final Tap[] members;
    private final Arena arena;                   // owner-confined: errno slot, eventfd read buffer; closed last
    private final MemorySegment tx;
    private final MemorySegment[] rxHeaders;     // the receive side's preallocated slices, read here without a hop
    private final MemorySegment[] rxFrames;
    private final RingReceive rx;
    private final RingWrites writes;
    private final RingWake wake;
    private final RingReaper reaper;

    /**
     * {@return empty when io_uring can carry the TAP path here, else why not (one line, as logged
     * when falling back): absent, forbidden, an opcode or feature missing, or turned off}
     * Probes afresh on every call (a two-entry ring is set up and closed).
     */
    public static Optional<String> unavailableReason() {
        UringSupport s = UringProbe.probe();
        return s.usable() ? Optional.empty() : Optional.of(s.fallbackMessage());
    }

    /**
     * {@return true if this kernel can issue multishot reads into provided buffers (Linux 6.7+)}
     * False, too, where io_uring cannot be used at all.
     */
    public static boolean multishotSupported() {
        return UringProbe.probe().multishotRead();
    }

    /**
     * Opens a ring over {@code members} (their order gives their indices) and starts reading from
     * every one. The calling thread owns the ring.
     *
     * @param members open queues, 1..{@value #MAX_MEMBERS}, each once
     * @param config  sizes and read mode
     * @return the ring
     * @throws TapException {@link TapException.Kind#URING_UNAVAILABLE} (the message says why, as
     *                      {@link #unavailableReason()}), or {@link TapException.Kind#SYSCALL} when
     *                      the kernel refused a ring of this size or a registration
     * @throws IllegalArgumentException a member is given twice, or {@link ReadMode#MULTISHOT} is
     *                      asked of a kernel without it
     * @throws IllegalStateException a member is closed (or was closed while the ring was set up)
     */
    public static TapRing open(List<Tap> members, Config config) throws TapException {
        Platform.requireLinux();
        Objects.requireNonNull(config, "config");
        Tap[] m = RingSetUp.distinct(members, MAX_MEMBERS);
        UringSupport s = RingSetUp.usableSupport();
        boolean multishot = switch (config.readMode()) {
            case AUTO -> s.multishotRead();
            case READV -> false;
            case MULTISHOT -> {
                if (!s.multishotRead()) {
                    throw new IllegalArgumentException("ReadMode.MULTISHOT: this kernel has no multishot read "
                            + "(IORING_OP_READ_MULTISHOT, Linux 6.7+; " + s.detail() + ")");
                }
                yield true;
            }
        };
        RingSetUp.checkSizes(m.length, config.entries(), config.rxBuffers(), multishot);
        return new TapRing(m, config, multishot);
    }

    private TapRing(Tap[] members, Config c, boolean multishot) throws TapException {
        this.members = members;
        RingSetUp s = new RingSetUp(members, c.entries(), c.rxBuffers(), c.rxBufferSize(), c.txBytes(),
                c.guestMemory(), multishot);
        ring = s.ring;
        arena = s.arena;
        wake = s.wake;
        tx = s.tx;
        try {
            rx = new RingReceive(ring, members.length, multishot, s.rxRegion, c.rxBuffers(), c.rxBufferSize());
            rxHeaders = rx.headers;
            rxFrames = rx.frames;
            writes = new RingWrites(ring, members.length, tx, s.rxRegion, c.guestMemory());
            reaper = new RingReaper(ring, rx, wake);
            rx.queueReads();
            wake.arm();
            submit();
        } catch (Throwable t) {
            close(); // the ring exists but its first reads could not be armed: free it all
            throw t;
        }
    }

    // ---- accessors -----------------------------------------------------------------------------

    /** {@return how reads are issued: {@link ReadMode#MULTISHOT} or {@link ReadMode#READV}} */
    public ReadMode readMode() {
        return rx.multishot ? ReadMode.MULTISHOT : ReadMode.READV;
    }

    /** {@return how many member queues} */
    public int members() {
        return members.length;
    }

    /**
     * {@return member {@code i}}
     *
     * @param i its index in the list given to {@link #open}
     */
    public Tap member(int i) {
        return members[i];
    }

    /** {@return the number of receive buffers} */
    public int rxBuffers() {
        return rxHeaders.length;
    }

    /**
     * {@return memory of this ring that writes may come from: {@link Config#txBytes()} bytes,
     * valid until {@link #close()}, owner thread only}
     */
    public MemorySegment txMemory() {
        ring.checkOwner();
        return tx;
    }

    /**
     * {@return the virtio-net header of receive buffer {@code buffer} ({@value VirtioNetHdr#SIZE}
     * bytes; a preallocated slice, no allocation)}
     *
     * @param buffer a buffer id from {@link RingCompletions#buffer}
     */
    public MemorySegment rxHeader(int buffer) {
        ring.checkOwner();
        return rxHeaders[buffer];
    }

    /**
     * {@return the frame area of receive buffer {@code buffer} (its whole capacity; the frame is
     * the first {@link RingCompletions#status} bytes; a preallocated slice)}
     *
     * @param buffer a buffer id from {@link RingCompletions#buffer}
     */
    public MemorySegment rxFrame(int buffer) {
        ring.checkOwner();
        return rxFrames[buffer];
    }

    // ---- writes ----------------------------------------------------------------------------------

    /**
     * Queues a write of a header and {@code length} bytes of {@code frame} to member
     * {@code member}; it reaches the kernel with the next {@link #submit()} or {@link #await}, and
     * its result comes back in a {@link RingCompletions} entry carrying {@code userData}. Both
     * segments must lie in {@link #txMemory()}, a receive buffer, or the registered guest region;
     * their bytes must stay as they are until the write's completion. Nothing is allocated when the
     * header is directly followed by the frame (one {@code WRITE}, or {@code WRITE_FIXED} from the
     * guest region); a header and frame apart go out as one {@code WRITEV} (a slice of the frame is
     * made when {@code length} is less than its size).
     *
     * @param member   the member's index
     * @param hdr      exactly {@value VirtioNetHdr#SIZE} bytes
     * @param frame    the frame's memory
     * @param length   bytes of {@code frame} to send, 0..its size
     * @param userData 0..{@link #MAX_USER_DATA}, returned with the completion
     * @return false if the submission queue is full (nothing queued: submit or await, then retry)
     * @throws IllegalArgumentException bad sizes, memory the ring does not accept, or a guest-region
     *                                  header that is not directly followed by its frame
     */
    public boolean submitWrite(int member, MemorySegment hdr, MemorySegment frame, long length, long userData) {
        ring.checkOwner();
        return writes.submit(member, hdr, frame, length, userData);
    }

    /**
     * Hands every queued write (and re-armed read) to the kernel in one {@code io_uring_enter}.
     *
     * @return how many requests the kernel took
     * @throws UncheckedIOException the ring itself failed (a bug, or the ring is unusable)
     */
    public int submit() {
        try {
            return ring.submit();
        } catch (UringException e) {
            throw new UncheckedIOException(e);
        }
    }

    // ---- completions -----------------------------------------------------------------------------

    /**
     * Submits what is queued, waits until at least one read or write finished, {@link #wakeup()}
     * was called, or {@code timeoutNanos} passed, and copies every finished one (up to
     * {@code out}'s capacity) into {@code out}. Allocates nothing.
     *
     * @param out          filled from index 0
     * @param timeoutNanos 0: do not wait; negative: no bound
     * @return the number of entries in {@code out}
     * @throws UncheckedIOException the ring itself failed
     */
    public int await(RingCompletions out, long timeoutNanos) {
        return reaper.await(out, timeoutNanos);
    }

    /**
     * Gives receive buffer {@code buffer} back for the next frame, once its frame was consumed (or
     * its write from the buffer completed).
     *
     * @param buffer an id a read entry handed over and not released since
     * @throws IllegalArgumentException the caller does not hold that buffer
     */
    public void release(int buffer) {
        ring.checkOwner();
        rx.release(buffer);
    }

    // ---- lifetime --------------------------------------------------------------------------------

    /**
     * Makes the owner's current {@link #await} return (or its next one, at once). Any thread, any
     * time; does nothing once the ring is closed.
     */
    public void wakeup() {
        wake.wakeup();
    }

    /** Test hook: the kernel holds completions the CQ had no room for. */
    boolean cqOverflowed() {
        return ring.cqOverflowed();
    }

    /** Test hook: requests the kernel took whose last completion was not reaped yet. */
    long inFlight() {
        return ring.inFlight();
    }

    /** {@return whether {@link #close()} was called} */
    public boolean isClosed() {
        return wake.isClosed();
    }

    /**
     * Cancels every request in flight, waits for their completions, releases the registered queues
     * and guest region, then frees the buffers and closes the wake-up eventfd. Frames in buffers the
     * caller still holds are gone. Idempotent; owner thread only.
     */
    @Override
    public void close() {
        if (Thread.currentThread() != owner) {
            throw new WrongThreadException("a TapRing is closed by the thread that opened it (" + owner + ")");
        }
        // ORDERING: closed is set under wakeup()'s lock before anything is freed, and the eventfd is closed under it
        // after: a concurrent wakeup() writes to the open eventfd or not at all.
        if (!wake.markClosed()) {
            return;
        }
        try {
            ring.close(); // cancels, waits for every completion, unregisters, unmaps
        } finally {
            wake.close(); // the eventfd and the memory wakeup() writes, under wakeup()'s lock
            arena.close();
        }
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("TapRing[").append(readMode()).append(", ");
        for (int i = 0; i < members.length; i++) {
            b.append(i == 0 ? "" : " ").append(members[i].name());
        }
        return b.append(wake.isClosed() ? ", closed]" : "]").toString();
    }
}
