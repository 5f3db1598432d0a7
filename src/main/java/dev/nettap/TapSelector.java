package dev.nettap;

import dev.nettap.internal.linux.epoll_event;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.FileCalls;
import dev.nettap.internal.sys.PollCalls;
import dev.nettap.internal.sys.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;

/**
 * Waits for the first of several {@link Tap}s (queues of one device or of several) to become
 * readable or writable: an {@code epoll} set in the spirit of {@link java.nio.channels.Selector},
 * so one thread can serve many queues without spinning and without its own native access.
 *
 * <pre>{@code
 * try (TapSelector sel = TapSelector.open()) {
 *     int ka = sel.register(a, TapSelector.READABLE);
 *     int kb = sel.register(b, TapSelector.READABLE);
 *     while (running) {
 *         int n = sel.select(timeout);            // n ready, 0, or a negative status
 *         for (int i = 0; i < n; i++) {
 *             int key = sel.readyKey(i), ops = sel.readyOps(i);
 *             ...                                 // read from the Tap behind key until WOULD_BLOCK
 *         }
 *     }
 * }
 * }</pre>
 *
 * <p><b>Keys.</b> {@link #register(Tap, int)} returns a small non-negative {@code int} key, unique
 * among this selector's registrations; a key is reused only after it was cancelled (by
 * {@link #cancel(int)}, or by reporting its {@code Tap}'s close). A {@code Tap} may be registered
 * once per selector, and in any number of selectors.
 *
 * <p><b>Readiness.</b> {@link #select(Duration)} blocks until at least one key is ready, the timeout
 * passes, {@link #wakeup()} is called, or the thread is interrupted, and returns how many keys are
 * ready; {@link #readyKey(int)} and {@link #readyOps(int)} then name them (at most
 * {@value #MAX_READY} per call; the rest stay ready for the next call). The ready list is this
 * selector's own preallocated memory: a steady-state select allocates nothing. Readiness is
 * level-triggered: a queue stays ready until it is drained (read until {@link Tap#WOULD_BLOCK}), so
 * a caller may serve a bounded number of frames per queue and select again without losing any.
 * The ready operations are {@link #READABLE} and {@link #WRITABLE} (as registered), {@link #GONE}
 * (the device was deleted: the queue's reads and writes now return {@link Tap#DEVICE_GONE}; it is
 * reported on every select until the key is cancelled) and {@link #CLOSED}.
 *
 * <p><b>A member closed.</b> Closing a registered {@code Tap} (from any thread, at any time)
 * removes its fd from the epoll set <em>before</em> the fd is closed, so a number the process
 * reuses can never alias a stale registration; the selector is woken and reports that key once with
 * {@link #CLOSED}, and the key is cancelled by that report.
 *
 * <p><b>Statuses.</b> {@code select} returns the number of ready keys (0 when the timeout passed,
 * after a {@link #wakeup()}, or when nothing was left to report), or a negative status:
 * {@link Tap#CLOSED} (this selector was closed, before or during the call), {@link Tap#INTERRUPTED}
 * (the thread was interrupted before or during the wait; its interrupt flag stays set, and no key
 * is reported: the ready ones stay ready) or {@link Tap#WAIT_FAILED} ({@code epoll_wait} failed, or
 * nettap's poller for virtual threads did; nothing was waited for). {@link Tap#describe(long)}
 * names them.
 *
 * <p><b>Threads.</b> One thread selects at a time (a second concurrent {@code select} throws
 * {@link IllegalStateException} at once). {@link #register}, {@link #interest}, {@link #cancel},
 * {@link #tap}, {@link #wakeup()} and {@link #close()} may be called from any thread at any time,
 * also while another thread selects; a registration made during a select counts from the next one
 * (or from this one, if the kernel reports it in time). A <em>platform</em> thread blocks in
 * {@code epoll_wait}; {@link Thread#interrupt()} wakes it. A <em>virtual</em> thread never blocks in
 * a downcall (that would pin its carrier): it polls the set without blocking, and otherwise parks
 * until nettap's poller thread reports the epoll fd itself readable, so any number of virtual
 * threads can each select on their own selector. Platform threads are cheaper per wake (one
 * {@code epoll_wait} instead of a poller round trip): a forwarding loop belongs on one.
 *
 * <p><b>Close.</b> {@link #close()} wakes a thread in {@code select} (it returns
 * {@link Tap#CLOSED}), waits for calls in flight, detaches from every registered {@code Tap} (they
 * stay open: a selector never closes a {@code Tap}), and closes its epoll and event fds. Idempotent;
 * every later call except {@code wakeup()}, {@code isOpen()} and {@code close()} throws
 * {@link IllegalStateException}.
 */
