package dev.nettap;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.FileCalls;
import dev.nettap.internal.sys.Sys;
import java.lang.foreign.MemorySegment;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;

/**
 * The receive offloads of one device ({@code TUNSETOFFLOAD}): turning them off for the first queue
 * this process opens, setting a validated set through any open queue, remembering what was set
 * (the kernel cannot report it), and probing which ones the kernel accepts.
 *
 * <p><b>Threads.</b> Thread-safe. {@code lock} serializes {@link #set} and {@link #probe}: each holds
 * it across its ioctls and, for {@code set}, the update of the remembered set, so the set in force
 * and the one remembered agree. The remembered set is a volatile reference to an unmodifiable set,
 * read by {@link #get()} without the lock. Lock order: this lock, then (briefly, inside
 * {@link DeviceQueues#withQueue}) the registry's lock; never the reverse.
 */
final class DeviceOffloads {
    private final DeviceQueues queues;
    private final Object lock = new Object();
    private volatile Set<Offload> offloads = Collections.unmodifiableSet(EnumSet.noneOf(Offload.class));

    DeviceOffloads(DeviceQueues queues) {
        this.queues = queues;
    }

    /**
     * Receive offloads off ({@code TUNSETOFFLOAD 0}) on the first queue of a device: the kernel
     * completes checksums and segments before handing frames over, as a new {@code DeviceOffloads}
     * assumes.
     */
    static void turnOff(MemorySegment err, int fd, String ctx) throws TapException {
        if (FileCalls.ioctl(err, fd, linux_h.TUNSETOFFLOAD(), 0L) < 0) {
            throw TapException.syscall("TUNSETOFFLOAD", Sys.errno(err), ctx, null);
        }
    }

    /** Sets {@code offloads} (checked against {@link Offload}'s dependencies first) through an open queue. */
    void set(Set<Offload> offloads) throws TapException {
        Set<Offload> set = offloads.isEmpty() ? EnumSet.noneOf(Offload.class) : EnumSet.copyOf(offloads);
        Offload.checkDependencies(set);
        synchronized (lock) {
            queues.withQueue(fd -> {
                MemorySegment err = Sys.errnoSlot();
                if (FileCalls.ioctl(err, fd, linux_h.TUNSETOFFLOAD(), (long) Offload.flags(set)) < 0) {
                    int e = Sys.errno(err);
                    throw TapException.syscall("TUNSETOFFLOAD", e, QueueIoctls.context(fd) + " with " + set,
                            e == linux_h.EINVAL() ? "this kernel does not accept that combination" : null);
                }
                return null;
            });
            this.offloads = Collections.unmodifiableSet(set);
        }
    }

    /** {@return the offloads last set (none at first), unmodifiable} */
    Set<Offload> get() {
        return offloads;
    }

    /**
     * Tries each offload with the flags it depends on, then restores the set in force.
     *
     * @return the offloads the kernel accepted, unmodifiable
     */
    Set<Offload> probe() throws TapException {
        synchronized (lock) {
            Set<Offload> current = offloads;
            return queues.withQueue(fd -> {
                MemorySegment err = Sys.errnoSlot();
                Set<Offload> accepted = EnumSet.noneOf(Offload.class);
                for (Offload o : Offload.values()) {
                    EnumSet<Offload> trial = EnumSet.of(Offload.CSUM, o);
                    if (o == Offload.TSO_ECN) {
                        trial.add(Offload.TSO4);
                    } else if (o == Offload.USO4 || o == Offload.USO6) {
                        trial.add(Offload.USO4);
                        trial.add(Offload.USO6);
                    }
                    if (FileCalls.ioctl(err, fd, linux_h.TUNSETOFFLOAD(), (long) Offload.flags(trial)) == 0) {
                        accepted.add(o);
                    }
                }
                if (FileCalls.ioctl(err, fd, linux_h.TUNSETOFFLOAD(), (long) Offload.flags(current)) < 0) {
                    throw TapException.syscall("TUNSETOFFLOAD", Sys.errno(err),
                            QueueIoctls.context(fd) + " restoring " + current, null);
                }
                return Collections.unmodifiableSet(accepted);
            });
        }
    }
}
