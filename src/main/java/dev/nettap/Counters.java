package dev.nettap;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A forwarding loop's counters ({@link Forwarder}, per direction; {@link UringForwarder}): written by one thread with
 * opaque stores, read by any thread with opaque loads, so a reader sees values the writer wrote
 * (no tearing of a {@code long}) and the writer pays no fence. No allocation per update.
 */
final class Counters {
    static final int FRAMES = 0;
    static final int BYTES = 1;
    static final int DROPPED = 2;
    static final int MALFORMED = 3;
    static final int ERRORS = 4;
    static final int LAST_ERROR = 5;

    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(long[].class);

    private final long[] values = new long[6];

    /** Adds {@code n} to counter {@code i}; the writing thread only. */
    void add(int i, long n) {
        SLOT.setOpaque(values, i, (long) SLOT.getOpaque(values, i) + n);
    }

    /** Counts one frame lost to {@code status} and keeps the status; the writing thread only. */
    void error(long status) {
        add(ERRORS, 1);
        SLOT.setOpaque(values, LAST_ERROR, status);
    }

    /** Counter {@code i} as last written; any thread. */
    long get(int i) {
        return (long) SLOT.getOpaque(values, i);
    }
}
