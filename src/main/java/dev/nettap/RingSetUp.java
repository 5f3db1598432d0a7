package dev.nettap;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.FileCalls;
import dev.nettap.internal.sys.PollCalls;
import dev.nettap.internal.sys.Sys;
import dev.nettap.internal.uring.IoUring;
import dev.nettap.internal.uring.UringException;
import dev.nettap.internal.uring.UringProbe;
import dev.nettap.internal.uring.UringSupport;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Objects;

/**
 * The set-up of a {@link TapRing}: the checks of its members and sizes that {@link TapRing#open}
 * makes before anything is acquired (static helpers); then the constructor acquires, in order, the
 * owner's arena, the wake-up eventfd and its shared memory, the io_uring with its data memory, the
 * members' queues as registered files, the guest region as a fixed buffer, and (multishot) the
 * provided-buffer ring; and if any step fails, releases everything acquired before it and throws.
 *
 * <p>Threads: the constructor runs on, and leaves everything owned by, the calling thread (the
 * ring's owner).
 *
 * <p>Invariants: once the constructor returns, every member's queue was registered while its
 * {@code Tap} was open (checked before and after), and the fields hold everything acquired; the
 * caller owns them from then on ({@link #arena}, {@link #ring} and {@link #wake} to close). The
 * object itself is kept by no one.
 */
final class RingSetUp {
    private static final int BUFFER_GROUP = 0;

    /** The owner's arena (the errno slot, the eventfd read buffer): closed last. */
    final Arena arena;
    /** The ring, members registered as files 0..members-1 and the guest region as fixed buffer 0. */
    final IoUring ring;
    /** The wake-up, armed on nothing yet. */
    final RingWake wake;
    /** The ring's own write memory: the asked size rounded up to 64 bytes. */
    final MemorySegment tx;
    /** The receive buffers, back to back (provided buffers in multishot mode). */
    final MemorySegment rxRegion;

    /**
     * {@return the members as an array, after checking their number and that each is there once}
     *
     * @param members the list given to {@link TapRing#open}
     * @param max     most members a ring takes
     * @throws IllegalArgumentException too few or too many, or one given twice
     */
    static Tap[] distinct(List<Tap> members, int max) {
        Tap[] m = members.toArray(new Tap[0]);
        if (m.length < 1 || m.length > max) {
            throw new IllegalArgumentException("a ring takes 1.." + max + " members, not " + m.length);
        }
        IdentityHashMap<Tap, Boolean> seen = new IdentityHashMap<>();
        for (Tap t : m) {
            if (seen.put(Objects.requireNonNull(t, "member"), Boolean.TRUE) != null) {
                throw new IllegalArgumentException("member " + t + " given twice");
            }
        }
        return m;
    }

    /**
     * {@return what this kernel's io_uring offers, probed afresh}
     *
     * @throws TapException {@link TapException.Kind#URING_UNAVAILABLE}: io_uring cannot carry the TAP path here
     */
    static UringSupport usableSupport() throws TapException {
        UringSupport s = UringProbe.probe();
        if (!s.usable()) {
            throw new TapException(TapException.Kind.URING_UNAVAILABLE, null, 0, "io_uring", s.fallbackMessage());
        }
        return s;
    }

    /**
     * Checks that the buffers and the submission queue suit the members and the read mode.
     *
     * @param members   how many members
     * @param entries   submission queue size
     * @param rxBuffers receive buffers
     * @param multishot the read mode
     * @throws IllegalArgumentException readv with fewer buffers than members, or a submission queue
     *                                  without room for a write per buffer, a read per member and the wake-up
     */
    static void checkSizes(int members, int entries, int rxBuffers, boolean multishot) {
        if (!multishot && rxBuffers < members) {
            throw new IllegalArgumentException("ReadMode.READV gives each member its own buffers: rxBuffers ("
                    + rxBuffers + ") must be at least the number of members (" + members + ")");
        }
        if (entries < rxBuffers + members + 1) {
            throw new IllegalArgumentException("entries (" + entries + ") must be at least rxBuffers + members + 1 ("
                    + (rxBuffers + members + 1) + "): a write per held buffer, a read per member and the wake-up");
        }
    }

    /**
     * Sets a ring up, after the checks above.
     *
     * @param members    open queues, distinct
     * @param entries    submission queue size
     * @param rxBuffers  receive buffers
     * @param bufferSize bytes per receive buffer
     * @param txBytes    bytes of write memory asked for
     * @param guest      a native region to register as a fixed buffer, or null
     * @param multishot  whether reads go into provided buffers
     * @throws TapException the eventfd or the ring could not be made, or a registration was refused
     * @throws IllegalStateException a member is closed (or was closed during the set-up)
     */
    RingSetUp(Tap[] members, int entries, int rxBuffers, int bufferSize, long txBytes, MemorySegment guest,
              boolean multishot) throws TapException {
        int n = rxBuffers;
        long rxBytes = multishot ? 0 : (long) n * bufferSize;
        long txSize = (txBytes + 63) & ~63L;
        Arena owned = Arena.ofConfined();
        Arena wakeArena = Arena.ofShared();
        MemorySegment errno = null;
        IoUring r = null;
        int efd = -1;
        try {
            errno = Sys.newErrnoSlot(owned);
            MemorySegment wakeBuf = owned.allocate(8, 8);
            MemorySegment wakeValue = wakeArena.allocateFrom(ValueLayout.JAVA_LONG, 1L);
            efd = PollCalls.eventfd(errno, 0, linux_h.EFD_CLOEXEC() | linux_h.EFD_NONBLOCK());
            if (efd < 0) {
                throw TapException.syscall("eventfd", Sys.errno(errno), "a TapRing's wake-up", null);
            }
            r = IoUring.open(entries, Math.min(65536, Math.max(2 * entries, 4 * n)), txSize + rxBytes);
            int[] fds = new int[members.length];
            for (int i = 0; i < fds.length; i++) {
                fds[i] = members[i].fd(); // throws if closed
            }
            r.registerFiles(fds);
            for (Tap t : members) { // check after: open before and after means the fd was the queue's all along
                if (t.isClosed()) {
                    throw new IllegalStateException("member " + t + " was closed while the ring was being set up");
                }
            }
            if (guest != null) {
                r.registerBuffer(guest);
            }
            MemorySegment data = r.data();
            tx = data.asSlice(0, txSize);
            if (multishot) {
                r.setUpBufferRing(BUFFER_GROUP, n, bufferSize);
                rxRegion = r.bufferData();
            } else {
                rxRegion = data.asSlice(txSize, rxBytes);
            }
            wake = new RingWake(r, efd, errno, wakeBuf, wakeArena, wakeValue);
        } catch (UringException e) {
            cleanUp(owned, wakeArena, errno, r, efd);
            throw new TapException(TapException.Kind.SYSCALL, null, e.errno(), "io_uring", e.getMessage());
        } catch (Throwable t) {
            cleanUp(owned, wakeArena, errno, r, efd);
            throw t;
        }
        arena = owned;
        ring = r;
    }

    private static void cleanUp(Arena owned, Arena wakeArena, MemorySegment errno, IoUring r, int efd) {
        if (r != null) {
            r.close();
        }
        if (efd >= 0) {
            FileCalls.close(errno, efd);
        }
        owned.close();
        wakeArena.close();
    }
}
