package dev.nettap;

import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.Objects;

/**
 * Forwards every frame between two {@link Tap}s, both directions, on the one thread that calls
 * {@link #run()}, with each frame's virtio-net header passed through unchanged, until told to stop
 * or a device disappears. This is the loop a VMM's network backend runs between a guest queue and
 * a device queue; a multi-queue pair of devices gets one {@code Forwarder} (and one thread) per
 * queue pair.
 *
 * <p><b>One thread or two.</b> {@code new Forwarder(a, b)} serves both directions on one thread:
 * half the threads, and what a VMM with a thread per queue pair wants. When one direction alone
 * can keep a core busy (small frames, or no offloads, where every frame costs two system calls),
 * {@link #oneWay(Tap, Tap) oneWay(a, b)} and {@code oneWay(b, a)}, each on its own thread, give
 * each direction a core: a {@code Tap} has one reader and one writer, and here they are the two
 * threads.
 *
 * <p><b>The loop.</b> A {@link TapSelector} waits for either {@code Tap} to become readable; then
 * the readable directions, and those busy a moment ago, are served in turns of {@value #TURN}
 * frames until drained (a write one way usually makes the other side answer at once, e.g. TCP's
 * ACKs, and short turns let them through promptly; readiness is level-triggered, so a turn limit
 * loses nothing), each frame read with {@link Tap#readLength} into this
 * forwarder's own native buffers ({@value #BUFFER_SIZE} bytes, enough for any super-frame the
 * kernel hands over with receive offloads on) and written on with
 * {@link Tap#write(MemorySegment, MemorySegment, long)}: no copy, no slice, nothing allocated per
 * frame or per wake-up. Because the header goes through unchanged, the receive offloads decide
 * what crosses: with {@link Offload#CSUM} and the TSO offloads on, whole GSO super-frames with
 * partial checksums pass and the other kernel finishes them; with none on, complete frames only.
 *
 * <p><b>Frames it cannot deliver</b> are counted per direction ({@link Direction}), never retried
 * and never fatal: a write the destination cannot take because its link is down, its queue is full
 * or it has no memory ({@link Tap#LINK_DOWN}, {@link Tap#WOULD_BLOCK}, {@link Tap#NO_BUFFER_SPACE}:
 * dropped), a frame the destination's kernel refuses ({@link Tap#MALFORMED}) or one that filled the
 * whole buffer and so may have been cut (malformed), any other status (errors, the last one kept
 * for {@link Tap#describe(long)}). So the loop survives its peer's link going down and up.
 *
 * <p><b>Stopping.</b> {@link #forward()} returns an {@link Outcome}: {@link Outcome#STOPPED} after
 * {@link #stop()} (which wakes the selector: prompt, no polling interval) or an interrupt of the
 * forwarding thread (its interrupt flag stays set); {@link Outcome#CLOSED} when either {@code Tap}
 * was closed under it; {@link Outcome#DEVICE_GONE} when a device was deleted ({@link #gone()}
 * names which).
 *
 * <p><b>Threads and ownership.</b> {@link #run()} is called by one thread, once; a platform thread
 * is the right one (it blocks in {@code epoll_wait}; a virtual thread works too, through nettap's
 * poller, at the cost of a poller round trip per wake-up). While it runs it is the only reader and
 * the only writer of both {@code Tap}s; a one-way forwarder is the reader of its source and the
 * writer of its destination only (another thread reading or writing the same side gets the
 * {@code Tap}'s {@code ReadPendingException}/{@code WritePendingException}, here or there).
 * {@link #stop()} and the counters may be used from any thread at any time. The {@code Tap}s stay
 * the caller's: this class never closes them. Its buffers and selector are its own, freed when
 * {@code run()} returns.
 */
public final class Forwarder implements Runnable {
    /** Size of each frame buffer: 64 KiB for the largest super-frame, plus room for its headers. */
    public static final int BUFFER_SIZE = 65536 + 4096;
    /** The most frames forwarded from one {@code Tap} before the other direction gets a turn. */
    public static final int TURN = 8;
    /** The most turns per wake-up before the loop checks {@link #stop()} and selects again. */
    public static final int BATCH = 64;

