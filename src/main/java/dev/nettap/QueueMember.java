package dev.nettap;

/**
 * One open queue of a device, as the device's shared state ({@link TapDevice} and its parts) sees
 * it: a {@link Tap} hands in an adapter, so none of them depends on {@code Tap} (no class cycle).
 *
 * <p><b>Threads.</b> Implementations are called from any thread; {@link #withFd} keeps the fd open
 * for the call (a close waits for it).
 */
interface QueueMember {
    /** A call made with the fd of one open queue of the device. */
    @FunctionalInterface
    interface FdCall<T> {
        T apply(int fd) throws TapException;
    }

    /** Runs {@code call} with the queue's fd, kept open for the call; throws {@link IllegalStateException} if closed. */
    <T> T withFd(FdCall<T> call) throws TapException;

    /** {@return whether the queue is closed} */
    boolean isClosed();
}
