package dev.nettap;

import dev.nettap.vnet.VirtioNetHdr;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.Objects;

/**
 * One direction of a forwarder: moves every frame read from one {@link Tap} to another, with its
 * virtio-net header passed through unchanged, until told to stop or a device disappears. This is
 * the loop a VMM's network backend runs between a guest queue and a device queue; a bidirectional
 * forwarder is two of them, one per direction (and one pair per queue of a multi-queue device).
 *
 * <p><b>What it does with each frame.</b> It reads the header and the frame into its own native
 * buffers ({@value #BUFFER_SIZE} bytes, enough for any super-frame the kernel hands over with
 * receive offloads on) and writes both to the other {@code Tap} as they are. Because the header
 * goes through unchanged, the source's receive offloads decide what crosses: with {@link Offload#CSUM}
 * and the TSO offloads on, whole GSO super-frames with partial checksums pass through and the
 * destination's kernel finishes them; with none on, the kernel hands over complete frames only.
 * Nothing is copied between the read and the write.
 *
 * <p><b>Frames it cannot deliver</b> are counted, never retried and never fatal: a write the
 * destination refuses because its link is down or its queue is full ({@link #dropped()}), a frame
 * the destination's kernel refuses as malformed or one that did not fit the buffer
 * ({@link #malformed()}). So the loop survives its peer's link going down and up.
 *
 * <p><b>Stopping.</b> {@link #run()} returns an {@link Outcome}: {@link Outcome#STOPPED} after
 * {@link #stop()} (noticed within {@link #POLL_INTERVAL}), {@link Outcome#CLOSED} when either
 * {@code Tap} was closed under it, {@link Outcome#SOURCE_GONE} / {@link Outcome#DESTINATION_GONE}
 * when a device was deleted.
 *
 * <p><b>Threads and ownership.</b> {@link #run()} is called by one thread, once; it is the only
 * reader of the source and the only writer of the destination while it runs (the reverse direction
 * may run on another thread over the same two {@code Tap}s). {@link #stop()} and the counters may
 * be used from any thread at any time. The {@code Tap}s stay the caller's: this class never closes
 * them. Its buffers live in an arena it owns, freed when {@link #run()} returns.
 *
 * <p><b>Allocation.</b> The loop preallocates everything except one thing: today's
 * {@link Tap#write(MemorySegment, MemorySegment)} takes the frame's length from the segment, so
 * each frame is written through a slice of the buffer ({@code asSlice}), which the JIT removes only
 * when it inlines the call. A length-taking write removes it.
 */
public final class Forwarder implements Runnable {
    /** Size of the frame buffer: 64 KiB for the largest super-frame, plus room for its headers. */
    public static final int BUFFER_SIZE = 65536 + 4096;
    /** How long one wait for a readable source lasts before {@link #stop()} is checked again. */
    public static final Duration POLL_INTERVAL = Duration.ofMillis(200);

    /** Why {@link #run()} returned. */
    public enum Outcome {
        /** {@link #stop()} was called. */
        STOPPED,
        /** The source or the destination {@code Tap} was closed. */
        CLOSED,
        /** The source's device disappeared (deleted, or its namespace removed). */
        SOURCE_GONE,
        /** The destination's device disappeared. */
        DESTINATION_GONE
    }

    private static final VarHandle FRAMES;
    private static final VarHandle BYTES;
    private static final VarHandle DROPPED;
    private static final VarHandle MALFORMED;

