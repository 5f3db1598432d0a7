package dev.nettap;

import dev.nettap.internal.linux.epoll_event;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.FileCalls;
import dev.nettap.internal.sys.PollCalls;
import dev.nettap.internal.sys.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * The key table of a {@link TapSelector}: for each key its {@code Tap}, fd, interest, generation and
 * state, the close reports still to be made, and the {@code epoll_ctl} calls that keep the epoll set
 * in step with the table. It also turns what {@code epoll_wait} returned into the selector's ready
 * list ({@link #collect}), and is the close hook every registered {@code Tap} tells before its fd
 * closes.
 *
 * <p><b>Threads.</b> One private lock guards everything here: the table, the control scratch
 * ({@code ctlEvent}, {@code ctlErrno}, {@code drain}) and whether the fds are closed; every method
 * takes it, so any thread may call any method. The selector holds its close gate around every call
 * but {@link #tap} and {@link #closeFds()} (made once the gate is quiescent), so the epoll and
 * event fds are open during them; the hook runs on the thread closing a member {@code Tap}, and
 * checks {@code fdsClosed} instead. Nothing here calls back into the selector.
 *
 * <p><b>Invariants.</b> A slot is {@code FREE}; or {@code LIVE}: its {@code Tap}'s fd is open (the
 * {@code Tap} tells the hook, which needs the lock, before closing it) and in the epoll set with the
 * slot's key and current generation as its event data; or {@code CLOSED_PENDING}: its {@code Tap}
 * closed, its fd left the epoll set, and the slot is in {@code pendingClosed} exactly once. A slot's
 * generation grows each time it is freed, so an event still on its way for an old registration
 * never matches. {@code pendingClosed} is as long as the table, so a report always fits. Once
 * {@code fdsClosed}, nothing here touches the epoll or event fd.
 */
final class SelectorKeys {
    // Interests and ready operations; TapSelector publishes these values under the same names.
    /** A frame can be read. */
    static final int READABLE = 1;
    /** A frame can be written. */
    static final int WRITABLE = 2;
    /** The device was deleted. */
    static final int GONE = 4;
    /** The {@code Tap} was closed; the key is cancelled. */
    static final int CLOSED = 8;
    /** The wake eventfd's epoll data: never a key's (key < 2^31). */
    static final long WAKE_DATA = -1L;

    private static final long STRIDE = epoll_event.sizeof();
    private static final long EV_EVENTS = epoll_event.events$offset();
    private static final long EV_DATA = epoll_event.data$offset();
    private static final byte FREE = 0;
    private static final byte LIVE = 1;
    private static final byte CLOSED_PENDING = 2;

    private final int epfd;
    private final int wakeFd;
    private final String ctx;
    private final MemorySegment one;
    private final Hook hook = new Hook();

    // Guarded by lock: the key table, the control scratch, and whether the fds are closed.
    private final Object lock = new Object();
    private final MemorySegment ctlEvent;
    private final MemorySegment ctlErrno;
    private final MemorySegment drain;
    private Tap[] taps = new Tap[8];
    private int[] fds = new int[8];
    private int[] interests = new int[8];
    private int[] gens = new int[8];
    private byte[] states = new byte[8];
    private int[] pendingClosed = new int[8];
    private int pendingCount;
    private boolean fdsClosed;

    /**
     * @param epfd   the selector's epoll fd; closed by {@link #closeFds()}
     * @param wakeFd the selector's wake eventfd, in the epoll set with {@link #WAKE_DATA}; closed by
     *               {@link #closeFds()}
     * @param one    8 bytes holding 1 in {@code arena}
     * @param arena  the selector's arena, closed only after {@link #closeFds()}
     * @param ctx    the selector, for messages
     */
    SelectorKeys(int epfd, int wakeFd, MemorySegment one, Arena arena, String ctx) {
        this.epfd = epfd;
        this.wakeFd = wakeFd;
        this.one = one;
        this.ctx = ctx;
        this.ctlEvent = epoll_event.allocate(arena);
        this.ctlErrno = Sys.newErrnoSlot(arena);
        this.drain = arena.allocate(ValueLayout.JAVA_LONG);
    }

    /** Throws {@link IllegalArgumentException} unless {@code interest} is a mix of READABLE and WRITABLE. */
    static void checkInterest(int interest) {
        if ((interest & ~(READABLE | WRITABLE)) != 0) {
            throw new IllegalArgumentException("interest " + interest + " is not a mix of READABLE (1) and WRITABLE (2)");
        }
    }

    /** {@link TapSelector#register}'s work, with the gate held and {@code interest} checked. */
    int register(Tap tap, int interest) throws TapException {
        synchronized (lock) {
            for (int k = 0; k < taps.length; k++) {
                if (taps[k] == tap && states[k] == LIVE) {
                    throw new IllegalArgumentException(tap + " is registered in " + ctx + " already, as key " + k);
                }
            }
            int k = freeSlot();
            int g = gens[k];
            int fd = tap.withFdAndHook(hook, f -> {
                setEvent(interest, k, g);
                // SAFETY: f is open while the tap's gate is held (this call); ctlEvent is guarded by lock.
                if (PollCalls.epollCtl(ctlErrno, epfd, linux_h.EPOLL_CTL_ADD(), f, ctlEvent) < 0) {
                    throw TapException.syscall("epoll_ctl(EPOLL_CTL_ADD)", Sys.errno(ctlErrno), ctx,
                            "registering " + tap);
                }
                return f;
            });
            taps[k] = tap;
            fds[k] = fd;
            interests[k] = interest;
            states[k] = LIVE;
            return k;
        }
    }

    /** {@link TapSelector#interest}'s work, with the gate held and {@code interest} checked. */
    boolean interest(int key, int interest) throws TapException {
        synchronized (lock) {
            if (checkKey(key) != LIVE) {
                return false;
            }
            setEvent(interest, key, gens[key]);
            // SAFETY: a LIVE key's fd is open: its Tap tells the hook (which needs this lock) before closing it.
            if (PollCalls.epollCtl(ctlErrno, epfd, linux_h.EPOLL_CTL_MOD(), fds[key], ctlEvent) < 0) {
                throw TapException.syscall("epoll_ctl(EPOLL_CTL_MOD)", Sys.errno(ctlErrno), ctx, "key " + key);
            }
            interests[key] = interest;
            return true;
        }
    }

    /** {@link TapSelector#cancel}'s work, with the gate held. */
    void cancel(int key) {
        synchronized (lock) {
            byte s = checkKey(key);
            if (s == LIVE) {
                taps[key].removeCloseHook(hook);
                // SAFETY: a LIVE key's fd is open (see interest); ctlEvent is ignored by DEL.
                PollCalls.epollCtl(ctlErrno, epfd, linux_h.EPOLL_CTL_DEL(), fds[key], ctlEvent);
            } else { // its close report is pending: drop it
                for (int i = 0; i < pendingCount; i++) {
                    if (pendingClosed[i] == key) {
                        pendingClosed[i] = pendingClosed[--pendingCount];
                        break;
                    }
                }
            }
            free(key);
        }
    }

    /** {@return the {@code Tap} behind {@code key}, or null if the key is not registered} */
    Tap tap(int key) {
        synchronized (lock) {
            return key >= 0 && key < taps.length ? taps[key] : null;
        }
    }

    /** {@return whether a close report waits (then the selector must not block)} */
    boolean hasPending() {
        synchronized (lock) {
            return pendingCount > 0;
        }
    }

    /**
     * Turns {@code n} epoll events and the pending close reports into the ready list, and resets the
     * wake eventfd if it was among the events; with the gate held, by the selecting thread.
     *
     * @param events    what {@code epoll_wait} filled in: at least {@code n} packed {@code epoll_event}s
     * @param n         how many it returned, at most {@code readyKeys.length}
     * @param readyKeys the ready list's keys, written from index 0
     * @param readyOps  their ready operations, as long as {@code readyKeys}
     * @return how many entries were written
     */
    int collect(MemorySegment events, int n, int[] readyKeys, int[] readyOps) {
        int count = 0;
        synchronized (lock) {
            for (int i = 0; i < n; i++) {
                long at = i * STRIDE; // i < n <= what epoll_wait was allowed to fill: inside events
                long data = events.get(ValueLayout.JAVA_LONG_UNALIGNED, at + EV_DATA);
                int ev = events.get(ValueLayout.JAVA_INT_UNALIGNED, at + EV_EVENTS);
                if (data == WAKE_DATA) {
                    // SAFETY: wakeFd is open while the gate is held; drain is 8 bytes in the selector's arena.
                    FileCalls.read(ctlErrno, wakeFd, drain, 8); // reset the eventfd
                    continue;
                }
                int k = (int) data;
                if (k < 0 || k >= taps.length || gens[k] != (int) (data >>> 32) || states[k] != LIVE) {
                    continue; // cancelled or closed while the event was on its way
                }
                int ops = ((ev & linux_h.EPOLLIN()) != 0 ? READABLE : 0)
                        | ((ev & linux_h.EPOLLOUT()) != 0 ? WRITABLE : 0);
                ops &= interests[k];
                if ((ev & (linux_h.EPOLLERR() | linux_h.EPOLLHUP())) != 0) {
                    ops |= GONE;
                }
                if (ops != 0) {
                    readyKeys[count] = k;
                    readyOps[count++] = ops;
                }
            }
            while (pendingCount > 0 && count < readyKeys.length) {
                int k = pendingClosed[--pendingCount];
                readyKeys[count] = k;
                readyOps[count++] = CLOSED;
                free(k);
            }
        }
        return count;
    }

    /**
     * Detaches from every registered {@code Tap} (they stay open), drops the pending reports and
     * closes the epoll and event fds, all under the lock, so a {@code Tap} closing now finds nothing
     * to do here. Once, by the selector's close, after its gate is quiescent.
     */
    void closeFds() {
        synchronized (lock) {
            for (int k = 0; k < taps.length; k++) {
                if (taps[k] != null) {
                    taps[k].removeCloseHook(hook);
                    taps[k] = null;
                }
            }
            pendingCount = 0;
            fdsClosed = true; // a Tap closing now finds nothing to do here
            MemorySegment err = Sys.errnoSlot();
            FileCalls.close(err, epfd); // removes every registration with it
            FileCalls.close(err, wakeFd);
        }
    }

    // ---- the table (under lock) ----------------------------------------------------------------

    private void setEvent(int interest, int key, int gen) {
        // EPOLLPRI always: tun and macvtap never report it as ready, but the wake-up a device's
        // deletion sends carries it, and epoll drops a wake-up that shares no bit with the
        // registered events. Without it a key registered for 0 (or WRITABLE only) would never
        // see its device's deletion (EPOLLERR is added by epoll itself, on that wake-up).
        int ev = linux_h.EPOLLPRI() | ((interest & READABLE) != 0 ? linux_h.EPOLLIN() : 0)
                | ((interest & WRITABLE) != 0 ? linux_h.EPOLLOUT() : 0);
        epoll_event.events(ctlEvent, ev);
        // data sits at offset 4 of the packed struct: the key in the low half, its generation above
        ctlEvent.set(ValueLayout.JAVA_LONG_UNALIGNED, EV_DATA, ((long) gen << 32) | (key & 0xFFFF_FFFFL));
    }

    private int freeSlot() {
        for (int k = 0; k < states.length; k++) {
            if (states[k] == FREE) {
                return k;
            }
        }
        int k = states.length;
        int size = k * 2;
        taps = Arrays.copyOf(taps, size);
        fds = Arrays.copyOf(fds, size);
        interests = Arrays.copyOf(interests, size);
        gens = Arrays.copyOf(gens, size);
        states = Arrays.copyOf(states, size);
        pendingClosed = Arrays.copyOf(pendingClosed, size);
        return k;
    }

    private void free(int k) {
        taps[k] = null;
        fds[k] = -1;
        states[k] = FREE;
        gens[k]++; // an event still on its way for the old registration no longer matches
    }

    private byte checkKey(int key) {
        if (key < 0 || key >= states.length || states[key] == FREE) {
            throw new IllegalArgumentException("key " + key + " is not registered in " + ctx);
        }
        return states[key];
    }

    /** Told by a registered {@code Tap} before its fd closes. */
    private final class Hook implements CloseHook {
        @Override
        public void tapClosing(Object tap, int fd) {
            synchronized (lock) {
                if (fdsClosed) {
                    return;
                }
                for (int k = 0; k < taps.length; k++) {
                    if (taps[k] == tap && states[k] == LIVE) {
                        // SAFETY: fd is still open (the Tap closes it after this returns); epfd is open (!fdsClosed).
                        PollCalls.epollCtl(ctlErrno, epfd, linux_h.EPOLL_CTL_DEL(), fd, ctlEvent);
                        states[k] = CLOSED_PENDING;
                        pendingClosed[pendingCount++] = k; // pendingClosed is as long as the key table
                        // SAFETY: wakeFd is open while !fdsClosed (closed under this lock).
                        FileCalls.write(ctlErrno, wakeFd, one, 8);
                        return;
                    }
                }
            }
        }
    }
}
