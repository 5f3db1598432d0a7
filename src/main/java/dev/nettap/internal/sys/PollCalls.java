package dev.nettap.internal.sys;

import dev.nettap.internal.linux.linux_h;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * libc downcalls, one family: poll, the epoll family and eventfd (readiness). Each method returns
 * the raw result; the errno captured in the caller's slot (see {@link Sys}) is meaningful only when that result is {@code -1}. A
 * {@code Throwable} from {@code invokeExact} means a wrong handle type, a bug here, never a
 * runtime condition.
 */
public final class PollCalls {
    private PollCalls() {}

    private static final MethodHandle POLL = Sys.errnoHandle(linux_h.poll$address(), linux_h.poll$descriptor());
    private static final MethodHandle EVENTFD = Sys.errnoHandle(linux_h.eventfd$address(), linux_h.eventfd$descriptor());
    private static final MethodHandle EPOLL_CREATE1 = Sys.errnoHandle(linux_h.epoll_create1$address(), linux_h.epoll_create1$descriptor());
    private static final MethodHandle EPOLL_CTL = Sys.errnoHandle(linux_h.epoll_ctl$address(), linux_h.epoll_ctl$descriptor());
    private static final MethodHandle EPOLL_WAIT = Sys.errnoHandle(linux_h.epoll_wait$address(), linux_h.epoll_wait$descriptor());

    /** {@code poll(fds, nfds, timeoutMillis)}; {@code fds} holds {@code nfds} {@code struct pollfd}. */
    public static int poll(MemorySegment errno, MemorySegment fds, long nfds, int timeoutMillis) {
        try {
            return (int) POLL.invokeExact(errno, fds, nfds, timeoutMillis);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code eventfd(initval, flags)}. */
    public static int eventfd(MemorySegment errno, int initval, int flags) {
        try {
            return (int) EVENTFD.invokeExact(errno, initval, flags);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code epoll_create1(flags)}. */
    public static int epollCreate1(MemorySegment errno, int flags) {
        try {
            return (int) EPOLL_CREATE1.invokeExact(errno, flags);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code epoll_ctl(epfd, op, fd, event)}; {@code event} is one packed {@code struct epoll_event}. */
    public static int epollCtl(MemorySegment errno, int epfd, int op, int fd, MemorySegment event) {
        try {
            return (int) EPOLL_CTL.invokeExact(errno, epfd, op, fd, event);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code epoll_wait(epfd, events, maxevents, timeout)}; {@code events} holds {@code maxevents} entries. */
    public static int epollWait(MemorySegment errno, int epfd, MemorySegment events, int maxevents, int timeoutMillis) {
        try {
            return (int) EPOLL_WAIT.invokeExact(errno, epfd, events, maxevents, timeoutMillis);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
