package dev.nettap.internal.uring;

import dev.nettap.internal.linux.io_uring_params;
import dev.nettap.internal.sys.FileCalls;
import dev.nettap.internal.sys.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * One io_uring instance driven without liburing: {@code io_uring_setup}/{@code io_uring_enter}/
 * {@code io_uring_register} through {@code syscall(2)}, the SQ and CQ rings and the SQE array
 * {@code mmap}-ed and accessed as {@link MemorySegment}s.
 *
 * <p><b>Use.</b> {@code prep*} methods fill one submission queue entry each (returning {@code false}
 * when the SQ is full; nothing is queued then); {@link #submit()} hands every prepared entry to the
 * kernel in one {@code io_uring_enter}; {@link #reap} copies finished completions into a caller-owned
 * {@link Completions} without a system call, and {@link #await} submits and waits in one call. Each
 * request carries a {@code user_data} the caller chooses (any {@code long} but
 * {@link #RESERVED_USER_DATA}); results are the kernel's {@code res}: bytes, or minus an errno
 * (the TAP path maps those to its statuses). Nothing on the submit and reap paths allocates.
 *
 * <p><b>Memory the kernel touches.</b> A request may run after the call that queued it returns, so
 * the memory it names must outlive it; this is enforced here, not left to the caller:
 * <ul>
 * <li>plain reads and writes ({@code READ}, {@code WRITE}, {@code READV}, {@code WRITEV}) accept only
 *     buffers inside {@link #data()} or {@link #bufferData()} (so a forwarder writes a received frame
 *     out of its provided buffer without a copy), regions this ring allocates and frees only after
 *     every request has completed;</li>
 * <li>fixed reads and writes accept only buffers inside the one region given to
 *     {@link #registerBuffer} (for example guest memory): the kernel pins its pages at
 *     registration, so it never writes through an address the caller unmapped since;</li>
 * <li>multishot reads fill buffers of the provided-buffer ring this ring owns
 *     ({@link #setUpBufferRing});</li>
 * <li>iovec tables are this ring's own (one per SQE slot), filled from validated segments; the
 *     kernel copies them at submission ({@code IORING_FEAT_SUBMIT_STABLE}, required).</li>
 * </ul>
 * File descriptors are the caller's: a plain fd must stay open until its requests are submitted
 * (the kernel then holds its own reference); registered files ({@link #registerFiles}) are held by
 * the ring.
 *
 * <p><b>Threads.</b> Confined to the thread that opened it, like {@link Arena#ofConfined()}: every
 * method, {@link #close()} included, throws {@link WrongThreadException} elsewhere. The rings'
 * memory lives in a confined arena, so even a stray reference cannot touch it from another thread.
 *
 * <p><b>Close.</b> {@link #close()} cancels every request in flight ({@code IORING_OP_ASYNC_CANCEL}
 * with {@code IORING_ASYNC_CANCEL_ANY}), waits for all their completions (bounded: 5 s), releases
 * the registered files and buffer (so a TAP queue is detached when close returns, not whenever the
 * kernel's asynchronous ring teardown runs), then closes the ring fd and frees the rings and data. If requests are still in flight after the bound, the
 * memory is deliberately leaked (never freed under the kernel) and the fact is logged.
 */
public final class IoUring implements AutoCloseable {
    /** The one {@code user_data} value callers may not use: this ring's own cancel requests carry it. */
    public static final long RESERVED_USER_DATA = SqePrep.RESERVED_USER_DATA;
    /** Most segments one {@code READV}/{@code WRITEV} request takes. */
    public static final int MAX_SEGMENTS = SqePrep.MAX_SEGMENTS;
    /** SQE flag: {@code file} is an index into the registered files ({@code IOSQE_FIXED_FILE}). */
    public static final int FIXED_FILE = SqePrep.FIXED_FILE;
    /** SQE flag: the next request starts only after this one succeeded ({@code IOSQE_IO_LINK}). */
    public static final int LINK = SqePrep.LINK;
    /** SQE flag: always issue from a kernel worker ({@code IOSQE_ASYNC}). */
    public static final int ASYNC = SqePrep.ASYNC;
    /** Features this engine requires of the kernel. */
    static final int REQUIRED_FEATURES = RingLifecycle.REQUIRED_FEATURES;
    private static final int GETEVENTS = Rings.ENTER_GETEVENTS;
    private static final java.util.concurrent.atomic.AtomicLong LIVE = new java.util.concurrent.atomic.AtomicLong();

    // The jobs live in package-private parts, each called only from here: RingLifecycle (setup,
    // teardown), Rings (the shared rings and io_uring_enter), Registrations (files, fixed region,
    // provided buffers), SqePrep (one SQE per opcode, every address it carries checked).
    private final Thread owner = Thread.currentThread();
    /** Owns everything below (rings via munmap cleanups, iovecs, data, buffer ring); closed last. */
    private final Arena arena;
    private final int ringFd;
    private final int features;
    private final MemorySegment errno;
    private final Rings rings;
    private final Registrations regs;
    private final SqePrep sqes;
    private boolean closed;

    private IoUring(Arena arena, int ringFd, int features, MemorySegment errno, Rings rings, long dataBytes) {
        this.arena = arena;
        this.ringFd = ringFd;
        this.features = features;
        this.errno = errno;
        this.rings = rings;
        regs = new Registrations(arena, errno, ringFd);
        sqes = new SqePrep(arena, rings, regs, dataBytes);
    }

    /**
     * Sets up a ring.
     *
     * @param entries   submission queue size, 1..4096 (the kernel rounds up to a power of two)
     * @param cqEntries completion queue size, 0 for the kernel's default (twice the SQ), else at
     *                  least {@code entries} (rounded up to a power of two)
     * @param dataBytes size of {@link #data()}, the region plain reads and writes may use (0 for none)
     * @return the ring, owned by the calling thread
     * @throws UringException the kernel refused: {@code ENOSYS} (no io_uring), {@code EPERM}
     *                        (forbidden), {@code ENOMEM}, or a required feature is missing
     */
    public static IoUring open(int entries, int cqEntries, long dataBytes) throws UringException {
        RingLifecycle.checkArguments(entries, cqEntries, dataBytes);
        Arena arena = Arena.ofConfined();
        int fd = -1;
        try {
            MemorySegment errno = Sys.newErrnoSlot(arena);
            MemorySegment params = io_uring_params.allocate(arena); // zeroed
            fd = RingLifecycle.setUp(errno, entries, cqEntries, params);
            int features = RingLifecycle.checkFeatures(params);
            IoUring r = new IoUring(arena, fd, features, errno, new Rings(arena, errno, fd, params), dataBytes);
            LIVE.incrementAndGet();
            return r;
        } catch (Throwable t) {
            if (fd >= 0) {
                FileCalls.close(Sys.errnoSlot(), fd);
            }
            arena.close(); // unmaps whatever was mapped; no request was ever submitted
            throw t;
        }
    }

    // ---- accessors ------------------------------------------------------------------------------

    /**
     * {@return rings in this JVM whose memory is not freed yet: open ones, and any a close had to
     * leave allocated because the kernel did not finish in time (a leak diagnostic)}
     */
    public static long liveRings() {
        return LIVE.get();
    }

    /** {@return the ring's fd (for a caller's epoll: readable when completions are waiting)} */
    public int fd() {
        checkOpen();
        return ringFd;
    }

    /** {@return the {@code IORING_FEAT_*} bits the kernel reported} */
    public int features() {
        return features;
    }

    /** {@return the submission queue size} */
    public int sqEntries() {
        return rings.sqEntries;
    }

    /** {@return the completion queue size} */
    public int cqEntries() {
        return rings.cqEntries;
    }

    /**
     * {@return the region plain reads and writes must use: {@code dataBytes} bytes, page-aligned,
     * valid until {@link #close()} (freed only after every request completed), confined to the
     * owner thread}
     */
    public MemorySegment data() {
        checkOpen();
        return sqes.data;
    }

    /** {@return requests the kernel took whose final completion has not been reaped yet} */
    public long inFlight() {
        return rings.inFlight;
    }

    /** {@return prepared requests not yet taken by the kernel} */
    public int pending() {
        return rings.pending();
    }

    /** {@return true while the kernel holds completions that did not fit the CQ ({@code IORING_SQ_CQ_OVERFLOW})} */
    public boolean cqOverflowed() {
        checkOpen();
        return rings.cqOverflowed();
    }

    /** {@return completions the kernel dropped for good (CQ {@code overflow} counter; 0 with NODROP unless out of memory)} */
    public int droppedCompletions() {
        checkOpen();
        return rings.droppedCompletions();
    }

    /** {@return SQEs the kernel dropped as invalid (SQ {@code dropped} counter)} */
    public int droppedSubmissions() {
        checkOpen();
        return rings.droppedSubmissions();
    }

    // ---- registration ---------------------------------------------------------------------------

    /**
     * Registers files ({@code IORING_REGISTER_FILES}): request {@code file} index {@code i} with
     * {@link #FIXED_FILE} means {@code fds[i]}. The ring holds its own reference to each file until
     * {@link #unregisterFiles()} or close. Once per ring at a time.
     *
     * @param fds open file descriptors, 1..4096 of them
     * @throws UringException the kernel refused ({@code EBADF}: an fd is not open; {@code EBUSY}:
     *                        files are registered already)
     */
    public void registerFiles(int... fds) throws UringException {
        checkOpen();
        regs.registerFiles(fds);
    }

    /**
     * Drops the registered files ({@code IORING_UNREGISTER_FILES}); requests in flight keep theirs.
     *
     * @throws UringException the kernel refused
     */
    public void unregisterFiles() throws UringException {
        checkOpen();
        regs.unregisterFiles();
    }

    /**
     * Registers one memory region for fixed reads and writes ({@code IORING_REGISTER_BUFFERS},
     * buffer index 0), for example a guest's memory. The kernel pins its pages until the ring
     * closes: requests never write through a stale address even if the caller frees the region,
     * and {@link #prepReadFixed}/{@link #prepWriteFixed} accept only buffers inside it.
     *
     * @param region native memory, 1 byte to 1 GiB (the kernel's limit per buffer)
     * @throws UringException the kernel refused ({@code ENOMEM}/{@code EFAULT}: pages cannot be
     *                        pinned; {@code EBUSY}: a region is registered already)
     */
    public void registerBuffer(MemorySegment region) throws UringException {
        checkOpen();
        regs.registerBuffer(region);
    }

    /**
     * Sets up a provided-buffer ring ({@code IORING_REGISTER_PBUF_RING}, Linux 5.19+) for multishot
     * reads: {@code count} buffers of {@code size} bytes, owned by this ring, all offered to the
     * kernel. A completion with a buffer ({@link Completions#bufferId}) hands that buffer to the
     * caller, who reads it through {@link #bufferData()} at {@code id * size} and gives it back with
     * {@link #recycleBuffer}. Once per ring.
     *
     * @param group the buffer group id requests name (0..65535)
     * @param count a power of two, 1..32768
     * @param size  bytes per buffer, 1..1 MiB
     * @throws UringException the kernel refused ({@code EINVAL} before 5.19)
     */
    public void setUpBufferRing(int group, int count, int size) throws UringException {
        checkOpen();
        regs.setUpBufferRing(group, count, size);
    }

    /** {@return the provided buffers' memory: buffer {@code id} is at {@code id * bufferSize()}} */
    public MemorySegment bufferData() {
        checkOpen();
        return regs.bufferData();
    }

    /** {@return the size of each provided buffer, 0 without a buffer ring} */
    public int bufferSize() {
        return regs.bufferSize();
    }

    /**
     * Gives provided buffer {@code id} back to the kernel (after its completion was reaped and its
     * bytes consumed).
     *
     * @param id a buffer id a reaped completion carried and not recycled since
     */
    public void recycleBuffer(int id) {
        checkOpen();
        regs.recycleBuffer(id);
    }

    // ---- submission -----------------------------------------------------------------------------

    /**
     * Queues a {@code WRITE} of {@code length} bytes at {@code offset} in {@code buf}.
     *
     * @param file     an fd, or a registered-file index with {@link #FIXED_FILE}
     * @param sqeFlags 0 or {@link #FIXED_FILE}, {@link #LINK}, {@link #ASYNC}
     * @param buf      a segment inside {@link #data()} or {@link #bufferData()}
     * @param offset   where in {@code buf} the bytes start
     * @param length   how many bytes
     * @param userData returned with the completion
     * @return false if the SQ is full (nothing queued)
     */
    public boolean prepWrite(int file, int sqeFlags, MemorySegment buf, long offset, int length, long userData) {
        checkOpen();
        return sqes.write(file, sqeFlags, buf, offset, length, userData);
    }

    /**
     * Queues a {@code READ} of up to {@code length} bytes into {@code buf} at {@code offset}.
     *
     * @param file     an fd, or a registered-file index with {@link #FIXED_FILE}
     * @param sqeFlags 0 or {@link #FIXED_FILE}, {@link #LINK}, {@link #ASYNC}
     * @param buf      a writable segment inside {@link #data()} or {@link #bufferData()}
     * @param offset   where in {@code buf} the bytes go
     * @param length   room in bytes
     * @param userData returned with the completion
     * @return false if the SQ is full (nothing queued)
     */
    public boolean prepRead(int file, int sqeFlags, MemorySegment buf, long offset, int length, long userData) {
        checkOpen();
        return sqes.read(file, sqeFlags, buf, offset, length, userData);
    }

    /**
     * Queues a {@code WRITEV} of {@code count} whole segments.
     *
     * @param file     an fd, or a registered-file index with {@link #FIXED_FILE}
     * @param sqeFlags 0 or {@link #FIXED_FILE}, {@link #LINK}, {@link #ASYNC}
     * @param bufs     segments inside {@link #data()} or {@link #bufferData()}
     * @param count    1..{@link #MAX_SEGMENTS}
     * @param userData returned with the completion
     * @return false if the SQ is full (nothing queued)
     */
    public boolean prepWritev(int file, int sqeFlags, MemorySegment[] bufs, int count, long userData) {
        checkOpen();
        return sqes.writev(file, sqeFlags, bufs, count, userData);
    }

    /**
     * Queues a {@code READV} into {@code count} whole segments.
     *
     * @param file     an fd, or a registered-file index with {@link #FIXED_FILE}
     * @param sqeFlags 0 or {@link #FIXED_FILE}, {@link #LINK}, {@link #ASYNC}
     * @param bufs     writable segments inside {@link #data()} or {@link #bufferData()}
     * @param count    1..{@link #MAX_SEGMENTS}
     * @param userData returned with the completion
     * @return false if the SQ is full (nothing queued)
     */
    public boolean prepReadv(int file, int sqeFlags, MemorySegment[] bufs, int count, long userData) {
        checkOpen();
        return sqes.readv(file, sqeFlags, bufs, count, userData);
    }

    /**
     * Queues a {@code WRITE_FIXED} of {@code length} bytes at {@code offset} in the registered region.
     *
     * @param file     an fd, or a registered-file index with {@link #FIXED_FILE}
     * @param sqeFlags 0 or {@link #FIXED_FILE}, {@link #LINK}, {@link #ASYNC}
     * @param offset   byte offset in the region given to {@link #registerBuffer}
     * @param length   bytes, within the region
     * @param userData returned with the completion
     * @return false if the SQ is full (nothing queued)
     */
    public boolean prepWriteFixed(int file, int sqeFlags, long offset, int length, long userData) {
        checkOpen();
        return sqes.writeFixed(file, sqeFlags, offset, length, userData);
    }

    /**
     * Queues a {@code READ_FIXED} of up to {@code length} bytes at {@code offset} in the registered region.
     *
     * @param file     an fd, or a registered-file index with {@link #FIXED_FILE}
     * @param sqeFlags 0 or {@link #FIXED_FILE}, {@link #LINK}, {@link #ASYNC}
     * @param offset   byte offset in the region given to {@link #registerBuffer}
     * @param length   room in bytes, within the region
     * @param userData returned with the completion
     * @return false if the SQ is full (nothing queued)
     */
    public boolean prepReadFixed(int file, int sqeFlags, long offset, int length, long userData) {
        checkOpen();
        return sqes.readFixed(file, sqeFlags, offset, length, userData);
    }

    /**
     * Queues a one-shot {@code POLL_ADD}: completes with the ready {@code poll} events.
     *
     * @param file     an fd, or a registered-file index with {@link #FIXED_FILE}
     * @param sqeFlags 0 or {@link #FIXED_FILE}, {@link #LINK}, {@link #ASYNC}
     * @param events   {@code POLLIN}, {@code POLLOUT}, ...
     * @param userData returned with the completion
     * @return false if the SQ is full (nothing queued)
     */
    public boolean prepPollAdd(int file, int sqeFlags, int events, long userData) {
        checkOpen();
        return sqes.pollAdd(file, sqeFlags, events, userData);
    }

    /**
     * Queues an {@code ASYNC_CANCEL} of the request carrying {@code target}: its own completion's
     * result is 0 (found and cancelled; the target completes with {@code -ECANCELED}),
     * {@code -ENOENT} (not found) or {@code -EALREADY} (running; it completes on its own).
     *
     * @param target   the user data of the request to cancel
     * @param userData returned with the cancel's own completion
     * @return false if the SQ is full (nothing queued)
     */
    public boolean prepCancel(long target, long userData) {
        checkOpen();
        return sqes.cancel(target, userData);
    }

    /**
     * Queues a multishot {@code READ} ({@code IORING_OP_READ_MULTISHOT}, Linux 6.7+) into the
     * provided-buffer ring: one completion per frame, each with {@link Completions#more} set while
     * the request stays armed. It ends with {@code -ENOBUFS} when every buffer is held by the caller
     * (recycle, then queue it again).
     *
     * @param file     an fd, or a registered-file index with {@link #FIXED_FILE}
     * @param sqeFlags 0 or {@link #FIXED_FILE}
     * @param userData returned with every completion
     * @return false if the SQ is full (nothing queued)
     */
    public boolean prepReadMultishot(int file, int sqeFlags, long userData) {
        checkOpen();
        return sqes.readMultishot(file, sqeFlags, userData);
    }

    /**
     * Hands every prepared request to the kernel in one {@code io_uring_enter}.
     *
     * @return how many the kernel took (0 if it asked to be retried later: {@code EAGAIN},
     *         {@code EBUSY} while completions overflow, {@code EINTR}; reap, then submit again)
     * @throws UringException the ring itself failed (a bug, or the ring is unusable)
     */
    public int submit() throws UringException {
        checkOpen();
        return rings.enter(0, 0, -1);
    }

    /**
     * Submits what is prepared, waits until at least {@code minComplete} completions are ready or
     * {@code timeoutNanos} passed, then reaps into {@code out}.
     *
     * @param out          filled from index 0; {@code out.count()} is the result
     * @param minComplete  completions to wait for (0: do not wait)
     * @param timeoutNanos bound of the wait; negative waits without a bound
     * @return the number of completions in {@code out}
     * @throws UringException the ring itself failed
     */
    public int await(Completions out, int minComplete, long timeoutNanos) throws UringException {
        checkOpen();
        if (minComplete > 0 && rings.cqReady() < minComplete) {
            rings.enter(Math.min(minComplete, rings.cqEntries), GETEVENTS, timeoutNanos);
        } else if (rings.pending() > 0) {
            rings.enter(0, 0, -1);
        }
        return reap(out);
    }

    /**
     * Copies ready completions into {@code out} (up to its capacity) without waiting. Completions
     * the kernel had to hold back because the CQ was full ({@code IORING_SQ_CQ_OVERFLOW}) are flushed
     * into the CQ with an {@code io_uring_enter(GETEVENTS)} and reaped too.
     *
     * @param out filled from index 0
     * @return the number of completions in {@code out}
     * @throws UringException the flush failed
     */
    public int reap(Completions out) throws UringException {
        checkOpen();
        BufferRing buffers = regs.buffers();
        int n = rings.drain(out, 0, RESERVED_USER_DATA, buffers);
        if (n < out.capacity() && rings.cqOverflowed()) {
            rings.enter(0, GETEVENTS, -1);
            n = rings.drain(out, n, RESERVED_USER_DATA, buffers);
        }
        out.count = n;
        return n;
    }

    // ---- close ----------------------------------------------------------------------------------

    /**
     * Throws unless the caller may use this ring now.
     *
     * @throws WrongThreadException  from a thread other than the owner
     * @throws IllegalStateException after {@link #close()}
     */
    public void checkOwner() {
        checkOpen();
    }

    private void checkOpen() {
        if (Thread.currentThread() != owner) {
            throw new WrongThreadException("an IoUring is confined to the thread that opened it (" + owner + ")");
        }
        if (closed) {
            throw new IllegalStateException("io_uring closed");
        }
    }

    /**
     * Cancels every request in flight, waits for all their completions (discarding them), then
     * closes the ring fd and frees the rings, {@link #data()} and the provided buffers. Prepared
     * requests not yet submitted are dropped: they never reach the kernel. Idempotent; owner
     * thread only. If the kernel does not finish within 5 s, the memory stays allocated (leaked on
     * purpose, logged) rather than freed under a running request.
     */
    @Override
    public void close() {
        if (Thread.currentThread() != owner) {
            throw new WrongThreadException("an IoUring is closed by the thread that opened it (" + owner + ")");
        }
        if (closed) {
            return;
        }
        try {
            RingLifecycle.cancelInFlight(rings, sqes, regs.buffers());
        } finally {
            closed = true;
            if (RingLifecycle.release(arena, errno, ringFd, rings, regs)) {
                LIVE.decrementAndGet();
            }
        }
    }
}
