package dev.nettap;

import java.util.ArrayList;
import java.util.List;

/**
 * The queues this process holds open of one device, and running a call with the fd of any one of
 * them: the device-wide ioctls may go through whichever queue is still open.
 *
 * <p>Two counts are kept: {@link #openQueues()} counts the queues added ({@link #add}, by the
 * {@link Tap} constructor) and not yet removed; the member count also counts a queue that joined
 * but was never made a {@code Tap} (its open failed after joining), so that the device stays
 * registered until every join has been matched by a leave.
 *
 * <p><b>Threads.</b> Thread-safe. The queue list and the member count are guarded by the lock of
 * the {@link DeviceRegistry} that made this object (given at construction), because the last
 * member leaving and the device leaving the registry must be one step; {@link #joined()} and
 * {@link #left} are called by the registry with that lock held. {@link #withQueue} holds the lock
 * only to copy the list, never while calling a queue.
 */
final class DeviceQueues {
    private final String key;
    private final Object lock;                                   // the registry's
    private final List<QueueMember> queues = new ArrayList<>(); // guarded by lock
    private int members;                                         // guarded by lock: joined, not yet left

    DeviceQueues(String key, Object lock) {
        this.key = key;
        this.lock = lock;
    }

    /** {@return the registry key of the device (see {@link DeviceRegistry#key})} */
    String key() {
        return key;
    }

    /** One more member; the caller holds the registry's lock. */
    void joined() {
        assert Thread.holdsLock(lock);
        members++;
    }

    /**
     * A member left ({@code tap} closed, or {@code null}: an open that failed after joining); the
     * caller holds the registry's lock.
     *
     * @return whether that was the last member
     */
    boolean left(QueueMember tap) {
        assert Thread.holdsLock(lock);
        if (tap != null) {
            queues.remove(tap);
        }
        return --members == 0;
    }

    /** Records a queue that joined; called by the {@link Tap} constructor. */
    void add(QueueMember tap) {
        synchronized (lock) {
            queues.add(tap);
        }
    }

    /** {@return how many queues of this device this process holds open now} */
    int openQueues() {
        synchronized (lock) {
            return queues.size();
        }
    }

    /**
     * Runs {@code call} with the fd of an open queue of this device.
     *
     * @throws IllegalStateException if no queue of the device is open
     */
    <T> T withQueue(QueueMember.FdCall<T> call) throws TapException {
        List<QueueMember> snapshot;
        synchronized (lock) {
            snapshot = List.copyOf(queues);
        }
        for (QueueMember t : snapshot) {
            try {
                return t.withFd(call);
            } catch (IllegalStateException e) {
                if (!t.isClosed()) {
                    throw e;
                } // that queue closed meanwhile: try the next
            }
        }
        throw new IllegalStateException("this process holds no open queue of device " + key);
    }
}
