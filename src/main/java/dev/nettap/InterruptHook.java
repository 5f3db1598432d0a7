package dev.nettap;

import dev.nettap.internal.sys.FileCalls;
import dev.nettap.internal.sys.Sys;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.spi.AbstractInterruptibleChannel;

/**
 * Makes {@code Thread.interrupt()} wake a platform thread blocked in {@code poll}/{@code epoll_wait}:
 * between {@link #enter()} and {@link #leave()}, an interrupt writes 8 bytes to an eventfd the wait
 * includes. Uses the JDK's public hook for this ({@link AbstractInterruptibleChannel}'s
 * begin/end), so no thread is ever signalled. A hook that fired is spent (the channel is closed):
 * its owner makes a new one, the only allocation, and only after an interrupt. Used by
 * {@link PlatformWait} and {@link SelectorWait} (a {@link TapSelector}'s wait).
 */
final class InterruptHook extends AbstractInterruptibleChannel {
    private final int eventFd;
    private final MemorySegment one;

    /**
     * @param eventFd the eventfd the wait polls; open while any waiter holds the owner's role
     * @param one     8 native bytes holding 1, alive as long as the owner (its arena)
     */
    InterruptHook(int eventFd, MemorySegment one) {
        this.eventFd = eventFd;
        this.one = one;
    }

    /** Before blocking: from here an interrupt writes the eventfd. */
    void enter() {
        begin();
    }

    /** {@return whether an interrupt fired since {@link #enter()} (the hook is then spent)} */
    boolean leave() {
        try {
            end(true);
            return false;
        } catch (AsynchronousCloseException e) { // ClosedByInterruptException: interrupted
            return true;
        }
    }

    @Override
    protected void implCloseChannel() throws IOException {
        // Runs on the interrupting thread, while the waiter holds its owner's role: the eventfd is open.
        // SAFETY: one is an 8-byte segment (8 = its size) of the owner's arena, closed only after
        // the waiter releases its role, and the waiter cannot release it before this write is
        // done: Thread.interrupt runs it as postInterrupt -> close() -> implCloseChannel inside
        // synchronized (closeLock); the waiter's leave() -> end(true) sees interruptedTarget
        // (set under the thread's interrupt lock before blockedOn(null) could clear the blocker)
        // and calls postInterrupt -> close() itself, which blocks on closeLock until this call
        // returns (or runs it itself if it comes first; the later one finds closed and returns).
        // Checked against JDK 25's AbstractInterruptibleChannel (begin/end/close, Interruptible).
        FileCalls.write(Sys.errnoSlot(), eventFd, one, 8);
    }
}
