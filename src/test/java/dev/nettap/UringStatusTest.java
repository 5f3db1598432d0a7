package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.vnet.VirtioNetHdr;
import org.junit.jupiter.api.Test;

/** A CQE's result maps to the statuses the readv/writev path reports for the same errno. */
class UringStatusTest {
    @Test
    void errnosMapLikeTheReadvWritevPath() {
        assertEquals(0, UringStatus.of(0));
        assertEquals(1514, UringStatus.of(1514));
        assertEquals(Tap.WOULD_BLOCK, UringStatus.of(-linux_h.EAGAIN()));
        assertEquals(Tap.WOULD_BLOCK, UringStatus.of(-linux_h.EINTR()));
        assertEquals(Tap.LINK_DOWN, UringStatus.of(-linux_h.EIO()));
        assertEquals(Tap.MALFORMED, UringStatus.of(-linux_h.EINVAL()));
        assertEquals(Tap.DEVICE_GONE, UringStatus.of(-linux_h.EBADFD()));
        assertEquals(Tap.NO_BUFFER_SPACE, UringStatus.of(-linux_h.ENOBUFS()));
        assertEquals(Tap.NO_BUFFER_SPACE, UringStatus.of(-linux_h.ENOMEM()));
        assertEquals(Tap.BAD_ADDRESS, UringStatus.of(-linux_h.EFAULT()));
        assertEquals(Tap.KERNEL_ERROR, UringStatus.of(-linux_h.EBADF()));
        assertEquals(Tap.CLOSED, UringStatus.of(-linux_h.ECANCELED()));
    }

    @Test
    void byteCountsLoseTheHeaderAndAFullReadIsPossiblyTruncated() {
        int hdr = VirtioNetHdr.SIZE;
        assertEquals(60, UringStatus.frame(hdr + 60, 2048, true));
        assertEquals(60, UringStatus.frame(hdr + 60, 60, false), "a write of exactly its buffer is not truncated");
        assertEquals(Tap.POSSIBLY_TRUNCATED, UringStatus.frame(hdr + 2048, 2048, true));
        assertEquals(0, UringStatus.frame(hdr, 2048, true));
        assertEquals(0, UringStatus.frame(3, 2048, true), "a short read never goes negative");
        assertEquals(Tap.MALFORMED, UringStatus.frame(-linux_h.EINVAL(), 2048, false));
    }
}
