package dev.nettap;

import dev.nettap.internal.linux.epoll_event;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.FileCalls;
import dev.nettap.internal.sys.PollCalls;
import dev.nettap.internal.sys.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The wait of a {@link TapSelector}: blocks the selecting thread until the epoll set has something
 * to report, then has the {@link SelectorKeys key table} fill the selector's ready list. A platform
 * thread blocks in {@code epoll_wait}, and {@link Thread#interrupt()} wakes it through an
 * {@link InterruptHook} on the selector's wake eventfd; a virtual thread only polls the set without
 * blocking and otherwise parks on nettap's poller ({@link VirtualWait}), so it never pins its
 * carrier in a blocking downcall.
 *
 * <p><b>Threads.</b> {@link #select(long)} runs on one thread at a time (the selector admits one
 * selecting thread) while that thread holds the selector's close gate; the event array, errno slot,
 * drain buffer, interrupt hook and the ready list are that thread's own. {@link #close()} may run on
 * any thread, once, from the selector's close. The key table's lock is taken only inside
 * {@link SelectorKeys}; nothing here calls back into the selector.
 *
 * <p><b>Invariants.</b> {@code events} holds as many {@code epoll_event}s as the ready list has
 * entries, and {@code epoll_wait} is never asked for more, so every event fits the list. The epoll
 * and wake fds and the selector's arena stay open while the gate is held. Steady state allocates
 * nothing: the only allocation is a new interrupt hook after an interrupt spent the old one.
 */
final class SelectorWait {
    private final int epfd;
    private final int wakeFd;
    private final MemorySegment one;
    private final SelectorKeys keys;
    private final VirtualWait virtualWait;

    // The selecting thread's own.
    private final int[] readyKeys;
    private final int[] readyOps;
    private final int capacity;
    private final MemorySegment events;
    private final MemorySegment waitErrno;
    private final MemorySegment drain;
    private InterruptHook interruptor;

    /**
     * @param epfd      the selector's epoll fd
     * @param wakeFd    the selector's wake eventfd (in the epoll set)
     * @param one       8 bytes holding 1 in {@code arena}
     * @param arena     the selector's arena, closed only after its gate is quiescent
     * @param ctx       the selector, for messages
     * @param keys      the selector's key table
     * @param readyKeys the selector's ready list (keys), written by {@link #select(long)}
     * @param readyOps  its ready operations, as long as {@code readyKeys}
     */
    SelectorWait(int epfd, int wakeFd, MemorySegment one, Arena arena, String ctx, SelectorKeys keys,
                 int[] readyKeys, int[] readyOps) {
        if (readyOps.length != readyKeys.length) {
            throw new IllegalArgumentException("ready lists of " + readyKeys.length + " and " + readyOps.length);
        }
        this.epfd = epfd;
        this.wakeFd = wakeFd;
        this.one = one;
        this.keys = keys;
        this.readyKeys = readyKeys;
        this.readyOps = readyOps;
        this.capacity = readyKeys.length;
        this.events = epoll_event.allocateArray(capacity, arena);
        this.waitErrno = Sys.newErrnoSlot(arena);
        this.drain = arena.allocate(ValueLayout.JAVA_LONG);
        this.virtualWait = new VirtualWait(arena, epfd, ctx);
        this.interruptor = new InterruptHook(wakeFd, one);
    }

    /**
     * Waits as {@link TapSelector#select} describes, by the selecting thread with the gate held.
     *
     * @param nanos how long at most, or {@link Timeouts#FOREVER}
     * @return how many ready entries the ready list now holds (0 or more), or {@link Status#INTERRUPTED},
     *         {@link Status#CLOSED} or {@link Status#WAIT_FAILED} (then the list holds nothing new)
     */
    int select(long nanos) {
        return Thread.currentThread().isVirtual() ? selectVirtual(nanos) : selectPlatform(nanos);
    }

    /** Wakes and refuses virtual threads parked in a select; the selector's close, before its fds close. */
    void close() {
        virtualWait.close();
    }

    private int selectPlatform(long nanos) {
        InterruptHook in = interruptor;
        if (!in.isOpen()) {
            in = interruptor = new InterruptHook(wakeFd, one); // the only allocation, and only after an interrupt
        }
        int n = (int) Status.WAIT_FAILED;
        in.enter();
        try {
            n = epollWait(nanos);
        } finally {
            if (in.leave()) {
                // SAFETY: wakeFd is open while the gate is held; drain is 8 bytes in the selector's arena.
                FileCalls.read(waitErrno, wakeFd, drain, 8); // the interruptor's wake-up
                n = (int) Status.INTERRUPTED;
            }
        }
        return n < 0 ? n : keys.collect(events, n, readyKeys, readyOps);
    }

    private int selectVirtual(long nanos) {
        long deadline = nanos == Timeouts.FOREVER ? 0 : System.nanoTime() + nanos;
        while (true) {
            if (Thread.currentThread().isInterrupted()) {
                return (int) Status.INTERRUPTED;
            }
            int n = epollWait(0); // never blocks: pins the carrier only for the call
            if (n < 0) {
                return n;
            }
            if (n > 0 || keys.hasPending()) {
                return keys.collect(events, n, readyKeys, readyOps);
            }
            long left = nanos == Timeouts.FOREVER ? Timeouts.FOREVER : deadline - System.nanoTime();
            if (left != Timeouts.FOREVER && left <= 0) {
                return 0;
            }
            long w = virtualWait.await(true, left); // parks; the poller reports the epoll fd readable
            if (w == Status.CLOSED || w == Status.INTERRUPTED || w == Status.WAIT_FAILED) {
                return (int) w;
            }
            // READY (or TIMEOUT: the loop's non-blocking epoll_wait settles it)
        }
    }

    /** One {@code epoll_wait} (again after EINTR): the number of events, or WAIT_FAILED. */
    private int epollWait(long nanos) {
        long deadline = nanos == Timeouts.FOREVER ? 0 : System.nanoTime() + nanos;
        while (true) {
            int ms = keys.hasPending() ? 0 : nanos == Timeouts.FOREVER ? -1 : Timeouts.pollMillis(deadline);
            // SAFETY: events holds capacity packed epoll_events in the selector's arena, which closes
            // only after the gate (held by this call) is quiescent; epfd is open while the gate is held.
            int n = PollCalls.epollWait(waitErrno, epfd, events, capacity, ms);
            if (n >= 0) {
                return n;
            }
            if (Sys.errno(waitErrno) != linux_h.EINTR()) {
                return (int) Status.WAIT_FAILED;
            }
        }
    }
}
