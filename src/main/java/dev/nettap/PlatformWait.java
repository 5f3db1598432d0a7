package dev.nettap;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.linux.pollfd;
import dev.nettap.internal.sys.Sys;
import dev.nettap.internal.sys.PollCalls;
import dev.nettap.internal.sys.FileCalls;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.spi.AbstractInterruptibleChannel;

/**
 * How a platform thread waits for one direction of a queue: {@code poll} on the queue's fd, the
 * queue's close eventfd and this direction's interrupt eventfd, one waiter at a time (the
 * direction's waiter role in the {@link CloseGate}; the pollfd table is this direction's own).
 *
 * <p><b>Interrupts.</b> {@code poll} in a downcall does not see {@link Thread#interrupt()}. The JDK's
 * public hook for that is {@link AbstractInterruptibleChannel}: between {@code begin()} and
 * {@code end()} an interrupt of the thread closes the channel, and here closing it writes this
 * direction's interrupt eventfd, so the {@code poll} returns and the wait reports
 * {@link Status#INTERRUPTED} with the thread's interrupt flag still set, as a virtual thread's wait
 * does. A channel closes only once: after an interrupt the next wait makes a new one (the only
 * allocation, and only after an interrupt).
 */
final class PlatformWait {
    private final CloseGate gate;
    private final int role;
    private final MemorySegment pfd;
    private final MemorySegment closePfd;
    private final MemorySegment interruptPfd;
    private final MemorySegment errno;
    private final MemorySegment drain;
    private final MemorySegment one;
    private final int interruptFd;
    private InterruptHook interruptor; // touched only by the thread holding the role

    PlatformWait(Arena arena, CloseGate gate, boolean readable, int fd, int closeFd, int interruptFd) {
        this.gate = gate;
        this.role = readable ? CloseGate.READ_WAITER : CloseGate.WRITE_WAITER;
        this.interruptFd = interruptFd;
        pfd = pollfd.allocateArray(3, arena);
        pollfd.fd(pfd, fd);
        // POLLPRI too: never reported as ready by tun or macvtap, but carried by the wake-up a
        // device's deletion sends, which poll would drop for a POLLOUT-only waiter.
        pollfd.events(pfd, (short) ((readable ? linux_h.POLLIN() : linux_h.POLLOUT()) | linux_h.POLLPRI()));
        closePfd = pollfd.asSlice(pfd, 1);
        pollfd.fd(closePfd, closeFd);
        pollfd.events(closePfd, (short) linux_h.POLLIN());
        interruptPfd = pollfd.asSlice(pfd, 2);
        pollfd.fd(interruptPfd, interruptFd);
        pollfd.events(interruptPfd, (short) linux_h.POLLIN());
        errno = Sys.newErrnoSlot(arena);
        drain = arena.allocate(ValueLayout.JAVA_LONG);
        one = arena.allocateFrom(ValueLayout.JAVA_LONG, 1L);
        interruptor = new InterruptHook(interruptFd, one);
    }

    /** Waits up to {@code nanos} ({@link Timeouts#FOREVER} for no limit); a {@link Status}. */
    long await(long nanos) {
        gate.enterRole(role);
        try {
            InterruptHook in = interruptor;
            if (!in.isOpen()) {
                in = interruptor = new InterruptHook(interruptFd, one);
            }
            long r = Status.WAIT_FAILED;
            in.enter();
            try {
                r = poll(nanos);
            } finally {
                if (in.leave()) {
                    // SAFETY: drain is an 8-byte segment of the queue's arena, which is closed only
                    // after this role is released (close waits for quiescence); 8 = its size.
                    FileCalls.read(errno, interruptFd, drain, 8); // reset the eventfd for the next wait
                    if (r != Status.CLOSED) {
                        r = Status.INTERRUPTED;
                    }
                }
            }
            return r;
        } finally {
            gate.exitRole(role);
        }
    }

    private long poll(long nanos) {
        long deadline = nanos == Timeouts.FOREVER ? 0 : System.nanoTime() + nanos;
        while (true) {
            int ms = nanos == Timeouts.FOREVER ? -1 : Timeouts.pollMillis(deadline);
            pollfd.revents(pfd, (short) 0);
            pollfd.revents(closePfd, (short) 0);
            pollfd.revents(interruptPfd, (short) 0);
            // SAFETY: pfd holds three pollfd entries in the tap's arena, which outlives every call
            // holding a gate role; the three fds stay open until the gate is quiescent.
            int r = PollCalls.poll(errno, pfd, 3, ms);
            if (r < 0) {
                if (Sys.errno(errno) == linux_h.EINTR()) {
                    continue;
                }
                return Status.WAIT_FAILED; // ENOMEM: nothing waited; the caller may wait again
            }
            if (pollfd.revents(closePfd) != 0 || gate.isClosing()) {
                return Status.CLOSED;
            }
            if (pollfd.revents(interruptPfd) != 0) {
                return Status.INTERRUPTED;
            }
            short rev = pollfd.revents(pfd);
            if ((rev & (linux_h.POLLERR() | linux_h.POLLHUP() | linux_h.POLLNVAL())) != 0) {
                return Status.DEVICE_GONE;
            }
            if (rev != 0) {
                return Status.READY;
            }
            if (ms == 0) {
                return Status.TIMEOUT;
            }
        }
    }
}
