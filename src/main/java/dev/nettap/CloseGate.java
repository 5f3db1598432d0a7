package dev.nettap;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.channels.ReadPendingException;
import java.nio.channels.WritePendingException;
import java.util.concurrent.locks.LockSupport;

/**
 * The lock-free close protocol of one {@link Tap}, and the one-reader/one-writer rule.
 *
 * <p>One {@code int} holds everything: the sign bit says the queue is closing; four bits mark the
 * exclusive roles (the reader, the writer, the platform thread waiting to read, the one waiting to
 * write), each held by at most one thread because each owns per-direction scratch memory (an iovec
 * table, a pollfd pair); the low bits count the other calls in flight. Taking a role or entering is
 * one compare-and-set, leaving one atomic add: the same cost as a plain close gate, so the rule is
 * free on the uncontended path. A second thread asking for a held role gets
 * {@link ReadPendingException} or {@link WritePendingException} at once (never a corrupted iovec).
 *
 * <p>Close states only move forward: {@link #beginClose()} sets the sign bit once (new calls then
 * fail), {@link #awaitQuiescent()} waits until every call in flight has left (none of them blocks
 * for long: frame calls never block, and waits are woken by the closer), then the owner releases
 * the fd, then {@link #markClosed()}.
 */
final class CloseGate {
    static final int CLOSING = 0x8000_0000;
    static final int READER = 1 << 30;
    static final int WRITER = 1 << 29;
    static final int READ_WAITER = 1 << 28;
    static final int WRITE_WAITER = 1 << 27;
    private static final int COUNT_MASK = WRITE_WAITER - 1;

    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(CloseGate.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused") // accessed through STATE
    private volatile int state;
    private volatile boolean closed;
    private final String what;

    /** @param what how errors name the queue, e.g. {@code Tap "vm0" (created "vm0")} */
    CloseGate(String what) {
        this.what = what;
    }

    /** Enters a shared call (waits of virtual threads, statistics, offloads). */
    void enter() {
        int s;
        do {
            s = (int) STATE.getVolatile(this);
            if (s < 0) {
                throw closedError();
            }
            if ((s & COUNT_MASK) == COUNT_MASK) {
                throw new IllegalStateException(what + ": too many calls in flight");
            }
        } while (!STATE.weakCompareAndSet(this, s, s + 1));
    }

    void exit() {
        STATE.getAndAdd(this, -1);
    }

    /** Takes the exclusive {@code role} for the calling thread, or throws at once if it is held. */
    void enterRole(int role) {
        int s;
        do {
            s = (int) STATE.getVolatile(this);
            if ((s & (CLOSING | role)) != 0) {
                throw s < 0 ? closedError() : pending(role);
            }
        } while (!STATE.weakCompareAndSet(this, s, s | role));
    }

    void exitRole(int role) {
        STATE.getAndAdd(this, -role);
    }

    boolean isClosing() {
        return (int) STATE.getVolatile(this) < 0;
    }

    /** Sets the closing bit; false if another thread set it first. */
    boolean beginClose() {
        int s;
        do {
            s = (int) STATE.getVolatile(this);
            if (s < 0) {
                return false;
            }
        } while (!STATE.compareAndSet(this, s, s | CLOSING));
        return true;
    }

    /** Waits until no call is in flight (after {@link #beginClose()}). */
    void awaitQuiescent() {
        for (int spins = 0; ((int) STATE.getVolatile(this) & ~CLOSING) != 0; spins++) {
            if (spins < 100) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(20_000);
            }
        }
    }

    void markClosed() {
        closed = true;
    }

    /** For a second closer: returns once the first one has finished. */
    void awaitClosed() {
        while (!closed) {
            LockSupport.parkNanos(50_000);
        }
    }

    IllegalStateException closedError() {
        return new IllegalStateException(what + " is closed");
    }

    private RuntimeException pending(int role) {
        String msg = switch (role) {
            case READER -> what + ": another thread is reading; one reader at a time (each direction has one iovec table)";
            case WRITER -> what + ": another thread is writing; one writer at a time (each direction has one iovec table)";
            case READ_WAITER -> what + ": another platform thread is waiting to read; one at a time (virtual threads may wait together)";
            default -> what + ": another platform thread is waiting to write; one at a time (virtual threads may wait together)";
        };
        return role == READER || role == READ_WAITER ? new ReadPending(msg) : new WritePending(msg);
    }

    /** {@link ReadPendingException} with a message naming the queue (the JDK's has none). */
    static final class ReadPending extends ReadPendingException {
        private static final long serialVersionUID = 1L;
        private final String message;

        ReadPending(String message) {
            this.message = message;
        }

        @Override
        public String getMessage() {
            return message;
        }
    }

    /** {@link WritePendingException} with a message naming the queue. */
    static final class WritePending extends WritePendingException {
        private static final long serialVersionUID = 1L;
        private final String message;

        WritePending(String message) {
            this.message = message;
        }

        @Override
        public String getMessage() {
            return message;
        }
    }
}