public final class TapSelector implements AutoCloseable {
    /** Interest and ready operation: a frame can be read. */
    public static final int READABLE = 1;
    /** Interest and ready operation: a frame can be written. */
    public static final int WRITABLE = 2;
    /** Ready operation (always reported, never registered): the device was deleted. */
    public static final int GONE = 4;
    /** Ready operation (always reported, never registered): the {@code Tap} was closed; the key is cancelled. */
    public static final int CLOSED = 8;
    /** The most keys one {@link #select(Duration)} reports. */
    public static final int MAX_READY = 64;

    private static final long WAKE_DATA = -1L; // the wake eventfd's epoll data: never a key's (key < 2^31)
    private static final long STRIDE = epoll_event.sizeof();
    private static final long EV_EVENTS = epoll_event.events$offset();
    private static final long EV_DATA = epoll_event.data$offset();
    private static final byte FREE = 0;
    private static final byte LIVE = 1;
    private static final byte CLOSED_PENDING = 2;
    private static final VarHandle SELECTING;

    static {
        try {
            SELECTING = MethodHandles.lookup().findVarHandle(TapSelector.class, "selecting", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final int epfd;
    private final int wakeFd;
    private final String ctx;
    private final Arena arena;
    private final CloseGate gate;
    private final VirtualWait virtualWait;
    private final Hook hook = new Hook();
    private final MemorySegment one;

    // The selecting thread's own (one at a time, by SELECTING).
    @SuppressWarnings("unused") // through SELECTING
    private volatile boolean selecting;
    private final MemorySegment events;
    private final MemorySegment waitErrno;
    private final MemorySegment drain;
    private final int[] readyKeys = new int[MAX_READY];
    private final int[] readyOps = new int[MAX_READY];
    private int readyCount;
    private InterruptHook interruptor;

    // Guarded by lock: the key table, the control scratch, and whether the fds are closed.
    private final Object lock = new Object();
    private final MemorySegment ctlEvent;
    private final MemorySegment ctlErrno;
    private Tap[] taps = new Tap[8];
    private int[] fds = new int[8];
    private int[] interests = new int[8];
    private int[] gens = new int[8];
    private byte[] states = new byte[8];
    private int[] pendingClosed = new int[8];
    private int pendingCount;
    private boolean fdsClosed;

    private TapSelector(int epfd, int wakeFd, Arena arena) {
        this.epfd = epfd;
        this.wakeFd = wakeFd;
        this.arena = arena;
        this.ctx = "TapSelector (epoll fd " + epfd + ")";
        this.gate = new CloseGate(ctx);
        this.events = epoll_event.allocateArray(MAX_READY, arena);
        this.waitErrno = Sys.newErrnoSlot(arena);
        this.drain = arena.allocate(ValueLayout.JAVA_LONG);
        this.one = arena.allocateFrom(ValueLayout.JAVA_LONG, 1L);
        this.ctlEvent = epoll_event.allocate(arena);
        this.ctlErrno = Sys.newErrnoSlot(arena);
        this.virtualWait = new VirtualWait(arena, epfd, ctx);
        this.interruptor = new InterruptHook(wakeFd, one);
    }

    /**
     * Opens an empty selector: one epoll fd and one eventfd (for {@link #wakeup()}), both
     * close-on-exec, until {@link #close()}.
     *
     * @return the selector
     * @throws TapException if {@code epoll_create1}, {@code eventfd} or {@code epoll_ctl} fails
     *                      (e.g. {@code EMFILE})
     */
    public static TapSelector open() throws TapException {
        Platform.requireLinux();
        MemorySegment err = Sys.errnoSlot();
        int ep = PollCalls.epollCreate1(err, linux_h.EPOLL_CLOEXEC());
        if (ep < 0) {
            throw TapException.syscall("epoll_create1", Sys.errno(err), "a new TapSelector", null);
        }
        int wake = PollCalls.eventfd(err, 0, linux_h.EFD_CLOEXEC() | linux_h.EFD_NONBLOCK());
        if (wake < 0) {
            int e = Sys.errno(err);
            FileCalls.close(err, ep);
            throw TapException.syscall("eventfd", e, "a new TapSelector", null);
        }
        Arena arena = Arena.ofShared();
        try {
            MemorySegment ev = Poller.event(arena, linux_h.EPOLLIN(), WAKE_DATA);
            // SAFETY: ev is one packed epoll_event in arena, alive for the call; both fds are ours.
            if (PollCalls.epollCtl(err, ep, linux_h.EPOLL_CTL_ADD(), wake, ev) < 0) {
                throw TapException.syscall("epoll_ctl(EPOLL_CTL_ADD)", Sys.errno(err), "a new TapSelector's eventfd", null);
            }
            return new TapSelector(ep, wake, arena);
        } catch (Throwable t) {
            FileCalls.close(err, ep);
            FileCalls.close(err, wake);
            arena.close();
            throw t;
        }
    }

    /**
     * Adds {@code tap} with the given interest.
     *
     * @param tap      an open {@code Tap}, not yet registered here
     * @param interest {@link #READABLE}, {@link #WRITABLE}, both, or 0 (then only {@link #GONE} and
     *                 {@link #CLOSED} are reported)
     * @return its key, a small non-negative number
     * @throws IllegalArgumentException if {@code interest} has other bits, or {@code tap} is
     *                                  registered here already
     * @throws IllegalStateException    if this selector or {@code tap} is closed
     * @throws TapException             if {@code epoll_ctl} fails (e.g. {@code ENOMEM}, or
     *                                  {@code ENOSPC} beyond {@code max_user_watches})
     */
    public int register(Tap tap, int interest) throws TapException {
        Objects.requireNonNull(tap, "tap");
        checkInterest(interest);
        gate.enter();
        try {
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
        } finally {
            gate.exit();
        }
    }

    /**
     * Changes what a key waits for; allocation-free, any thread.
     *
     * @param key      a key from {@link #register(Tap, int)}
     * @param interest {@link #READABLE}, {@link #WRITABLE}, both, or 0
     * @return true, or false if the key's {@code Tap} was closed meanwhile (its {@link #CLOSED} report
     *         is pending)
     * @throws IllegalArgumentException if {@code key} is not registered or {@code interest} has other bits
     * @throws IllegalStateException    if this selector is closed
     * @throws TapException             if {@code epoll_ctl} fails
     */
    public boolean interest(int key, int interest) throws TapException {
        checkInterest(interest);
        gate.enter();
        try {
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
        } finally {
            gate.exit();
        }
    }

    /**
     * Removes a key: its {@code Tap} (which stays open) is no longer watched, and the key may be
     * handed out again by a later {@link #register}.
     *
     * @param key a key from {@link #register(Tap, int)}, not yet cancelled
     * @throws IllegalArgumentException if {@code key} is not registered
     * @throws IllegalStateException    if this selector is closed
     */
    public void cancel(int key) {
        gate.enter();
        try {
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
        } finally {
            gate.exit();
        }
    }

    /**
     * The {@code Tap} behind a key.
     *
     * @param key a key
     * @return its {@code Tap}, or {@code null} if the key is not registered
     */
    public Tap tap(int key) {
        synchronized (lock) {
            return key >= 0 && key < taps.length ? taps[key] : null;
        }
    }

    /**
     * Waits for at least one key to be ready, as the class documentation describes.
     *
     * @param timeout how long to wait at most: zero does not wait, negative or longer than about 146
     *                years means forever; rounded up to milliseconds on platform threads
     * @return the number of ready keys (0 to {@value #MAX_READY}), or {@link Tap#CLOSED},
     *         {@link Tap#INTERRUPTED} or {@link Tap#WAIT_FAILED}
     * @throws IllegalStateException if this selector was closed before the call, or another thread
     *                               is selecting
     */
    public int select(Duration timeout) {
        long nanos = Timeouts.nanos(timeout);
        gate.enter();
        try {
            if (!SELECTING.compareAndSet(this, false, true)) {
                throw new IllegalStateException(ctx + ": another thread is selecting; one at a time");
            }
            try {
                readyCount = 0;
                int r = Thread.currentThread().isVirtual() ? selectVirtual(nanos) : selectPlatform(nanos);
                if (gate.isClosing()) {
                    readyCount = 0;
                    return (int) Status.CLOSED;
                }
                return r;
            } finally {
                SELECTING.setVolatile(this, false);
            }
        } finally {
            gate.exit();
        }
    }

    /**
     * The key of the {@code i}th ready entry of the last {@link #select(Duration)}; read by the
     * selecting thread, before its next select.
     *
     * @param i 0 to the last select's result, exclusive
     * @return the key
     * @throws IndexOutOfBoundsException if {@code i} is outside the last result
     */
    public int readyKey(int i) {
        Objects.checkIndex(i, readyCount);
        return readyKeys[i];
    }

    /**
     * What the {@code i}th ready key of the last {@link #select(Duration)} is ready for: a mix of
     * {@link #READABLE}, {@link #WRITABLE} and {@link #GONE}, or {@link #CLOSED} alone.
     *
     * @param i 0 to the last select's result, exclusive
     * @return the ready operations
     * @throws IndexOutOfBoundsException if {@code i} is outside the last result
     */
    public int readyOps(int i) {
        Objects.checkIndex(i, readyCount);
        return readyOps[i];
    }

    /**
     * Makes the thread in {@link #select(Duration)} return (with 0 if nothing is ready), or, if no
     * thread selects, the next select return at once. Any thread; allocation-free; no effect once
     * this selector is closed.
     */
    public void wakeup() {
        if (gate.isClosing()) {
            return;
        }
        try {
            gate.enter();
        } catch (IllegalStateException closedMeanwhile) {
            return;
        }
        try {
            // SAFETY: wakeFd is open while the gate is held; one is 8 bytes in this selector's arena.
            FileCalls.write(Sys.errnoSlot(), wakeFd, one, 8);
        } finally {
            gate.exit();
        }
    }

    /** {@return whether this selector is open (not yet closed)} */
    public boolean isOpen() {
        return !gate.isClosing();
    }

    /**
     * Closes this selector: wakes a selecting thread (it returns {@link Tap#CLOSED}), waits for
     * calls in flight, detaches from the registered {@code Tap}s (which stay open) and closes the
     * epoll and event fds. Idempotent and thread-safe.
     */
    @Override
    public void close() {
        if (!gate.beginClose()) {
            gate.awaitClosed();
            return;
        }
        try {
            // SAFETY: wakeFd closes only below, after the gate is quiescent.
            FileCalls.write(Sys.errnoSlot(), wakeFd, one, 8);
            virtualWait.close();
        } finally {
            try {
                gate.awaitQuiescent();
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
                arena.close();
            } finally {
                gate.markClosed();
            }
        }
    }

    /** The epoll fd (tests read its {@code /proc/self/fdinfo} to see what is registered). */
    int epfd() {
        return epfd;
    }

    @Override
    public String toString() {
        return ctx + (isOpen() ? "" : ", closed");
    }

    // ---- the wait ------------------------------------------------------------------------------

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
                FileCalls.read(waitErrno, wakeFd, drain, 8); // the interruptor's wake-up
                n = (int) Status.INTERRUPTED;
            }
        }
        return n < 0 ? n : collect(n);
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
            if (n > 0 || hasPending()) {
                return collect(n);
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
            int ms = hasPending() ? 0 : nanos == Timeouts.FOREVER ? -1 : Timeouts.pollMillis(deadline);
            // SAFETY: events holds MAX_READY packed epoll_events in this selector's arena, which closes
            // only after the gate (held by this call) is quiescent; epfd is open while the gate is held.
            int n = PollCalls.epollWait(waitErrno, epfd, events, MAX_READY, ms);
            if (n >= 0) {
                return n;
            }
            if (Sys.errno(waitErrno) != linux_h.EINTR()) {
                return (int) Status.WAIT_FAILED;
            }
        }
    }

