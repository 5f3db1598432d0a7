package dev.nettap;

import dev.nettap.internal.linux.epoll_event;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Errno;
import dev.nettap.internal.sys.Sys;
import dev.nettap.internal.sys.PollCalls;
import dev.nettap.internal.sys.FileCalls;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The readiness poller for virtual threads. An FFM downcall pins a virtual thread to its carrier
 * for as long as it runs, so a virtual thread must never block in {@code poll}: it parks instead,
 * and this one daemon platform thread waits in {@code epoll_wait} on every registered fd and tells
 * the fd's {@link Target} when it becomes ready.
 *
 * <p>Each registered fd uses level-triggered {@code EPOLLONESHOT}: a waiter (re)arms it with the
 * directions that have waiters, so an fd that is already ready reports at once (no lost wake-up),
 * and a ready fd nobody waits for does not spin the poller.
 *
 * <p><b>Failures.</b> A target that throws from {@link Target#fired} is told
 * {@link Target#pollerFailed()} (its waiters get an error status) and the poller goes on. If
 * {@code epoll_wait} itself fails (anything but {@code EINTR}) or the loop throws, this poller is
 * dead: every target is told {@link Target#pollerFailed()}, and the next {@link #get()} starts a
 * new poller, with which targets register again on their next wait. No failure leaves a waiter
 * parked with nobody to wake it.
 */
final class Poller {
    /** What the poller reports to: one per registered fd. */
    interface Target {
        /** The fd reported {@code events} (its one-shot registration is now disarmed). */
        void fired(int events);

        /** This poller failed: wake every waiter with an error; register again on the next wait. */
        void pollerFailed();
    }

    private static Poller instance; // guarded by Poller.class
    private static final AtomicLong IDS = new AtomicLong();

    private final int epfd;
    /**
     * The targets by key, sorted (keys only grow, so a new one goes last): copied on every
     * register and deregister, read without a lock by the poller thread, which so finds a target
     * with a binary search over a {@code long[]} and never boxes a key (no allocation per event).
     */
    private record Table(long[] ids, Target[] targets) {}

    private volatile Table table = new Table(new long[0], new Target[0]); // replaced under this
    private volatile boolean dead;

    private Poller(int epfd) {
        this.epfd = epfd;
        Thread.ofPlatform().daemon().name("nettap-poller").start(this::loop);
    }

    /** The live poller, started on first use and again after a failure. */
    static synchronized Poller get() throws TapException {
        if (instance == null || instance.dead) {
            MemorySegment err = Sys.errnoSlot();
            int ep = PollCalls.epollCreate1(err, linux_h.EPOLL_CLOEXEC());
            if (ep < 0) {
                throw TapException.syscall("epoll_create1", Sys.errno(err), "the nettap poller", null);
            }
            instance = new Poller(ep);
        }
        return instance;
    }

    /** A key for {@link #register}; events of that fd carry it. */
    static long newKey() {
        return IDS.incrementAndGet();
    }

    boolean isDead() {
        return dead;
    }

    /** The epoll fd (tests inject a failure by closing it). */
    int epfd() {
        return epfd;
    }

    /** Adds {@code fd}, disarmed (one-shot with no events: even an error reports once only). */
    void register(int fd, long id, Target target, String ctx) throws TapException {
        put(id, target);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ev = event(a, linux_h.EPOLLONESHOT(), id);
            MemorySegment err = Sys.errnoSlot();
            // EEXIST: the fd is in this set already, added by a dead poller's late epoll_ctl on its
            // closed epfd whose number this poller got. Take the entry over (MOD) with this key.
            if (dead || PollCalls.epollCtl(err, epfd, linux_h.EPOLL_CTL_ADD(), fd, ev) < 0
                    && (Sys.errno(err) != linux_h.EEXIST()
                    || PollCalls.epollCtl(err, epfd, linux_h.EPOLL_CTL_MOD(), fd, ev) < 0)) {
                remove(id);
                throw TapException.syscall("epoll_ctl(EPOLL_CTL_ADD)", dead ? linux_h.EBADF() : Sys.errno(err), ctx,
                        dead ? "the poller failed meanwhile" : null);
            }
        }
    }

    /** Arms {@code fd} once with the target's prefilled event {@code ev}; false (errno in {@code errno}) on failure. */
    boolean arm(int fd, MemorySegment ev, MemorySegment errno) {
        // SAFETY: ev is one packed epoll_event in the caller's arena, alive for the call.
        return !dead && PollCalls.epollCtl(errno, epfd, linux_h.EPOLL_CTL_MOD(), fd, ev) == 0;
    }

    /** Removes {@code fd} before it is closed. */
    void deregister(int fd, long id) {
        remove(id);
        if (!dead) { // a dead poller's epfd may be closed, and its number reused
            try (Arena a = Arena.ofConfined()) {
                PollCalls.epollCtl(Sys.errnoSlot(), epfd, linux_h.EPOLL_CTL_DEL(), fd, event(a, 0, id));
            }
        }
    }

    private synchronized void put(long id, Target target) {
        Table t = table;
        int i = Arrays.binarySearch(t.ids(), id);
        if (i >= 0) {
            Target[] ts = t.targets().clone();
            ts[i] = target;
            table = new Table(t.ids(), ts);
            return;
        }
        int at = -i - 1;
        int n = t.ids().length;
        long[] ids = new long[n + 1];
        Target[] ts = new Target[n + 1];
        System.arraycopy(t.ids(), 0, ids, 0, at);
        System.arraycopy(t.targets(), 0, ts, 0, at);
        ids[at] = id;
        ts[at] = target;
        System.arraycopy(t.ids(), at, ids, at + 1, n - at);
        System.arraycopy(t.targets(), at, ts, at + 1, n - at);
        table = new Table(ids, ts);
    }

    private synchronized void remove(long id) {
        Table t = table;
        int i = Arrays.binarySearch(t.ids(), id);
        if (i < 0) {
            return;
        }
        int n = t.ids().length;
        long[] ids = new long[n - 1];
        Target[] ts = new Target[n - 1];
        System.arraycopy(t.ids(), 0, ids, 0, i);
        System.arraycopy(t.targets(), 0, ts, 0, i);
        System.arraycopy(t.ids(), i + 1, ids, i, n - i - 1);
        System.arraycopy(t.targets(), i + 1, ts, i, n - i - 1);
        table = new Table(ids, ts);
    }

    /** The target of {@code id}, or null; lock-free and allocation-free (the poller thread's lookup). */
    private Target find(long id) {
        Table t = table;
        int i = Arrays.binarySearch(t.ids(), id);
        return i >= 0 ? t.targets()[i] : null;
    }

    /** A packed {@code struct epoll_event} with {@code events} and the 64-bit key. */
    static MemorySegment event(Arena arena, int events, long id) {
        MemorySegment ev = epoll_event.allocate(arena);
        epoll_event.events(ev, events);
        // data is at offset 4 (the struct is packed on x86-64): write the u64 unaligned.
        ev.set(ValueLayout.JAVA_LONG_UNALIGNED, epoll_event.data$offset(), id);
        return ev;
    }

    private void loop() {
        int failedErrno = 0;
        Throwable failure = null;
        try {
            final int max = 64;
            MemorySegment events = epoll_event.allocateArray(max, Arena.global()); // lives as long as the thread
            MemorySegment err = Sys.newErrnoSlot(Arena.global());
            long stride = epoll_event.sizeof();
            while (true) {
                int n = PollCalls.epollWait(err, epfd, events, max, -1);
                if (n < 0) {
                    int e = Sys.errno(err);
                    if (e == linux_h.EINTR()) {
                        continue;
                    }
                    failedErrno = e;
                    break;
                }
                for (int i = 0; i < n; i++) {
                    long base = i * stride;
                    int ev = events.get(ValueLayout.JAVA_INT_UNALIGNED, base + epoll_event.events$offset());
                    long id = events.get(ValueLayout.JAVA_LONG_UNALIGNED, base + epoll_event.data$offset());
                    Target t = find(id);
                    if (t != null) {
                        deliver(t, ev);
                    }
                }
            }
        } catch (Throwable t) {
            failure = t;
        } finally {
            die(failedErrno, failure);
        }
    }

    private static void deliver(Target t, int ev) {
        try {
            t.fired(ev);
        } catch (Throwable e) {
            System.getLogger("dev.nettap").log(System.Logger.Level.WARNING,
                    "nettap poller: a wake-up failed; its waiters get WAIT_FAILED", e);
            try {
                t.pollerFailed();
            } catch (Throwable ignored) {
                // nothing more can be done for this target; the poller goes on for the others
            }
        }
    }

    private void die(int errno, Throwable failure) {
        dead = true;
        System.getLogger("dev.nettap").log(System.Logger.Level.WARNING,
                "nettap poller failed (" + (failure != null ? failure.toString() : "epoll_wait: " + Errno.name(errno))
                        + "); waiters get WAIT_FAILED and the next wait starts a new poller");
        Table last;
        synchronized (this) {
            last = table;
            table = new Table(new long[0], new Target[0]);
        }
        for (Target t : last.targets()) {
            try {
                t.pollerFailed();
            } catch (Throwable ignored) {
                // go on: every other target must still be told
            }
        }
        if (errno != linux_h.EBADF()) {
            FileCalls.close(Sys.errnoSlot(), epfd);
        }
    }
}
