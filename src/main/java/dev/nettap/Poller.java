package dev.nettap;

import dev.nettap.internal.linux.epoll_event;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The readiness poller for virtual threads. An FFM downcall pins a virtual thread to its carrier
 * for as long as it runs, so a virtual thread must never block in {@code poll}: it parks instead,
 * and this one daemon platform thread waits in {@code epoll_wait} on every registered queue and
 * unparks the waiters of a queue when it becomes ready.
 *
 * <p>Each registered fd uses level-triggered {@code EPOLLONESHOT}: a waiter (re)arms it with the
 * directions that have waiters, so an fd that is already ready reports at once (no lost wake-up),
 * and a ready fd nobody waits for does not spin the poller.
 */
final class Poller {
    private static Poller instance;

    private final int epfd;
    private final ConcurrentHashMap<Long, Tap.WaitSet> sets = new ConcurrentHashMap<>();
    private final AtomicLong ids = new AtomicLong();

    private Poller(int epfd) {
        this.epfd = epfd;
        Thread.ofPlatform().daemon().name("nettap-poller").start(this::loop);
    }

    static synchronized Poller get() throws TapException {
        if (instance == null) {
            MemorySegment err = Sys.errnoSlot();
            int ep = Sys.epollCreate1(err, linux_h.EPOLL_CLOEXEC());
            if (ep < 0) {
                throw TapException.syscall("epoll_create1", Sys.errno(err), "the nettap poller", null);
            }
            instance = new Poller(ep);
        }
        return instance;
    }

    /** A key for {@link #register}; events of that fd carry it. */
    long newKey() {
        return ids.incrementAndGet();
    }

    /** Adds {@code fd}, disarmed (one-shot with no events: even an error reports once only). */
    void register(int fd, long id, Tap.WaitSet set, String ctx) throws TapException {
        sets.put(id, set);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ev = event(a, linux_h.EPOLLONESHOT(), id);
            MemorySegment err = Sys.errnoSlot();
            if (Sys.epollCtl(err, epfd, linux_h.EPOLL_CTL_ADD(), fd, ev) < 0) {
                sets.remove(id);
                throw TapException.syscall("epoll_ctl(EPOLL_CTL_ADD)", Sys.errno(err), ctx, null);
            }
        }
    }

    /** Arms {@code fd} once with the set's own prefilled event {@code ev}; false (errno in {@code errno}) on failure. */
    boolean arm(int fd, MemorySegment ev, MemorySegment errno) {
        return Sys.epollCtl(errno, epfd, linux_h.EPOLL_CTL_MOD(), fd, ev) == 0;
    }

    /** Removes {@code fd} before it is closed. */
    void deregister(int fd, long id) {
        try (Arena a = Arena.ofConfined()) {
            Sys.epollCtl(Sys.errnoSlot(), epfd, linux_h.EPOLL_CTL_DEL(), fd, event(a, 0, id));
        }
        sets.remove(id);
    }

    /** A packed {@code struct epoll_event} with {@code events} and the 64-bit key. */
    static MemorySegment event(Arena arena, int events, long id) {
        MemorySegment ev = epoll_event.allocate(arena);
        epoll_event.events(ev, events);
        // data is at offset 4 (the struct is packed on x86-64): write the u64 unaligned.
        ev.set(ValueLayout.JAVA_LONG_UNALIGNED, epoll_event.data$offset(), id);
        return ev;
    }

    private void loop() {
        final int max = 64;
        MemorySegment events = epoll_event.allocateArray(max, Arena.global()); // lives as long as the thread
        MemorySegment err = Sys.newErrnoSlot(Arena.global());
        long stride = epoll_event.sizeof();
        while (true) {
            int n = Sys.epollWait(err, epfd, events, max, -1);
            if (n < 0) {
                continue; // EINTR only: the fd and the buffer are ours and valid
            }
            for (int i = 0; i < n; i++) {
                long base = i * stride;
                int ev = events.get(ValueLayout.JAVA_INT_UNALIGNED, base + epoll_event.events$offset());
                long id = events.get(ValueLayout.JAVA_LONG_UNALIGNED, base + epoll_event.data$offset());
                Tap.WaitSet set = sets.get(id);
                if (set != null) {
                    set.fired(ev);
                }
            }
        }
    }
}