    private boolean hasPending() {
        synchronized (lock) {
            return pendingCount > 0;
        }
    }

    /** Turns {@code n} epoll events and the pending close reports into the ready list. */
    private int collect(int n) {
        int count = 0;
        synchronized (lock) {
            for (int i = 0; i < n; i++) {
                long at = i * STRIDE; // i < n <= MAX_READY: inside events
                long data = events.get(ValueLayout.JAVA_LONG_UNALIGNED, at + EV_DATA);
                int ev = events.get(ValueLayout.JAVA_INT_UNALIGNED, at + EV_EVENTS);
                if (data == WAKE_DATA) {
                    FileCalls.read(waitErrno, wakeFd, drain, 8); // reset the eventfd
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
            while (pendingCount > 0 && count < MAX_READY) {
                int k = pendingClosed[--pendingCount];
                readyKeys[count] = k;
                readyOps[count++] = CLOSED;
                free(k);
            }
        }
        readyCount = count;
        return count;
    }

    // ---- the key table (under lock) ----------------------------------------------------------

    private void setEvent(int interest, int key, int gen) {
        int ev = ((interest & READABLE) != 0 ? linux_h.EPOLLIN() : 0) | ((interest & WRITABLE) != 0 ? linux_h.EPOLLOUT() : 0);
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

    private static void checkInterest(int interest) {
        if ((interest & ~(READABLE | WRITABLE)) != 0) {
            throw new IllegalArgumentException("interest " + interest + " is not a mix of READABLE (1) and WRITABLE (2)");
        }
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
