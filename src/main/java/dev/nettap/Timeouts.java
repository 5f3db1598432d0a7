package dev.nettap;

import java.time.Duration;
import java.util.Objects;

/** Wait timeouts as nanoseconds, saturating: any {@link Duration} is accepted, none overflows. */
final class Timeouts {
    private Timeouts() {}

    /** Returned by {@link #nanos(Duration)} for a wait without end. */
    static final long FOREVER = -1;
    /** From about 146 years on a timeout means forever (and {@code now + nanos} cannot overflow). */
    private static final long MAX_SECONDS = 1L << 32;

    /**
     * {@code timeout} in nanoseconds, or {@link #FOREVER} for a negative timeout or one too long to
     * matter (including {@link java.time.temporal.ChronoUnit#FOREVER}'s duration).
     */
    static long nanos(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative() || timeout.getSeconds() >= MAX_SECONDS) {
            return FOREVER;
        }
        return timeout.toNanos(); // < 2^32 s = 4.3e18 ns: fits, and so does nanoTime() + it
    }

    /** Milliseconds for {@code poll} until {@code deadline} (rounded up; 0 once passed). */
    static int pollMillis(long deadline) {
        long left = deadline - System.nanoTime();
        return left <= 0 ? 0 : (int) Math.min(Integer.MAX_VALUE, (left + 999_999) / 1_000_000);
    }
}
