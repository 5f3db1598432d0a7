package dev.nettap;

import dev.nettap.internal.linux.cmsghdr;
import dev.nettap.internal.linux.iovec;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.linux.msghdr;
import dev.nettap.internal.sys.FileCalls;
import dev.nettap.internal.sys.SocketCalls;
import dev.nettap.internal.sys.Sys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The wire format of one {@link FdPassing} message: the NUL-terminated label payload and the
 * {@code SOL_SOCKET}/{@code SCM_RIGHTS} control data, with the {@code CMSG_SPACE}/{@code CMSG_ALIGN}
 * arithmetic, and the {@code sendmsg} loop that sends one.
 *
 * <p><b>Threads.</b> Stateless: every method is static and works only on the segments and arrays it
 * is given, so any thread may call it; a segment must not be shared with another thread meanwhile.
 *
 * <p><b>Invariants.</b> Decoding reads only the first {@code len} bytes of a control buffer, and
 * only whole {@code cmsghdr}s whose {@code cmsg_len} lies inside them: a malformed or cut message
 * stops the walk, it never reads past it. {@link #closeFds} allocates nothing, so it can still close
 * received fds after an {@link OutOfMemoryError}. Argument checks (fd counts, label length) are the
 * caller's: {@link FdPassing} validates before anything here runs.
 */
final class ScmRights {
    private ScmRights() {}

    /** {@code CMSG_DATA} offset: the header size, 16 on x86-64. */
    static final long CMSG_HDR = cmsghdr.sizeof();

    // ---- payload ------------------------------------------------------------------------------

    /** The payload for a label already in UTF-8 (checked by the caller: short enough, no NUL). */
    static byte[] payload(byte[] label) {
        byte[] p = new byte[label.length + 1]; // NUL-terminated: never empty, so the control data has a byte to ride on
        System.arraycopy(label, 0, p, 0, label.length);
        return p;
    }

    /** The label of a received payload: its first {@code n} bytes up to the first NUL, as UTF-8. */
    static String label(MemorySegment data, long n) {
        byte[] bytes = data.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
        int end = 0;
        while (end < bytes.length && bytes[end] != 0) {
            end++;
        }
        return new String(bytes, 0, end, StandardCharsets.UTF_8);
    }

    // ---- control data -------------------------------------------------------------------------

    /** {@code CMSG_ALIGN}: control messages are aligned to {@code sizeof(size_t)}, 8 bytes here. */
    static long align(long n) {
        return (n + 7) & ~7L;
    }

    /** {@code CMSG_SPACE(n)}: a header plus {@code n} data bytes, padded. */
    static long cmsgSpace(long n) {
        return CMSG_HDR + align(n);
    }

    /** Every fd in the {@code SCM_RIGHTS} messages of the first {@code len} bytes of {@code control}. */
    static List<Integer> collectFds(MemorySegment control, long len) {
        List<Integer> fds = new ArrayList<>();
        long off = 0;
        // The walk reads only below len (at most control's size): a header only when off + CMSG_HDR
        // <= len, its data only when off + cmsg_len <= len. Segment accesses are bounds-checked too.
        while (off + CMSG_HDR <= len) {
            MemorySegment c = control.asSlice(off);
            long cmsgLen = cmsghdr.cmsg_len(c);
            if (cmsgLen < CMSG_HDR || off + cmsgLen > len) {
                break; // malformed or cut: the kernel never writes this, stop rather than guess
            }
            if (cmsghdr.cmsg_level(c) == linux_h.SOL_SOCKET() && cmsghdr.cmsg_type(c) == linux_h.SCM_RIGHTS()) {
                long count = (cmsgLen - CMSG_HDR) / 4;
                for (long i = 0; i < count; i++) {
                    fds.add(c.get(ValueLayout.JAVA_INT, CMSG_HDR + 4 * i));
                }
            }
            off += align(cmsgLen);
        }
        return fds;
    }

    /** Closes every fd of the {@code SCM_RIGHTS} messages in {@code control} from the {@code skip}-th on, allocating nothing. */
    static void closeFds(MemorySegment err, MemorySegment control, long len, int skip) {
        long off = 0;
        int index = 0;
        // Same bounds as collectFds; plain get()s at offsets rather than slices, so nothing is allocated.
        while (off + CMSG_HDR <= len) {
            long cmsgLen = control.get(ValueLayout.JAVA_LONG, off + cmsghdr.cmsg_len$offset());
            if (cmsgLen < CMSG_HDR || off + cmsgLen > len) {
                break;
            }
            int level = control.get(ValueLayout.JAVA_INT, off + cmsghdr.cmsg_level$offset());
            int type = control.get(ValueLayout.JAVA_INT, off + cmsghdr.cmsg_type$offset());
            if (level == linux_h.SOL_SOCKET() && type == linux_h.SCM_RIGHTS()) {
                long count = (cmsgLen - CMSG_HDR) / 4;
                for (long i = 0; i < count; i++, index++) {
                    if (index >= skip) {
                        FileCalls.close(err, control.get(ValueLayout.JAVA_INT, off + CMSG_HDR + 4 * i));
                    }
                }
            }
            off += align(cmsgLen);
        }
    }

    // ---- send ---------------------------------------------------------------------------------

    /**
     * The {@code sendmsg} loop: {@code payload} with {@code fds} in one {@code SCM_RIGHTS} message.
     * With a {@code deadline} (not 0) the socket is non-blocking and a full buffer waits in
     * {@code poll} until then; with 0 an {@code EAGAIN} is an error.
     */
    static void send(int sock, byte[] payload, int[] fds, String where, long deadline) throws TapException {
        MemorySegment err = Sys.errnoSlot();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(payload.length);
            MemorySegment.copy(payload, 0, data, ValueLayout.JAVA_BYTE, 0, payload.length);
            MemorySegment iov = iovec.allocate(arena);
            long controlLen = cmsgSpace(4L * fds.length);
            MemorySegment control = arena.allocate(controlLen, 8);
            cmsghdr.cmsg_len(control, CMSG_HDR + 4L * fds.length);
            cmsghdr.cmsg_level(control, linux_h.SOL_SOCKET());
            cmsghdr.cmsg_type(control, linux_h.SCM_RIGHTS());
            for (int i = 0; i < fds.length; i++) {
                control.set(ValueLayout.JAVA_INT, CMSG_HDR + 4L * i, fds[i]);
            }
            MemorySegment msg = msghdr.allocate(arena);
            long sent = 0;
            while (sent < payload.length) {
                iovec.iov_base(iov, data.asSlice(sent));
                iovec.iov_len(iov, payload.length - sent);
                msghdr.msg_iov(msg, iov);
                msghdr.msg_iovlen(msg, 1);
                // The fds travel with the first byte; a (rare) short write sends the rest without them.
                msghdr.msg_control(msg, sent == 0 ? control : MemorySegment.NULL);
                msghdr.msg_controllen(msg, sent == 0 ? controlLen : 0);
                // SAFETY: msg, iov, data and control live in this confined arena until the method
                // returns; every length is the size of the segment it describes.
                long n = SocketCalls.sendmsg(err, sock, msg, linux_h.MSG_NOSIGNAL());
                if (n < 0) {
                    int e = Sys.errno(err);
                    if (e == linux_h.EINTR()) {
                        continue;
                    }
                    if (e == linux_h.EAGAIN() && deadline != 0) {
                        UnixSockets.awaitPoll(err, arena, sock, linux_h.POLLOUT(), deadline, where, "the receiver did not read");
                        continue;
                    }
                    throw TapException.syscall("sendmsg(SCM_RIGHTS)", e, where,
                            e == linux_h.EBADF() ? "one of the fds to send (or the socket) is not open"
                                    : e == linux_h.EAGAIN() ? "the socket is non-blocking and its buffer is full"
                                    : e == linux_h.EPIPE() || e == linux_h.ECONNRESET() ? "the receiver is gone" : null);
                }
                sent += n;
            }
        }
    }
}
