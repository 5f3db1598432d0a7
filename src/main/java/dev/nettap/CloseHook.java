package dev.nettap;

/**
 * Told when a {@code Tap} it was added to closes, after every call in flight has left and
 * <em>before</em> the queue's fd is closed: the one moment at which something holding the fd
 * number (an epoll set, see {@link TapSelector}) can still remove it, so that a number the process
 * reuses never aliases a stale registration. Lets {@code Tap} tell others without depending on them.
 */
interface CloseHook {
    /**
     * {@code tap} is closing; {@code fd} is still open and closes when this returns. Must not block
     * and must not call back into {@code tap} (it is closed to new calls already). The queue is
     * passed as an identity only (compared with {@code ==}), so this interface does not depend on
     * {@code Tap} (no class cycle).
     *
     * @param tap the closing queue, for identity comparison
     * @param fd  its fd, open for the duration of this call
     */
    void tapClosing(Object tap, int fd);
}