    private static final Duration FOREVER = ChronoUnit.FOREVER.getDuration();

    /** Why {@link #forward()} returned. */
    public enum Outcome {
        /** {@link #stop()} was called, or the forwarding thread was interrupted. */
        STOPPED,
        /** One of the two {@code Tap}s was closed. */
        CLOSED,
        /** A device disappeared (deleted, or its namespace removed): {@link #gone()} names it. */
        DEVICE_GONE
    }

    /**
     * The counters of one direction, written only by the forwarding thread and readable from any
     * thread at any time (each value is one the loop wrote; no tearing).
     */
    public static final class Direction {
        private final Tap from;
        private final Tap to;
        private final Counters c = new Counters();

        private Direction(Tap from, Tap to) {
            this.from = from;
            this.to = to;
        }

        /** {@return the {@code Tap} this direction reads} */
        public Tap from() {
            return from;
        }

        /** {@return the {@code Tap} this direction writes} */
        public Tap to() {
            return to;
        }

        /** {@return frames forwarded so far} */
        public long frames() {
            return c.get(Counters.FRAMES);
        }

        /** {@return bytes forwarded so far (frames without their virtio-net header)} */
        public long bytes() {
            return c.get(Counters.BYTES);
        }

        /** {@return frames the destination could not take (link down, queue full, no memory), so far} */
        public long dropped() {
            return c.get(Counters.DROPPED);
        }

        /** {@return frames the destination's kernel refused, or that filled the buffer and may be cut, so far} */
        public long malformed() {
            return c.get(Counters.MALFORMED);
        }

        /** {@return frames lost to any other status of a read or write, so far} */
        public long errors() {
            return c.get(Counters.ERRORS);
        }

        /** {@return the last status counted in {@link #errors()} (0 if none); name it with {@link Tap#describe(long)}} */
        public long lastError() {
            return c.get(Counters.LAST_ERROR);
        }

        @Override
        public String toString() {
            return from.name() + " -> " + to.name();
        }
    }

    private final Tap a;
    private final Tap b;
    private final Direction ab;
    private final Direction ba;
    private final boolean bothWays;
    private boolean abBusy; // the forwarding thread's own: whether a->b moved frames in the last serve()
    private boolean baBusy;
    private volatile boolean stop;
    private boolean started; // guarded by this
    private volatile TapSelector selector; // set while run() runs, for stop()'s wake-up
    private volatile Outcome outcome;
    private volatile Tap gone;

    /**
     * A forwarder between {@code a} and {@code b}, both ways; nothing runs until {@link #run()}.
     *
     * @param a one {@code Tap}
     * @param b the other
     * @throws IllegalArgumentException if both are the same {@code Tap}
     */
    public Forwarder(Tap a, Tap b) {
        this(a, b, true);
    }

    private Forwarder(Tap a, Tap b, boolean bothWays) {
        this.a = Objects.requireNonNull(a, "a");
        this.b = Objects.requireNonNull(b, "b");
        if (a == b) {
            throw new IllegalArgumentException("a forwarder needs two different Taps, got " + a + " twice");
        }
        this.ab = new Direction(a, b);
        this.ba = new Direction(b, a);
        this.bothWays = bothWays;
    }

    /**
     * A forwarder of one direction only, from {@code from} to {@code to}: it reads only
     * {@code from} and writes only {@code to}, so {@code oneWay(b, a)} can run at the same time on
     * another thread. Its {@link #bToA()} counts nothing.
     *
     * @param from the {@code Tap} it reads ({@link #a()})
     * @param to   the {@code Tap} it writes ({@link #b()})
     * @return a forwarder; nothing runs until {@link #run()}
     * @throws IllegalArgumentException if both are the same {@code Tap}
     */
    public static Forwarder oneWay(Tap from, Tap to) {
        return new Forwarder(from, to, false);
    }

