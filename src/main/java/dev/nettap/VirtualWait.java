package dev.nettap;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.linux.pollfd;
import dev.nettap.internal.sys.Sys;
import dev.nettap.internal.sys.PollCalls;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.concurrent.locks.LockSupport;

/**
 * How virtual threads wait for one queue: any number of them park, and the {@link Poller} thread
 * unparks them, so no carrier is pinned by a wait. Holds the queue's registration with the poller
 * (made on the first wait, made again after a poller failure) and the parked waiters of each
 * direction.
 *
 * <p>Everything here is guarded by a private lock; {@link #close()} runs before the queue's fd is
 * closed, and after it nothing touches the fd.
 */
final class VirtualWait implements Poller.Target {
    private static final int CLOSED_EVENT = -1;
    private static final int FAILED_EVENT = -2;

    /**
     * A parked virtual thread and what woke it. Reused: a waiter goes back to {@link #spare} once
     * its wait is over, so a wait allocates nothing once as many waiters exist as threads ever
     * waited at once on this queue.
     */
    private static final class Waiter {
        Thread thread; // set and cleared under lock
        volatile int events;
    }

    private final Object lock = new Object();
    private final int fd;
    private final String ctx;
    private final long id = Poller.newKey();
    private final MemorySegment armIn;
    private final MemorySegment armOut;
    private final MemorySegment armBoth;
    private final MemorySegment errno;
    private final MemorySegment probeIn;
    private final MemorySegment probeOut;
    private final ArrayDeque<Waiter> readers = new ArrayDeque<>(); // guarded by lock
    private final ArrayDeque<Waiter> writers = new ArrayDeque<>(); // guarded by lock
    private final ArrayDeque<Waiter> spare = new ArrayDeque<>(); // guarded by lock: waiters not in use
    private Poller poller; // guarded by lock; null until the first wait, or after a poller failure
    private boolean closed; // guarded by lock

    VirtualWait(Arena arena, int fd, String ctx) {
        this.fd = fd;
        this.ctx = ctx;
        // EPOLLPRI: never ready on a tun or macvtap fd, but carried by the wake-up a device's
        // deletion sends, which epoll would drop for an EPOLLOUT-only registration.
        int once = linux_h.EPOLLONESHOT() | linux_h.EPOLLPRI();
        armIn = Poller.event(arena, linux_h.EPOLLIN() | once, id);
        armOut = Poller.event(arena, linux_h.EPOLLOUT() | once, id);
        armBoth = Poller.event(arena, linux_h.EPOLLIN() | linux_h.EPOLLOUT() | once, id);
        errno = Sys.newErrnoSlot(arena);
        probeIn = pollfd.allocate(arena);
        pollfd.fd(probeIn, fd);
        pollfd.events(probeIn, (short) linux_h.POLLIN());
        probeOut = pollfd.allocate(arena);
        pollfd.fd(probeOut, fd);
        pollfd.events(probeOut, (short) linux_h.POLLOUT());
    }

