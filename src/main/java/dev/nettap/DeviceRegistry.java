package dev.nettap;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.FileCalls;
import dev.nettap.internal.sys.MountCalls;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The devices this process holds, by key: one device object (and one {@link DeviceQueues}) per
 * device, shared by every queue of it, from the first queue's join until the last member leaves.
 * Generic in the device object so that it does not depend on {@link TapDevice}, which holds the one
 * instance (no class cycle).
 *
 * <p>Queues are known to be of one device by the macvtap's character device, or by the tun
 * device's namespace and name ({@link #key}).
 *
 * <p><b>Threads.</b> Thread-safe. One lock, the map {@code held}, guards the map and the queue list
 * and member count of every {@link DeviceQueues} it made; a {@link Maker} runs with it held, so
 * a second queue's join waits until the first has finished setting the device up.
 *
 * @param <D> the device object
 */
final class DeviceRegistry<D> {
    /** Makes the device object for a device's first queue, with the registry's lock held. */
    @FunctionalInterface
    interface Maker<D> {
        /** Makes the device object, which shares {@code queues}; if this throws, nothing is registered. */
        D make(DeviceQueues queues) throws TapException;
    }

    private record Entry<D>(D device, DeviceQueues queues) {}

    private static final AtomicLong UNSHARED = new AtomicLong(); // keys of queues whose namespace is unknown

    private final Map<String, Entry<D>> held = new HashMap<>(); // guarded by held

    /**
     * The device object registered under {@code key}, made by {@code maker} if there is none,
     * counted as one more member until {@link #leave}.
     */
    D join(String key, Maker<D> maker) throws TapException {
        synchronized (held) {
            Entry<D> e = held.get(key);
            if (e == null) {
                DeviceQueues queues = new DeviceQueues(key, held);
                e = new Entry<>(maker.make(queues), queues);
                held.put(key, e);
            }
            e.queues().joined();
            return e.device();
        }
    }

    /**
     * A member of the device of {@code queues} left ({@code tap} closed, or {@code null}: an open
     * that failed after joining); the last one takes the device out of the registry.
     */
    void leave(DeviceQueues queues, QueueMember tap) {
        synchronized (held) {
            if (queues.left(tap)) {
                Entry<D> e = held.get(queues.key());
                if (e != null && e.queues() == queues) {
                    held.remove(queues.key());
                }
            }
        }
    }

    /**
     * The key under which queues share a device object: the character device number of a macvtap
     * (unique system-wide), else the tun device's namespace and name. When the namespace cannot be
     * read ({@code nsId} {@code null}: {@code TUNGETDEVNETNS} needs {@code CAP_NET_ADMIN}), the name
     * alone does not tell devices apart (an unprivileged VMM may be handed two devices of one name
     * from two namespaces), so the queue gets a key of its own and shares nothing: its first open
     * turns its device's offloads off, and {@link TapDevice#offloads()} reports only what was set
     * through it.
     */
    static String key(boolean chr, long rdev, String nsId, String name) {
        if (chr) {
            return "chr " + DeviceNode.format(rdev);
        }
        return nsId != null ? "tun " + nsId + " " + name : "tun ? " + name + " #" + UNSHARED.incrementAndGet();
    }

    /** The inode of the device's network namespace, or {@code null} when {@code TUNGETDEVNETNS} is not permitted. */
    static String namespaceId(MemorySegment err, int fd) {
        int nsfd = FileCalls.ioctl(err, fd, linux_h.TUNGETDEVNETNS(), 0L);
        if (nsfd < 0) {
            return null; // unprivileged: the namespace is unknown, so the queue shares with nothing (see key)
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = dev.nettap.internal.linux.stat.allocate(arena);
            // SAFETY: st is a struct stat in this arena, alive for the call.
            return MountCalls.fstat(err, nsfd, st) < 0 ? null : Long.toString(dev.nettap.internal.linux.stat.st_ino(st));
        } finally {
            FileCalls.close(err, nsfd);
        }
    }
}
