package dev.nettap.internal.sys;

import dev.nettap.internal.linux.linux_h;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * libc downcalls, one family: setns, getpid, geteuid and getegid, the calls about the calling thread or
 * process. Each method returns the raw result; the errno captured in the caller's slot (see {@link Sys}) is meaningful only when that result is {@code -1}. A
 * {@code Throwable} from {@code invokeExact} means a wrong handle type, a bug here, never a
 * runtime condition.
 */
public final class ProcessCalls {
    private ProcessCalls() {}

    private static final MethodHandle SETNS = Sys.errnoHandle(linux_h.setns$address(), linux_h.setns$descriptor());
    private static final MethodHandle GETPID = Sys.plainHandle(linux_h.getpid$address(), linux_h.getpid$descriptor());
    private static final MethodHandle GETEUID = Sys.plainHandle(linux_h.geteuid$address(), linux_h.geteuid$descriptor());
    private static final MethodHandle GETEGID = Sys.plainHandle(linux_h.getegid$address(), linux_h.getegid$descriptor());

    /** {@code setns(fd, nstype)}: changes the namespace of the calling OS thread only. */
    public static int setns(MemorySegment errno, int fd, int nstype) {
        try {
            return (int) SETNS.invokeExact(errno, fd, nstype);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code getpid()}. */
    public static int getpid() {
        try {
            return (int) GETPID.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code geteuid()}. */
    public static int geteuid() {
        try {
            return (int) GETEUID.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code getegid()}. */
    public static int getegid() {
        try {
            return (int) GETEGID.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
