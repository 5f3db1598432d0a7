package dev.nettap;

import dev.nettap.internal.uring.Completions;
import dev.nettap.internal.uring.IoUring;
import dev.nettap.internal.uring.UringException;
import java.io.UncheckedIOException;

/**
 * The completion loop of a {@link TapRing}: queues the reads and the wake-up waiting to go out,
 * submits and waits, and turns each reaped completion into the caller's batch by its kind
 * ({@link RingUserData}): a write's result straight into an entry, a read's to the receive side
 * ({@link RingReceive}), the wake-up's to {@link RingWake}.
 *
 * <p>Threads: the ring's owner only ({@link IoUring} checks when it submits or waits).
 *
 * <p>Invariants: every completion reaped lands in exactly one place (one entry at most each, so a
 * batch sized like its {@link Completions} never overflows); reads and the wake-up are queued again
 * before every wait and after it, as far as the SQ has room; nothing is allocated.
 */
final class RingReaper {
    private final IoUring ring;
    private final RingReceive rx;
    private final RingWake wake;

    /**
     * The loop over {@code ring}.
     *
     * @param ring the ring
     * @param rx   its receive side
     * @param wake its wake-up
     */
    RingReaper(IoUring ring, RingReceive rx, RingWake wake) {
        this.ring = ring;
        this.rx = rx;
        this.wake = wake;
    }

    /**
     * Submits, waits and reaps (see {@link TapRing#await}).
     *
     * @param out          filled from index 0
     * @param timeoutNanos 0: do not wait; negative: no bound
     * @return the number of entries in {@code out}
     * @throws UncheckedIOException the ring itself failed
     */
    int await(RingCompletions out, long timeoutNanos) {
        out.reset();
        queue();
        Completions raw = out.raw;
        try {
            ring.await(raw, timeoutNanos == 0 ? 0 : 1, timeoutNanos);
            // Internal completions (wake-ups, re-armings) must not make a waiting caller return empty-handed
            // before the bound: one more short wait only when nothing of the caller's came.
            translate(raw, out);
            if (out.count() == 0 && !out.wasWoken() && timeoutNanos != 0 && raw.count() > 0) {
                queue();
                ring.await(raw, 1, timeoutNanos);
                translate(raw, out);
            }
        } catch (UringException e) {
            throw new UncheckedIOException(e);
        }
        queue();
        return out.count();
    }

    /** Queues every read waiting to be (re-)armed and the wake-up, as far as the SQ has room; the rest next time. */
    void queue() {
        if (rx.queueReads()) {
            wake.arm();
        }
    }

    private void translate(Completions raw, RingCompletions out) {
        for (int i = 0; i < raw.count(); i++) {
            long ud = raw.userData(i);
            int res = raw.result(i);
            long kind = ud & RingUserData.KIND;
            int member = RingUserData.member(ud);
            if (kind == RingUserData.WRITE) {
                out.add(false, member, UringStatus.frame(res, 0, false), -1, ud & RingUserData.PAYLOAD);
            } else if (kind == RingUserData.READ) {
                rx.multishotDone(out, member, res, raw.bufferId(i), raw.more(i));
            } else if (kind == RingUserData.READV) {
                rx.readvDone(out, member, res, (int) (ud & RingUserData.PAYLOAD));
            } else if (kind == RingUserData.WAKE) {
                wake.completed(res);
                out.woken();
            }
        }
    }
}
