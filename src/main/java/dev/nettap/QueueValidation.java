package dev.nettap;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Sys;
import dev.nettap.internal.sys.FileCalls;
import dev.nettap.vnet.VirtioNetHdr;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The checks and settings every fd passes before it becomes a {@link Tap}: {@code FD_CLOEXEC} and
 * {@code O_NONBLOCK}, {@code TUNGETIFF} (a TAP/TUN queue of the expected mode with
 * {@code IFF_NO_PI} and {@code IFF_VNET_HDR}, {@code IFF_NO_PI} read without side effects, see
 * {@link NoPiCheck}), and the 12-byte header size set and read back. (Receive offloads are the
 * device's: {@link TapDevice#join} turns them off for the first queue.) Throws a {@link TapException} naming what was found; never closes the fd
 * (the caller owns it until the queue is built).
 */
final class QueueValidation {
    private QueueValidation() {}

    /** What the checks found. */
    record Queue(String name, TapMode mode, int previousHdrSize) {}

    static Queue validate(MemorySegment err, int fd, TapMode expected, NetnsRef netns, String ctx) throws TapException {
        setFdFlags(err, fd, ctx);
        Iff iff = Iff.query(err, fd);
        if (iff == null) {
            int e = Sys.errno(err);
            String found = e == linux_h.EBADFD()
                    ? "a clone-device fd with no device attached (TUNSETIFF never succeeded, or the device was deleted)"
                    : e == linux_h.ENOTTY() || e == linux_h.EINVAL() ? "not a TAP/TUN queue (a file, pipe, socket or other device)"
                    : e == linux_h.EBADF() ? "not an open file descriptor" : null;
            throw TapException.syscall(found == null ? TapException.Kind.SYSCALL : TapException.Kind.NOT_A_TAP,
                    "TUNGETIFF", e, ctx, found);
        }
        int flags = NoPiCheck.trueFlags(err, fd, iff, netns, ctx);
        String name = iff.name();
        TapMode mode = checkFlags(flags, expected, ctx, name);
        int previous;
        try (Arena arena = Arena.ofConfined()) {
            previous = vnetHdrSize(err, fd, ctx, arena);
            if (previous != VirtioNetHdr.SIZE) {
                MemorySegment sz = arena.allocateFrom(ValueLayout.JAVA_INT, VirtioNetHdr.SIZE);
                if (FileCalls.ioctl(err, fd, linux_h.TUNSETVNETHDRSZ(), sz) < 0) {
                    int e = Sys.errno(err);
                    throw TapException.syscall(TapException.Kind.HEADER_SIZE, "TUNSETVNETHDRSZ", e, ctx,
                            "cannot set the 12-byte virtio-net header");
                }
                int now = vnetHdrSize(err, fd, ctx, arena);
                if (now != VirtioNetHdr.SIZE) {
                    throw new TapException(TapException.Kind.HEADER_SIZE, "TUNGETVNETHDRSZ", 0, ctx,
                            "virtio-net header size of " + ctx + " reads back as " + now + " after setting " + VirtioNetHdr.SIZE);
                }
                System.getLogger("dev.nettap").log(System.Logger.Level.DEBUG,
                        "{0}: virtio-net header size {1} -> {2} (the size is per device: every holder sees it)",
                        ctx, previous, VirtioNetHdr.SIZE);
            }
        }
        return new Queue(name, mode, previous);
    }

    private static void setFdFlags(MemorySegment err, int fd, String ctx) throws TapException {
        int fdFlags = FileCalls.fcntl(err, fd, linux_h.F_GETFD(), 0);
        if (fdFlags < 0) {
            int e = Sys.errno(err);
            throw TapException.syscall(TapException.Kind.NOT_A_TAP, "fcntl(F_GETFD)", e, ctx,
                    e == linux_h.EBADF() ? "not an open file descriptor" : null);
        }
        if ((fdFlags & linux_h.FD_CLOEXEC()) == 0
                && FileCalls.fcntl(err, fd, linux_h.F_SETFD(), fdFlags | linux_h.FD_CLOEXEC()) < 0) {
            throw TapException.syscall("fcntl(F_SETFD, FD_CLOEXEC)", Sys.errno(err), ctx, null);
        }
        int fl = FileCalls.fcntl(err, fd, linux_h.F_GETFL(), 0);
        if (fl < 0) {
            throw TapException.syscall("fcntl(F_GETFL)", Sys.errno(err), ctx, null);
        }
        if ((fl & linux_h.O_NONBLOCK()) == 0
                && FileCalls.fcntl(err, fd, linux_h.F_SETFL(), fl | linux_h.O_NONBLOCK()) < 0) {
            throw TapException.syscall("fcntl(F_SETFL, O_NONBLOCK)", Sys.errno(err), ctx, null);
        }
    }

    private static TapMode checkFlags(int flags, TapMode expected, String ctx, String name) throws TapException {
        int type = flags & (linux_h.IFF_TUN() | linux_h.IFF_TAP());
        TapMode mode = type == linux_h.IFF_TAP() ? TapMode.TAP : type == linux_h.IFF_TUN() ? TapMode.TUN : null;
        String found = ctx + " (device \"" + name + "\", flags 0x" + Integer.toHexString(flags) + ")";
        if (mode == null) {
            throw new TapException(TapException.Kind.NOT_A_TAP, "TUNGETIFF", 0, ctx,
                    found + " is neither IFF_TAP nor IFF_TUN");
        }
        if (expected != null && mode != expected) {
            throw new TapException(TapException.Kind.WRONG_MODE, "TUNGETIFF", 0, ctx,
                    found + " is a " + mode + " device; a " + expected + " device was asked for");
        }
        if ((flags & linux_h.IFF_NO_PI()) == 0) {
            throw new TapException(TapException.Kind.UNSUPPORTED_FLAGS, "TUNGETIFF", 0, ctx,
                    found + " was opened without IFF_NO_PI: frames carry a packet-information prefix nettap does not use");
        }
        if ((flags & linux_h.IFF_VNET_HDR()) == 0) {
            throw new TapException(TapException.Kind.UNSUPPORTED_FLAGS, "TUNGETIFF", 0, ctx,
                    found + " was opened without IFF_VNET_HDR: the virtio-net header (and every offload) needs it");
        }
        return mode;
    }

    private static int vnetHdrSize(MemorySegment err, int fd, String ctx, Arena arena) throws TapException {
        MemorySegment sz = arena.allocate(ValueLayout.JAVA_INT);
        if (FileCalls.ioctl(err, fd, linux_h.TUNGETVNETHDRSZ(), sz) < 0) {
            int e = Sys.errno(err);
            throw TapException.syscall(TapException.Kind.HEADER_SIZE, "TUNGETVNETHDRSZ", e, ctx, null);
        }
        return sz.get(ValueLayout.JAVA_INT, 0);
    }
}
