package dev.nettap;

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
    public static final int READABLE = SelectorKeys.READABLE;
    /** Interest and ready operation: a frame can be written. */
    public static final int WRITABLE = SelectorKeys.WRITABLE;
    /** Ready operation (always reported, never registered): the device was deleted. */
    public static final int GONE = SelectorKeys.GONE;
    /** Ready operation (always reported, never registered): the {@code Tap} was closed; the key is cancelled. */
    public static final int CLOSED = SelectorKeys.CLOSED;
    /** The most keys one {@link #select(Duration)} reports. */
    public static final int MAX_READY = 64;

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
    private final MemorySegment one;
    private final SelectorKeys keys; // the key table, under its own lock
    private final SelectorWait wait; // the selecting thread's wait

    // The selecting thread's own (one at a time, by SELECTING): the ready list, filled by wait.
    @SuppressWarnings("unused") // through SELECTING
    private volatile boolean selecting;
    private final int[] readyKeys = new int[MAX_READY];
    private final int[] readyOps = new int[MAX_READY];
    private int readyCount;

    private TapSelector(int epfd, int wakeFd, Arena arena) {
        this.epfd = epfd;
        this.wakeFd = wakeFd;
        this.arena = arena;
        this.ctx = "TapSelector (epoll fd " + epfd + ")";
        this.gate = new CloseGate(ctx);
        this.one = arena.allocateFrom(ValueLayout.JAVA_LONG, 1L);
        this.keys = new SelectorKeys(epfd, wakeFd, one, arena, ctx);
        this.wait = new SelectorWait(epfd, wakeFd, one, arena, ctx, keys, readyKeys, readyOps);
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
            MemorySegment ev = Poller.event(arena, linux_h.EPOLLIN(), SelectorKeys.WAKE_DATA);
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
        SelectorKeys.checkInterest(interest);
        gate.enter();
        try {
            return keys.register(tap, interest);
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
        SelectorKeys.checkInterest(interest);
        gate.enter();
        try {
            return keys.interest(key, interest);
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
            keys.cancel(key);
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
        return keys.tap(key);
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
                int r = wait.select(nanos); // the ready list's length, or a negative status (then it holds nothing)
                if (gate.isClosing()) {
                    return (int) Status.CLOSED;
                }
                readyCount = r > 0 ? r : 0;
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
            // SAFETY: wakeFd closes only below (keys.closeFds()), after the gate is quiescent.
            FileCalls.write(Sys.errnoSlot(), wakeFd, one, 8);
            wait.close();
        } finally {
            try {
                gate.awaitQuiescent();
                keys.closeFds(); // detaches from every Tap; closes the epoll and event fds under the table's lock
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
}
