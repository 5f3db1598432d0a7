package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a thread has allocated, for the tests that show a path allocates nothing per frame or per
 * wake. Those tests are tagged {@link #TAG} and run in a JVM of their own (see {@code pom.xml}):
 * every downcall that captures {@code errno} makes the JDK slice the capture segment
 * ({@code SharedUtils.checkCaptureSegment}), a 40-byte object that only C2's escape analysis
 * removes, and whether it does depends on what else the JVM has compiled. In a JVM shared with two
 * hundred other tests that profile is polluted and the slice can stay, which is the JDK's
 * allocation, not nettap's; in a JVM that runs one such class the measurement is nettap's alone.
 */
final class AllocationProbe {
    /** The JUnit tag of the allocation tests; surefire runs them in a fresh JVM per class. */
    static final String TAG = "allocation";

    private AllocationProbe() {
    }

    /**
     * {@code com.sun.management.ThreadMXBean#getThreadAllocatedBytes} of {@code t}, by reflection
     * (module dev.nettap does not read jdk.management; the test JVM resolves it anyway).
     */
    static long allocatedBytes(Thread t) throws ReflectiveOperationException {
        Object mx = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean").invoke(null);
        long n = (long) Class.forName("com.sun.management.ThreadMXBean").getMethod("getThreadAllocatedBytes", long.class)
                .invoke(mx, t.threadId());
        assertTrue(n >= 0, "thread allocation accounting is off in this JVM");
        return n;
    }
}
