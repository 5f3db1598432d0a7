package dev.nettap.internal.uring;

import dev.nettap.internal.linux.io_uring_buf;
import dev.nettap.internal.linux.io_uring_buf_reg;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * One provided-buffer ring ({@code IORING_REGISTER_PBUF_RING}) of an {@link IoUring}: the ring of
 * {@code io_uring_buf} entries the kernel picks buffers from, the buffers themselves, and which
 * buffers the caller holds (handed over by a completion, not yet given back). Its memory belongs to
 * the owning ring's arena, freed only after the last completion. Confined like its ring.
 */
final class BufferRing {
    private static final VarHandle SHORT = ValueLayout.JAVA_SHORT.varHandle();
    private static final long ENTRY = io_uring_buf.sizeof();
    private static final long TAIL = linux_h.NETTAP_BUF_RING_TAIL();

    final int group;
    final int count;
    final int size;
    /** The buffers: buffer id at {@code id * size}. */
    final MemorySegment data;
    final long base;
    final long end;
    private final MemorySegment ring;
    private final boolean[] held;
    private short tail;

    private BufferRing(int group, int count, int size, MemorySegment ring, MemorySegment data) {
        this.group = group;
        this.count = count;
        this.size = size;
        this.ring = ring;
        this.data = data;
        this.base = data.address();
        this.end = base + data.byteSize();
        this.held = new boolean[count];
    }

    /** Allocates and registers the ring on {@code ringFd}, and offers every buffer to the kernel. */
    static BufferRing register(Arena arena, MemorySegment errno, int ringFd, int group, int count, int size)
            throws UringException {
        if (group < 0 || group > 0xFFFF) {
            throw new IllegalArgumentException("buffer group must be 0..65535, is " + group);
        }
        if (count < 1 || count > 32768 || Integer.bitCount(count) != 1) {
            throw new IllegalArgumentException("buffer count must be a power of two 1..32768, is " + count);
        }
        if (size < 1 || size > (1 << 20)) {
            throw new IllegalArgumentException("buffer size must be 1..1048576, is " + size);
        }
        MemorySegment ring = arena.allocate(ENTRY * count, 4096); // the kernel wants it page-aligned
        MemorySegment data = arena.allocate((long) count * size, 64);
        MemorySegment reg = io_uring_buf_reg.allocate(arena);
        io_uring_buf_reg.ring_addr(reg, ring.address());
        io_uring_buf_reg.ring_entries(reg, count);
        io_uring_buf_reg.bgid(reg, (short) group);
        // SAFETY: reg describes `ring`, which the owning ring's arena keeps until after the last completion.
        if (UringCalls.register(errno, ringFd, linux_h.IORING_REGISTER_PBUF_RING(), reg, 1) < 0) {
            throw new UringException("io_uring_register(IORING_REGISTER_PBUF_RING, group " + group + ", " + count
                    + " buffers)", Sys.errno(errno), null);
        }
        BufferRing b = new BufferRing(group, count, size, ring, data);
        for (int id = 0; id < count; id++) {
            b.offer(id);
        }
        b.publish();
        return b;
    }

    /** A reaped completion handed buffer {@code id} to the caller. */
    void handedOver(int id) {
        if (id >= 0 && id < count) {
            held[id] = true;
        }
    }

    /** Gives buffer {@code id} back to the kernel; refuses one the caller does not hold. */
    void recycle(int id) {
        if (id < 0 || id >= count || !held[id]) {
            throw new IllegalArgumentException("buffer " + id + " is not held by the caller (ids come from reaped "
                    + "completions and go back once)");
        }
        held[id] = false;
        offer(id);
        publish();
    }

    /** True if {@code [a, a + length)} lies inside the buffers. */
    boolean contains(long a, long length) {
        return a >= base && a + length <= end;
    }

    private void offer(int id) {
        long e = ENTRY * (tail & (count - 1));
        // SAFETY: e is entry (tail mod count) of a ring of `count` entries; the entry names buffer id
        // (id < count) of `data`, which lives until the owning ring is freed. resv (overlaid by the
        // ring's tail in entry 0) is not written.
        ring.set(ValueLayout.JAVA_LONG, e + io_uring_buf.addr$offset(), base + (long) id * size);
        ring.set(ValueLayout.JAVA_INT, e + io_uring_buf.len$offset(), size);
        ring.set(ValueLayout.JAVA_SHORT, e + io_uring_buf.bid$offset(), (short) id);
        tail++;
    }

    private void publish() {
        // ORDERING: release: the entries written by offer() become visible before the tail the
        // kernel reads with smp_load_acquire.
        SHORT.setRelease(ring, TAIL, tail);
    }
}