    static {
        MethodHandles.Lookup l = MethodHandles.lookup();
        try {
            FRAMES = l.findVarHandle(Forwarder.class, "frames", long.class);
            BYTES = l.findVarHandle(Forwarder.class, "bytes", long.class);
            DROPPED = l.findVarHandle(Forwarder.class, "dropped", long.class);
            MALFORMED = l.findVarHandle(Forwarder.class, "malformed", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Tap source;
    private final Tap destination;
    private volatile boolean stop;
    private volatile boolean started;
    // Written only by the thread in run() (opaque stores: no tearing, no fence); read by anyone.
    @SuppressWarnings("unused") private long frames;
    @SuppressWarnings("unused") private long bytes;
    @SuppressWarnings("unused") private long dropped;
    @SuppressWarnings("unused") private long malformed;
    private volatile Outcome outcome;

    /**
     * A forwarder from {@code source} to {@code destination}; nothing runs until {@link #run()}.
     *
     * @param source      the {@code Tap} frames are read from
     * @param destination the {@code Tap} they are written to
     * @throws IllegalArgumentException if both are the same {@code Tap}
     */
    public Forwarder(Tap source, Tap destination) {
        this.source = Objects.requireNonNull(source, "source");
        this.destination = Objects.requireNonNull(destination, "destination");
        if (source == destination) {
            throw new IllegalArgumentException("a forwarder needs two different Taps, got " + source + " twice");
        }
    }

    /**
     * Forwards until {@link #stop()}, a close or a device's disappearance, and records why
     * ({@link #outcome()}). Use {@link #forward()} to get the outcome as the result.
     *
     * @throws IllegalStateException if this forwarder already ran or is running
     */
    @Override
    public void run() {
        forward();
    }

    /**
     * Forwards until {@link #stop()}, a close or a device's disappearance.
     *
     * @return why it returned (also kept in {@link #outcome()})
     * @throws IllegalStateException if this forwarder already ran or is running
     */
    public Outcome forward() {
        synchronized (this) {
            if (started) {
                throw new IllegalStateException("forwarder " + this + " already ran");
            }
            started = true;
        }
        Outcome o;
        try (Arena arena = Arena.ofConfined()) {
            o = loop(arena.allocate(VirtioNetHdr.SIZE, 8), arena.allocate(BUFFER_SIZE, 64));
        } catch (IllegalStateException e) {
            // A Tap was closed between our check and a read or write (its only way to say so).
            if (!source.isClosed() && !destination.isClosed()) {
                throw e;
            }
            o = Outcome.CLOSED;
        }
        outcome = o;
        return o;
    }

    private Outcome loop(MemorySegment hdr, MemorySegment buf) {
        while (!stop) {
            long n = source.read(hdr, buf);
            if (n >= 0) {
                // TODO(length-based write): write n bytes of buf without a slice.
                long w = destination.write(hdr, buf.asSlice(0, n));
                if (w >= 0) {
                    FRAMES.setOpaque(this, (long) FRAMES.getOpaque(this) + 1);
                    BYTES.setOpaque(this, (long) BYTES.getOpaque(this) + n);
                } else if (w == Tap.MALFORMED) {
                    MALFORMED.setOpaque(this, (long) MALFORMED.getOpaque(this) + 1);
                } else if (w == Tap.DEVICE_GONE) {
                    return Outcome.DESTINATION_GONE;
                } else { // LINK_DOWN or WOULD_BLOCK: the destination cannot take it now
                    DROPPED.setOpaque(this, (long) DROPPED.getOpaque(this) + 1);
                }
            } else if (n == Tap.WOULD_BLOCK) {
                long r = source.awaitReadable(POLL_INTERVAL);
                if (r == Tap.CLOSED) {
                    return Outcome.CLOSED;
                } else if (r == Tap.DEVICE_GONE) {
                    return Outcome.SOURCE_GONE;
                }
            } else if (n == Tap.POSSIBLY_TRUNCATED) { // cannot happen with BUFFER_SIZE; never forward a cut frame
                MALFORMED.setOpaque(this, (long) MALFORMED.getOpaque(this) + 1);
            } else if (n == Tap.DEVICE_GONE) {
                return Outcome.SOURCE_GONE;
            } else {
                throw new IllegalStateException("unexpected read status " + n + " from " + source);
            }
        }
        return Outcome.STOPPED;
    }

    /** Asks {@link #run()} to return; it does within {@link #POLL_INTERVAL}. Any thread, any time. */
    public void stop() {
        stop = true;
    }

    /** {@return frames forwarded so far} */
    public long frames() {
        return (long) FRAMES.getOpaque(this);
    }

    /** {@return bytes forwarded so far (frames without their virtio-net header)} */
    public long bytes() {
        return (long) BYTES.getOpaque(this);
    }

    /** {@return frames the destination could not take (link down, queue full), so far} */
    public long dropped() {
        return (long) DROPPED.getOpaque(this);
    }

    /** {@return frames the destination's kernel refused as malformed, or too large to read whole, so far} */
    public long malformed() {
        return (long) MALFORMED.getOpaque(this);
    }

    /** {@return why {@link #run()} returned, or {@code null} while it has not} */
    public Outcome outcome() {
        return outcome;
    }

    /** {@return the source {@code Tap}} */
    public Tap source() {
        return source;
    }

    /** {@return the destination {@code Tap}} */
    public Tap destination() {
        return destination;
    }

    @Override
    public String toString() {
        return "Forwarder[" + source.name() + " -> " + destination.name() + "]";
    }
}