    /** {@return whether this forwarder serves both directions (false for {@link #oneWay(Tap, Tap)})} */
    public boolean bothWays() {
        return bothWays;
    }

    /**
     * Forwards until {@link #stop()}, a close or a device's disappearance, and records why
     * ({@link #outcome()}). Use {@link #forward()} to get the outcome as the result.
     *
     * @throws IllegalStateException if this forwarder already ran or is running
     * @throws UncheckedIOException  if the selector cannot be made (e.g. out of fds)
     */
    @Override
    public void run() {
        forward();
    }

    /**
     * Forwards until {@link #stop()}, an interrupt, a close or a device's disappearance.
     *
     * @return why it returned (also kept in {@link #outcome()})
     * @throws IllegalStateException if this forwarder already ran or is running
     * @throws UncheckedIOException  if the selector cannot be made (e.g. out of fds)
     */
    public Outcome forward() {
        synchronized (this) {
            if (started) {
                throw new IllegalStateException("forwarder " + this + " already ran");
            }
            started = true;
        }
        Outcome o;
        try (Arena arena = Arena.ofConfined(); TapSelector sel = TapSelector.open()) {
            selector = sel;
            MemorySegment hdr = arena.allocate(dev.nettap.vnet.VirtioNetHdr.SIZE, 8);
            MemorySegment buf = arena.allocate(BUFFER_SIZE, 64);
            int ka = sel.register(a, TapSelector.READABLE);
            // One way: b is watched only for its close or disappearance, so either ends the loop at once.
            sel.register(b, bothWays ? TapSelector.READABLE : 0);
            o = loop(sel, ka, hdr, buf);
        } catch (TapException e) {
            throw new UncheckedIOException("forwarder " + this + ": " + e.getMessage(), e);
        } catch (IllegalStateException e) {
            // A Tap was closed between the selector's report and a read or write (its only way to say so).
            if (!a.isClosed() && !b.isClosed()) {
                throw e;
            }
            o = Outcome.CLOSED;
        } finally {
            selector = null;
        }
        outcome = o;
        return o;
    }

    private Outcome loop(TapSelector sel, int ka, MemorySegment hdr, MemorySegment buf) {
        while (!stop) {
            int n = sel.select(FOREVER);
            if (n == Tap.INTERRUPTED || n == Tap.CLOSED) { // CLOSED: only our own close, after the loop
                return Outcome.STOPPED;
            }
            boolean readyA = false;
            boolean readyB = false;
            for (int i = 0; i < n; i++) {
                int ops = sel.readyOps(i);
                if ((ops & TapSelector.CLOSED) != 0) {
                    return Outcome.CLOSED;
                }
                boolean isA = sel.readyKey(i) == ka;
                if ((ops & TapSelector.GONE) != 0) {
                    gone = isA ? a : b;
                    return Outcome.DEVICE_GONE;
                }
                readyA |= isA;
                readyB |= !isA;
            }
            if ((readyA || readyB) && !serve(readyA, readyB, hdr, buf)) {
                return Outcome.DEVICE_GONE;
            }
            // n == 0 (a wakeup) or WAIT_FAILED (nothing was waited for): check stop, select again
        }
        return Outcome.STOPPED;
    }

    /**
     * Serves, in turns of {@value #TURN} frames, the directions whose source the selector reported
     * readable and those that moved frames the last time, until each is drained (or
     * {@value #BATCH} turns passed, so a stop is seen). A direction that was busy is tried without
     * a report because frames written one way make the other side answer at once (TCP's ACKs) and
     * short turns let those answers through without waiting for a whole batch; a direction that was
     * idle is not, because a read that finds nothing costs a system call, and with one-way traffic
     * (small UDP frames, one per wake-up) that would be one more per frame. False when a device is
     * gone.
     */
    private boolean serve(boolean readyA, boolean readyB, MemorySegment hdr, MemorySegment buf) {
        boolean moreAb = readyA || abBusy;
        boolean moreBa = bothWays && (readyB || baBusy);
        abBusy = false;
        baBusy = false;
        for (int turn = 0; turn < BATCH && (moreAb || moreBa); turn++) {
            if (moreAb) {
                int r = pump(ab, hdr, buf);
                if (r < 0) {
                    return false;
                }
                abBusy |= r > 0;
                moreAb = r == TURN;
            }
            if (moreBa) {
                int r = pump(ba, hdr, buf);
                if (r < 0) {
                    return false;
                }
                baBusy |= r > 0;
                moreBa = r == TURN;
            }
        }
        return true;
    }

