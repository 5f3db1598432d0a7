package dev.nettap;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Sys;
import dev.nettap.internal.sys.FileCalls;
import java.lang.foreign.MemorySegment;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The receive offloads of the device behind one queue ({@code TUNSETOFFLOAD}), and what was last
 * set: the kernel has no way to read them back. Moved out of {@code Tap} unchanged; {@link Tap}'s
 * {@code setOffloads}, {@code offloads} and {@code probeOffloads} delegate here.
 */
final class DeviceOffloads {
    private final int fd;
    private final CloseGate gate;
    private final Supplier<String> context;
    private final Object offloadLock = new Object();
    private volatile Set<Offload> offloads = Collections.unmodifiableSet(EnumSet.noneOf(Offload.class));

    DeviceOffloads(int fd, CloseGate gate, Supplier<String> context) {
        this.fd = fd;
        this.gate = gate;
        this.context = context;
    }

    void setOffloads(Set<Offload> offloads) throws TapException {
        Set<Offload> set = offloads.isEmpty() ? EnumSet.noneOf(Offload.class) : EnumSet.copyOf(offloads);
        Offload.checkDependencies(set);
        gate.enter();
        try {
            synchronized (offloadLock) {
                MemorySegment err = Sys.errnoSlot();
                if (FileCalls.ioctl(err, fd, linux_h.TUNSETOFFLOAD(), (long) Offload.flags(set)) < 0) {
                    int e = Sys.errno(err);
                    throw TapException.syscall("TUNSETOFFLOAD", e, context.get() + " with " + set,
                            e == linux_h.EINVAL() ? "this kernel does not accept that combination" : null);
                }
                this.offloads = Collections.unmodifiableSet(set);
            }
        } finally {
            gate.exit();
        }
    }

    Set<Offload> offloads() {
        return offloads;
    }

    Set<Offload> probeOffloads() throws TapException {
        gate.enter();
        try {
            synchronized (offloadLock) {
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
                if (FileCalls.ioctl(err, fd, linux_h.TUNSETOFFLOAD(), (long) Offload.flags(offloads)) < 0) {
                    throw TapException.syscall("TUNSETOFFLOAD", Sys.errno(err), context.get() + " restoring " + offloads, null);
                }
                return Collections.unmodifiableSet(accepted);
            }
        } finally {
            gate.exit();
        }
    }
}
