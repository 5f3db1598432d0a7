package dev.nettap.internal.sys;

import dev.nettap.internal.linux.linux_h;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * libc downcalls, one family: fstat, mknod, unshare, mount and umount2, the calls about device
 * nodes and mount namespaces (resolving a macvtap's character device, reading sysfs inside a
 * network namespace). Control path only, made rarely. Each method returns the raw result; the
 * errno captured in the caller's slot (see {@link Sys}) is meaningful only when that result is
 * {@code -1}. A {@code Throwable} from {@code invokeExact} means a wrong handle type, a bug here,
 * never a runtime condition.
 */
public final class MountCalls {
    private MountCalls() {}

    private static final MethodHandle FSTAT = Sys.errnoHandle(linux_h.fstat$address(), linux_h.fstat$descriptor());
    private static final MethodHandle UNSHARE = Sys.errnoHandle(linux_h.unshare$address(), linux_h.unshare$descriptor());
    private static final MethodHandle MOUNT = Sys.errnoHandle(linux_h.mount$address(), linux_h.mount$descriptor());
    private static final MethodHandle UMOUNT2 = Sys.errnoHandle(linux_h.umount2$address(), linux_h.umount2$descriptor());
    private static final MethodHandle MKNOD = Sys.errnoHandle(linux_h.mknod$address(), linux_h.mknod$descriptor());

    /** {@code fstat(fd, buf)}; {@code buf} is a native {@code struct stat} (144 bytes). */
    public static int fstat(MemorySegment errno, int fd, MemorySegment buf) {
        try {
            return (int) FSTAT.invokeExact(errno, fd, buf);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code unshare(flags)}: for {@code CLONE_NEWNS}, changes the calling OS thread's mount namespace only. */
    public static int unshare(MemorySegment errno, int flags) {
        try {
            return (int) UNSHARE.invokeExact(errno, flags);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * {@code mount(source, target, fstype, flags, NULL)}; the strings are NUL-terminated native
     * strings or {@link MemorySegment#NULL}.
     */
    public static int mount(MemorySegment errno, MemorySegment source, MemorySegment target, MemorySegment fstype,
                            long flags) {
        try {
            return (int) MOUNT.invokeExact(errno, source, target, fstype, flags, MemorySegment.NULL);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code umount2(target, flags)}; {@code target} is a NUL-terminated native string. */
    public static int umount2(MemorySegment errno, MemorySegment target, int flags) {
        try {
            return (int) UMOUNT2.invokeExact(errno, target, flags);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code mknod(path, mode, dev)}; {@code path} is a NUL-terminated native string. */
    public static int mknod(MemorySegment errno, MemorySegment path, int mode, long dev) {
        try {
            return (int) MKNOD.invokeExact(errno, path, mode, dev);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