    /**
     * Forwards up to {@value #TURN} frames of {@code d}: how many reads returned a frame (fewer than
     * {@value #TURN} when it found the source drained), or -1 when a device is gone ({@link #gone} set).
     */
    private int pump(Direction d, MemorySegment hdr, MemorySegment buf) {
        Counters c = d.c;
        for (int i = 0; i < TURN; i++) {
            long n = d.from.readLength(hdr, buf);
            if (n < 0) {
                if (n == Tap.WOULD_BLOCK) {
                    return i;
                }
                if (n == Tap.DEVICE_GONE) {
                    gone = d.from;
                    return -1;
                }
                c.error(n); // MALFORMED (a frame the header cannot describe), NO_BUFFER_SPACE, ...
                continue;
            }
            if (n == BUFFER_SIZE) { // filled the buffer: may be cut; never forward a cut frame
                c.add(Counters.MALFORMED, 1);
                continue;
            }
            long w = d.to.write(hdr, buf, n);
            if (w >= 0) {
                c.add(Counters.FRAMES, 1);
                c.add(Counters.BYTES, n);
            } else if (w == Tap.LINK_DOWN || w == Tap.WOULD_BLOCK || w == Tap.NO_BUFFER_SPACE) {
                c.add(Counters.DROPPED, 1);
            } else if (w == Tap.MALFORMED) {
                c.add(Counters.MALFORMED, 1);
            } else if (w == Tap.DEVICE_GONE) {
                gone = d.to;
                return -1;
            } else {
                c.error(w);
            }
        }
        return TURN;
    }

    /** Asks {@link #forward()} to return, and wakes it: it returns promptly. Any thread, any time. */
    public void stop() {
        stop = true;
        TapSelector s = selector;
        if (s != null) {
            s.wakeup(); // a no-op once the selector is closed
        }
    }

    /** {@return the direction from the first {@code Tap} to the second} */
    public Direction aToB() {
        return ab;
    }

    /** {@return the direction from the second {@code Tap} to the first} */
    public Direction bToA() {
        return ba;
    }

    /** {@return frames forwarded so far, both directions} */
    public long frames() {
        return ab.frames() + ba.frames();
    }

    /** {@return bytes forwarded so far, both directions (frames without their virtio-net header)} */
    public long bytes() {
        return ab.bytes() + ba.bytes();
    }

    /** {@return frames dropped so far, both directions (see {@link Direction#dropped()})} */
    public long dropped() {
        return ab.dropped() + ba.dropped();
    }

    /** {@return frames refused as malformed or possibly cut so far, both directions} */
    public long malformed() {
        return ab.malformed() + ba.malformed();
    }

    /** {@return frames lost to other statuses so far, both directions} */
    public long errors() {
        return ab.errors() + ba.errors();
    }

    /** {@return why {@link #forward()} returned, or {@code null} while it has not} */
    public Outcome outcome() {
        return outcome;
    }

    /** {@return the {@code Tap} whose device disappeared, if {@link #outcome()} is {@link Outcome#DEVICE_GONE}; else {@code null}} */
    public Tap gone() {
        return gone;
    }

    /** {@return the first {@code Tap}} */
    public Tap a() {
        return a;
    }

    /** {@return the second {@code Tap}} */
    public Tap b() {
        return b;
    }

    @Override
    public String toString() {
        return "Forwarder[" + a.name() + (bothWays ? " <-> " : " -> ") + b.name() + "]";
    }
}
