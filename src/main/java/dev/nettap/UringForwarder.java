package dev.nettap;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Forwards every frame between queue pairs ({@code a[i] <-> b[i]}, both directions) on one thread
 * through one {@link TapRing}: each frame is received into a receive buffer (a multishot read on
 * Linux 6.7+, a {@code readv} elsewhere), written to the peer queue straight from that buffer, and
 * the buffer goes back when the write completes. The virtio-net header passes through unchanged, as
 * with the {@code readv}/{@code writev} forwarding loop, so the sources' receive offloads decide
 * what crosses (GSO super-frames with partial checksums when TSO is on).
 *
 * <p><b>Fallback.</b> When io_uring cannot be used here ({@link TapRing#unavailableReason()}), one
 * line says why (logger {@code dev.nettap.uring}, WARNING; INFO when turned off with
 * {@code -Ddev.nettap.uring=off}) and the same work runs on the {@code readv}/{@code writev} path:
 * one {@link Forwarder} per pair, on a platform thread each. {@link #engine()} says which ran.
 *
 * <p><b>Frames it cannot deliver</b> are counted and never fatal: a write refused because the
 * destination's link is down or the kernel had no room ({@link #dropped()}), a frame the
 * destination refused as malformed or one cut by a full buffer ({@link #malformed()}).
 *
 * <p><b>Threads and ownership.</b> {@link #forward()} (or {@link #run()}) is called once, by one
 * thread, which owns the ring while it runs; {@link #stop()} and the counters may be used from any
 * thread. The {@code Tap}s stay the caller's: they must stay open until {@link #forward()} returns
 * (closing one stops the fallback loops; the ring keeps its own reference to each queue and is
 * stopped with {@link #stop()}).
 */
public final class UringForwarder implements Runnable {
    /** Receive buffer size: a 64 KiB super-frame and its headers, plus the virtio-net header. */
    public static final int BUFFER_SIZE = 65536 + 4096;
    /** How long one wait lasts before {@link #stop()} is checked again (it also wakes the ring). */
    public static final Duration POLL_INTERVAL = Duration.ofMillis(200);

    /** Which path {@link #forward()} took. */
    public enum Engine {
        /** io_uring, one thread for every pair. */
        URING,
        /** {@code readv}/{@code writev}, one {@link Forwarder} thread per pair (io_uring unavailable). */
        READV
    }

    /** Why {@link #forward()} returned. */
    public enum Outcome {
        /** {@link #stop()} was called. */
        STOPPED,
        /** A {@code Tap} was closed (fallback path only: the ring keeps its queues). */
        CLOSED,
        /** A device disappeared (deleted, or its namespace removed). */
        DEVICE_GONE
    }

    private static final System.Logger LOG = System.getLogger("dev.nettap.uring");
    private final List<Tap> members = new ArrayList<>(); // a0, b0, a1, b1, ...: the peer of member m is m ^ 1
    private final int rxBuffers;
    private volatile boolean stop;
    private boolean started; // guarded by this
    private volatile TapRing ring;
    private volatile Engine engine;
    private volatile Outcome outcome;
    /** The readv/writev path's forwarders, one per pair (empty on io_uring). */
    private volatile List<Forwarder> fallbacks = List.of();
    private final Counters counters = new Counters(); // the ring loop's: written by its one thread, read by anyone

    /**
     * A forwarder between {@code a.get(i)} and {@code b.get(i)} for every {@code i}; nothing runs
     * until {@link #forward()}.
     *
     * @param a         one side's queues
     * @param b         the other side's queues, as many
     * @param rxBuffers receive buffers shared by all queues, a power of two (64 is plenty for two queues)
     * @throws IllegalArgumentException sizes differ, a list is empty, or a {@code Tap} appears twice
     */
    public UringForwarder(List<Tap> a, List<Tap> b, int rxBuffers) {
        if (a.isEmpty() || a.size() != b.size()) {
            throw new IllegalArgumentException("need as many queues on each side, at least one: " + a.size() + " and " + b.size());
        }
        if (rxBuffers < 1 || rxBuffers > 4096 || Integer.bitCount(rxBuffers) != 1) {
            throw new IllegalArgumentException("rxBuffers must be a power of two 1..4096, is " + rxBuffers);
        }
        for (int i = 0; i < a.size(); i++) {
            members.add(Objects.requireNonNull(a.get(i), "a queue"));
            members.add(Objects.requireNonNull(b.get(i), "b queue"));
        }
        if (members.stream().distinct().count() != members.size()) {
            throw new IllegalArgumentException("a Tap appears twice: " + members);
        }
        this.rxBuffers = rxBuffers;
    }

    @Override
    public void run() {
        forward();
    }

    /**
     * Forwards until {@link #stop()} or a device's disappearance, on io_uring where it can.
     *
     * @return why it returned (also {@link #outcome()})
     * @throws IllegalStateException if this forwarder already ran or is running, or the ring could not
     *                               be set up although io_uring is available (for example {@code ENOMEM}
     *                               for its buffers; the cause is the {@link TapException})
     */
    public Outcome forward() {
        synchronized (this) {
            if (started) {
                throw new IllegalStateException("forwarder " + this + " already ran");
            }
            started = true;
        }
        Optional<String> why = TapRing.unavailableReason();
        Outcome o;
        if (why.isPresent()) {
            LOG.log(why.get().contains("DISABLED") ? System.Logger.Level.INFO : System.Logger.Level.WARNING, why.get());
            engine = Engine.READV;
            o = fallback();
        } else {
            engine = Engine.URING;
            try (TapRing r = TapRing.open(members, TapRing.Config.defaults(members.size(), rxBuffers, BUFFER_SIZE))) {
                ring = r;
                if (stop) {
                    r.wakeup();
                }
                o = loop(r);
            } catch (TapException e) {
                throw new IllegalStateException("io_uring forwarder: " + e.getMessage(), e);
            } finally {
                ring = null;
            }
        }
        outcome = o;
        return o;
    }

    private Outcome loop(TapRing r) {
        RingCompletions out = new RingCompletions(256);
        long wait = POLL_INTERVAL.toNanos();
        boolean deviceGone = false;
        while (!stop && !deviceGone) {
            int n = r.await(out, wait);
            for (int i = 0; i < n; i++) {
                int m = out.member(i);
                long s = out.status(i);
                if (out.isRead(i)) {
                    int buf = out.buffer(i);
                    if (s >= 0) {
                        // The frame goes out from the buffer it arrived in; the buffer returns on completion.
                        if (!r.submitWrite(m ^ 1, r.rxHeader(buf), r.rxFrame(buf), s, buf)) {
                            r.submit(); // cannot happen with entries >= buffers + members + 1; be safe anyway
                            if (!r.submitWrite(m ^ 1, r.rxHeader(buf), r.rxFrame(buf), s, buf)) {
                                counters.add(Counters.DROPPED, 1);
                                r.release(buf);
                            }
                        }
                    } else {
                        if (buf >= 0) {
                            counters.add(Counters.MALFORMED, 1); // POSSIBLY_TRUNCATED: never forward a cut frame
                            r.release(buf);
                        }
                        deviceGone |= s == Tap.DEVICE_GONE;
                    }
                } else {
                    r.release((int) out.userData(i));
                    if (s >= 0) {
                        counters.add(Counters.FRAMES, 1);
                        counters.add(Counters.BYTES, s);
                    } else if (s == Tap.MALFORMED) {
                        counters.add(Counters.MALFORMED, 1);
                    } else if (s == Tap.DEVICE_GONE) {
                        deviceGone = true;
                    } else {
                        counters.add(Counters.DROPPED, 1); // LINK_DOWN, NO_BUFFER_SPACE, ...: the destination cannot take it now
                    }
                }
            }
        }
        return deviceGone ? Outcome.DEVICE_GONE : Outcome.STOPPED;
    }

    /**
     * The readv/writev path: one {@link Forwarder} (one thread serving both directions through a
     * {@link TapSelector}) per pair, the same loop {@code nettap forward --engine readv} runs; its
     * counters join this one's (see {@link #frames()}).
     */
    private Outcome fallback() {
        List<Forwarder> fs = new ArrayList<>();
        for (int m = 0; m < members.size(); m += 2) {
            fs.add(new Forwarder(members.get(m), members.get(m + 1)));
        }
        fallbacks = List.copyOf(fs);
        List<Thread> threads = new ArrayList<>();
        for (Forwarder f : fs) {
            threads.add(Thread.ofPlatform().name("nettap-forward-readv-" + f.a().name()).start(f));
        }
        if (stop) {
            fs.forEach(Forwarder::stop); // stop() came before the list was published
        }
        boolean interrupted = false;
        Outcome result = Outcome.STOPPED;
        for (int i = 0; i < threads.size(); i++) {
            while (threads.get(i).isAlive()) {
                try {
                    threads.get(i).join();
                } catch (InterruptedException e) {
                    interrupted = true;
                    stop();
                }
            }
            Forwarder.Outcome o = fs.get(i).outcome();
            if (o == null) { // its thread ended with an exception (already reported by the thread)
                o = Forwarder.Outcome.CLOSED;
            }
            if (o != Forwarder.Outcome.STOPPED) {
                stop(); // one pair ended on its own: end the others too, as the ring loop does
                if (result == Outcome.STOPPED) {
                    result = o == Forwarder.Outcome.DEVICE_GONE ? Outcome.DEVICE_GONE : Outcome.CLOSED;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        return result;
    }

    /** Asks {@link #forward()} to return, at once: the ring, or each fallback {@link Forwarder}'s selector, is woken. */
    public void stop() {
        stop = true;
        TapRing r = ring;
        if (r != null) {
            r.wakeup();
        }
        fallbacks.forEach(Forwarder::stop);
    }

    /** {@return which path ran (or runs), or {@code null} before {@link #forward()} chose} */
    public Engine engine() {
        return engine;
    }

    /** {@return frames forwarded so far} */
    public long frames() {
        return sum(Counters.FRAMES, Forwarder::frames);
    }

    /** {@return bytes forwarded so far (frames without their virtio-net header)} */
    public long bytes() {
        return sum(Counters.BYTES, Forwarder::bytes);
    }

    /** {@return frames the destination could not take (link down, no buffer space), so far} */
    public long dropped() {
        return sum(Counters.DROPPED, Forwarder::dropped);
    }

    /** {@return frames refused as malformed or cut by a full buffer, so far} */
    public long malformed() {
        return sum(Counters.MALFORMED, Forwarder::malformed);
    }

    /** The ring loop's counter {@code slot} plus the fallback forwarders' {@code each}. */
    private long sum(int slot, java.util.function.ToLongFunction<Forwarder> each) {
        long n = counters.get(slot);
        for (Forwarder f : fallbacks) {
            n += each.applyAsLong(f);
        }
        return n;
    }

    /** {@return why {@link #forward()} returned, or {@code null} while it has not} */
    public Outcome outcome() {
        return outcome;
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("UringForwarder[");
        for (int i = 0; i < members.size(); i += 2) {
            b.append(i == 0 ? "" : ", ").append(members.get(i).name()).append(" <-> ").append(members.get(i + 1).name());
        }
        return b.append(']').toString();
    }
}
