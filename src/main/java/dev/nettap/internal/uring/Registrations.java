package dev.nettap.internal.uring;

import dev.nettap.internal.linux.iovec;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * What one {@link IoUring} has registered with the kernel ({@code io_uring_register}): its files
 * ({@code IORING_REGISTER_FILES}), its one fixed-buffer region ({@code IORING_REGISTER_BUFFERS})
 * and its provided-buffer ring ({@code IORING_REGISTER_PBUF_RING}), and the checks a request naming
 * them must pass: a registered-file index in range, a fixed-buffer range inside the pinned region.
 *
 * <p><b>Threads.</b> Confined to the ring's owner thread; {@link IoUring} checks the thread, and
 * that the ring is open, before every call here.
 *
 * <p><b>Invariants.</b> {@code files} is the number of files the kernel accepted (0 when none).
 * {@code fixedRegion} is non-null exactly while the kernel pins it, and {@code [fixedBase,
 * fixedEnd)} is its address range. {@code buffers}, once set, never changes; its memory lives in
 * the ring's arena, freed only after the last completion.
 */
final class Registrations {
    private final Arena arena;
    private final MemorySegment errno;
    private final int ringFd;

    private int files;
    private MemorySegment fixedRegion;
    private long fixedBase, fixedEnd;
    private BufferRing buffers;

    /** Nothing registered yet with ring {@code ringFd}, whose memory lives in {@code arena}. */
    Registrations(Arena arena, MemorySegment errno, int ringFd) {
        this.arena = arena;
        this.errno = errno;
        this.ringFd = ringFd;
    }

    /** {@return how many files are registered (indexes 0..files-1 are valid)} */
    int files() {
        return files;
    }

    /** {@return the provided-buffer ring, null until {@link #setUpBufferRing}} */
    BufferRing buffers() {
        return buffers;
    }

    /** {@code IORING_REGISTER_FILES} of {@code fds} (1..4096). */
    void registerFiles(int[] fds) throws UringException {
        if (fds.length < 1 || fds.length > 4096) {
            throw new IllegalArgumentException("register 1..4096 files, not " + fds.length);
        }
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment table = tmp.allocateFrom(ValueLayout.JAVA_INT, fds);
            // SAFETY: table holds fds.length ints and lives across the call; the kernel copies it.
            if (UringCalls.register(errno, ringFd, linux_h.IORING_REGISTER_FILES(), table, fds.length) < 0) {
                throw new UringException("io_uring_register(IORING_REGISTER_FILES, " + fds.length + " fds)",
                        Sys.errno(errno), null);
            }
        }
        files = fds.length;
    }

    /** {@code IORING_UNREGISTER_FILES}; requests in flight keep theirs. */
    void unregisterFiles() throws UringException {
        if (UringCalls.register(errno, ringFd, linux_h.IORING_UNREGISTER_FILES(), MemorySegment.NULL, 0) < 0) {
            throw new UringException("io_uring_register(IORING_UNREGISTER_FILES)", Sys.errno(errno), null);
        }
        files = 0;
    }

    /** {@code IORING_REGISTER_BUFFERS} of {@code region} as buffer index 0 (1 byte to 1 GiB, once). */
    void registerBuffer(MemorySegment region) throws UringException {
        if (!region.isNative() || !region.scope().isAlive()) {
            throw new IllegalArgumentException("the fixed-buffer region must be a live native segment: " + region);
        }
        if (region.byteSize() < 1 || region.byteSize() > (1L << 30)) {
            throw new IllegalArgumentException("the fixed-buffer region must be 1 byte to 1 GiB, is " + region.byteSize());
        }
        if (fixedRegion != null) {
            throw new IllegalStateException("a fixed-buffer region is registered already");
        }
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment iov = iovec.allocate(tmp);
            iovec.iov_base(iov, region);
            iovec.iov_len(iov, region.byteSize());
            // SAFETY: one iovec describing the caller's live native region; the kernel pins its pages.
            if (UringCalls.register(errno, ringFd, linux_h.IORING_REGISTER_BUFFERS(), iov, 1) < 0) {
                throw new UringException("io_uring_register(IORING_REGISTER_BUFFERS, " + region.byteSize() + " bytes)",
                        Sys.errno(errno), null);
            }
        }
        fixedRegion = region;
        fixedBase = region.address();
        fixedEnd = fixedBase + region.byteSize();
    }

    /**
     * The address of {@code length} bytes at {@code offset} in the registered region, after
     * checking they lie inside it (and, when the kernel writes, that the region is writable).
     */
    long fixedAddress(long offset, int length, boolean kernelWrites) {
        if (kernelWrites && fixedRegion != null && fixedRegion.isReadOnly()) {
            throw new IllegalArgumentException("the registered region is read-only; the kernel would write into it");
        }
        if (fixedRegion == null) {
            throw new IllegalStateException("no fixed-buffer region: call registerBuffer first");
        }
        if (!fixedRegion.scope().isAlive()) {
            throw new IllegalStateException("the registered region's memory was freed (the kernel still pins its "
                    + "pages; close this ring)");
        }
        if (offset < 0 || length < 0 || offset > fixedEnd - fixedBase - length) {
            throw new IllegalArgumentException(length + " bytes at offset " + offset + " do not fit the registered region of "
                    + (fixedEnd - fixedBase) + " bytes");
        }
        return fixedBase + offset;
    }

    /** Registers the provided-buffer ring ({@link BufferRing#register}), once. */
    void setUpBufferRing(int group, int count, int size) throws UringException {
        if (buffers != null) {
            throw new IllegalStateException("a provided-buffer ring is set up already (group " + buffers.group + ")");
        }
        buffers = BufferRing.register(arena, errno, ringFd, group, count, size);
    }

    /** {@return the provided buffers' memory; throws without a buffer ring} */
    MemorySegment bufferData() {
        if (buffers == null) {
            throw new IllegalStateException("no provided-buffer ring: call setUpBufferRing first");
        }
        return buffers.data;
    }

    /** {@return the size of each provided buffer, 0 without a buffer ring} */
    int bufferSize() {
        return buffers == null ? 0 : buffers.size;
    }

    /** Gives provided buffer {@code id} back to the kernel; refuses one the caller does not hold. */
    void recycleBuffer(int id) {
        if (buffers == null) {
            throw new IllegalArgumentException("buffer " + id + " is not held by the caller: no provided-buffer ring");
        }
        buffers.recycle(id);
    }

    /**
     * Drops the registered files and region at close, with nothing in flight: the ring's teardown
     * after close(2) runs asynchronously in the kernel, and until it has run the registered files
     * stay referenced (a single-queue TAP stays attached: reopening it gives EBUSY) and the
     * registered pages stay pinned. Unregistering now drops both before close() returns. Results
     * are ignored: the ring fd is closed next either way.
     */
    void releaseAtClose() {
        if (files > 0) {
            UringCalls.register(errno, ringFd, linux_h.IORING_UNREGISTER_FILES(), MemorySegment.NULL, 0);
        }
        if (fixedRegion != null) {
            UringCalls.register(errno, ringFd, linux_h.IORING_UNREGISTER_BUFFERS(), MemorySegment.NULL, 0);
        }
    }
}
