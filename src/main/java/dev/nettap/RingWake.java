package dev.nettap;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.FileCalls;
import dev.nettap.internal.sys.Sys;
import dev.nettap.internal.uring.IoUring;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The wake-up of a {@link TapRing}: an eventfd with a {@code POLL_ADD} kept armed on the ring, so
 * that a write to it from any thread ends the owner's wait in {@code io_uring_enter} (which a
 * thread interrupt does not); and the ring's closed flag, which makes that write safe during and
 * after close.
 *
 * <p>Threads: {@link #wakeup()} any thread; {@link #markClosed()} and {@link #close()} the owner,
 * under the same lock as {@link #wakeup()}; everything else the owner only.
 *
 * <p>Invariants: at most one {@code POLL_ADD} is armed ({@code armed}); the eventfd and the shared
 * memory {@link #wakeup()} writes from stay open while {@code closed} is false, and are closed only
 * under the lock after it was set, so no wake-up writes to a closed (perhaps reused) fd or freed
 * memory.
 */
final class RingWake {
    private static final int ECANCELED = linux_h.ECANCELED();

    private final IoUring ring;
    private final int fd;
    private final MemorySegment errno;           // owner arena
    private final MemorySegment buf;             // owner arena: the eventfd read buffer
    private final Object lock = new Object();
    private final Arena shared;                  // shared: the value wakeup() writes; guarded by lock
    private final MemorySegment value;
    private boolean armed;
    private volatile boolean closed;             // written under lock by the owner; read by wakeup() under lock, by isClosed() anywhere

    /**
     * Takes over an open eventfd and the shared arena holding the value written to it.
     *
     * @param ring   the ring the {@code POLL_ADD} goes on
     * @param fd     a non-blocking eventfd, closed by {@link #close()}
     * @param errno  an errno slot of the owner
     * @param buf    8 bytes of the owner's, to read the counter into
     * @param shared a shared arena, closed by {@link #close()}
     * @param value  8 bytes in {@code shared} holding 1
     */
    RingWake(IoUring ring, int fd, MemorySegment errno, MemorySegment buf, Arena shared, MemorySegment value) {
        this.ring = ring;
        this.fd = fd;
        this.errno = errno;
        this.buf = buf;
        this.shared = shared;
        this.value = value;
    }

    /** Makes the owner's current or next wait end. Any thread, any time; nothing once closed. */
    void wakeup() {
        synchronized (lock) {
            if (!closed) {
                // SAFETY: value is 8 bytes in the shared arena, closed only under lock after `closed` is set.
                FileCalls.write(Sys.errnoSlot(), fd, value, 8);
            }
        }
    }

    /** Queues the {@code POLL_ADD} unless it is armed already (or the SQ is full: tried again next time). */
    void arm() {
        if (!armed && ring.prepPollAdd(fd, 0, linux_h.POLLIN(), RingUserData.WAKE)) {
            armed = true;
        }
    }

    /**
     * Takes the {@code POLL_ADD}'s completion: resets the counter and arms again unless cancelled.
     *
     * @param res the kernel's result
     */
    void completed(int res) {
        armed = false;
        FileCalls.read(errno, fd, buf, 8); // reset the counter (EAGAIN if already read: fine)
        if (res != -ECANCELED) {
            arm();
        }
    }

    /** {@return whether {@link #markClosed()} was called} */
    boolean isClosed() {
        return closed;
    }

    /**
     * Sets the closed flag, so no wake-up writes any more.
     *
     * @return false if it was set already
     */
    boolean markClosed() {
        synchronized (lock) {
            if (closed) {
                return false;
            }
            closed = true;
            return true;
        }
    }

    /** Closes the eventfd and frees the shared memory, after {@link #markClosed()}. */
    void close() {
        synchronized (lock) {
            FileCalls.close(errno, fd);
            shared.close();
        }
    }
}
