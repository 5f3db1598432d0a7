package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Status names and wait timeouts: pure code. */
class StatusTest {
    @Test
    void everyPublicStatusIsNamedByItsOwnNameAndEveryNameIsAConstant() throws Exception {
        Set<Long> seen = new HashSet<>();
        int statuses = 0;
        for (Field f : Tap.class.getFields()) {
            if (f.getType() != long.class || !Modifier.isStatic(f.getModifiers())) {
                continue;
            }
            long v = f.getLong(null);
            statuses++;
            assertTrue(seen.add(v), "two statuses share " + v);
            String d = Tap.describe(v);
            assertTrue(d.startsWith(f.getName() + ": "), f.getName() + " is described as " + d);
            assertSame(d, Tap.describe(v), "a constant string, not built per call");
        }
        assertEquals(13, statuses, "READY, TIMEOUT and eleven negative statuses");
        for (long v = Status.LOWEST; v < 0; v++) {
            assertTrue(seen.contains(v), "status " + v + " has a public constant");
        }
        assertEquals("not a nettap status", Tap.describe(Status.LOWEST - 1));
        assertEquals("a byte count", Tap.describe(1514));
    }

    @Test
    void timeoutsSaturateInsteadOfOverflowing() {
        assertEquals(Timeouts.FOREVER, Timeouts.nanos(ChronoUnit.FOREVER.getDuration()));
        assertEquals(Timeouts.FOREVER, Timeouts.nanos(Duration.ofSeconds(Long.MAX_VALUE, 999_999_999)));
        assertEquals(Timeouts.FOREVER, Timeouts.nanos(Duration.ofSeconds(1L << 32)));
        assertEquals(Timeouts.FOREVER, Timeouts.nanos(Duration.ofNanos(-1)));
        assertEquals(Timeouts.FOREVER, Timeouts.nanos(Duration.ofSeconds(Long.MIN_VALUE)));
        assertEquals(0, Timeouts.nanos(Duration.ZERO));
        assertEquals(((1L << 32) - 1) * 1_000_000_000L, Timeouts.nanos(Duration.ofSeconds((1L << 32) - 1)));
        assertEquals(0, Timeouts.pollMillis(System.nanoTime() - 1));
        assertEquals(Integer.MAX_VALUE, Timeouts.pollMillis(System.nanoTime() + Long.MAX_VALUE / 2));
    }
}