    /** Waits up to {@code nanos} ({@link Timeouts#FOREVER} for no limit); a {@link Status}. */
    long await(boolean readable, long nanos) {
        long deadline = nanos == Timeouts.FOREVER ? 0 : System.nanoTime() + nanos;
        Thread me = Thread.currentThread();
        if (me.isInterrupted()) {
            return Status.INTERRUPTED;
        }
        long now = probe(readable); // poll(fd, 0): never blocks, pins the carrier only for the call
        if (now != Status.TIMEOUT || nanos == 0) {
            return now;
        }
        Waiter w = take(me);
        long added = add(w, readable);
        if (added != Status.READY) {
            give(w);
            return added;
        }
        try {
            while (w.events == 0) {
                if (me.isInterrupted()) {
                    return Status.INTERRUPTED;
                }
                if (nanos == Timeouts.FOREVER) {
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
            remove(w, readable);
        }
        int ev = w.events; // read after removal: an event that raced the deadline is not lost
        give(w);
        if (ev == 0) {
            return Status.TIMEOUT;
        }
        if (ev == CLOSED_EVENT) {
            return Status.CLOSED;
        }
        if (ev == FAILED_EVENT) {
            return Status.WAIT_FAILED;
        }
        return (ev & (linux_h.EPOLLERR() | linux_h.EPOLLHUP())) != 0 ? Status.DEVICE_GONE : Status.READY;
    }

    /** Readiness now, without blocking: READY, DEVICE_GONE, TIMEOUT (not ready) or CLOSED. */
    private long probe(boolean readable) {
        synchronized (lock) {
            if (closed) {
                return Status.CLOSED;
            }
            MemorySegment p = readable ? probeIn : probeOut;
            pollfd.revents(p, (short) 0);
            // SAFETY: the fd is open while this is not closed; p lives in the tap's arena.
            if (PollCalls.poll(errno, p, 1, 0) < 0) {
                return Status.TIMEOUT; // EINTR (or ENOMEM): treat as not ready; the wait that follows decides
            }
            short rev = pollfd.revents(p);
            if ((rev & (linux_h.POLLERR() | linux_h.POLLHUP() | linux_h.POLLNVAL())) != 0) {
                return Status.DEVICE_GONE;
            }
            return rev != 0 ? Status.READY : Status.TIMEOUT;
        }
    }

    /** A spare waiter for {@code me}, or a new one. */
    private Waiter take(Thread me) {
        synchronized (lock) {
            Waiter w = spare.poll();
            if (w == null) {
                w = new Waiter();
            }
            w.thread = me;
            w.events = 0;
            return w;
        }
    }

    /** Returns a waiter no queue holds any more (removed, or woken and polled out under lock). */
    private void give(Waiter w) {
        synchronized (lock) {
            w.thread = null;
            spare.add(w);
        }
    }

    /** Queues {@code w} and arms the fd: READY if it is queued, else CLOSED or WAIT_FAILED. */
    private long add(Waiter w, boolean readable) {
        synchronized (lock) {
            if (closed) {
                return Status.CLOSED;
            }
            if (poller == null || poller.isDead()) {
                try {
                    Poller p = Poller.get();
                    p.register(fd, id, this, ctx);
                    poller = p;
                } catch (TapException e) {
                    poller = null;
                    return Status.WAIT_FAILED;
                }
            }
            (readable ? readers : writers).add(w);
            rearm();
            return Status.READY;
        }
    }

    private void remove(Waiter w, boolean readable) {
        synchronized (lock) {
            (readable ? readers : writers).remove(w);
        }
    }

    @Override
    public void fired(int events) {
        synchronized (lock) {
            boolean error = (events & (linux_h.EPOLLERR() | linux_h.EPOLLHUP())) != 0;
            if (error || (events & linux_h.EPOLLIN()) != 0) {
                wakeAll(readers, events);
            }
            if (error || (events & linux_h.EPOLLOUT()) != 0) {
                wakeAll(writers, events);
            }
            rearm(); // the one-shot registration is disarmed now: re-arm for whoever still waits
        }
    }

    @Override
    public void pollerFailed() {
        synchronized (lock) {
            poller = null; // the next wait registers with a new poller
            wakeAll(readers, FAILED_EVENT);
            wakeAll(writers, FAILED_EVENT);
        }
    }

    /** Wakes every waiter with CLOSED and leaves the poller; runs before the fd is closed. */
    void close() {
        synchronized (lock) {
            closed = true;
            if (poller != null) {
                poller.deregister(fd, id);
                poller = null;
            }
            wakeAll(readers, CLOSED_EVENT);
            wakeAll(writers, CLOSED_EVENT);
        }
    }

    private void rearm() {
        if (closed || poller == null || (readers.isEmpty() && writers.isEmpty())) {
            return;
        }
        MemorySegment ev = writers.isEmpty() ? armIn : readers.isEmpty() ? armOut : armBoth;
        // SAFETY: fd is open while this is not closed (close() runs before the fd is closed), and ev
        // lives in the tap's arena, which closes after close().
        if (!poller.arm(fd, ev, errno)) {
            wakeAll(readers, FAILED_EVENT); // never park a waiter nobody will wake
            wakeAll(writers, FAILED_EVENT);
        }
    }

    private static void wakeAll(ArrayDeque<Waiter> q, int events) {
        for (Waiter w; (w = q.poll()) != null; ) {
            w.events = events;
            LockSupport.unpark(w.thread);
        }
    }
}
