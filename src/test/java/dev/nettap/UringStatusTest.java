package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.nettap.internal.linux.linux_h;
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
        assertEquals(Tap.CLOSED, UringStatus.of(-linux_h.ECANCELED()));
    }

    @Test
    void otherErrnosKeepTheirNumberWithoutThrowing() {
        for (int e : new int[] {linux_h.ENOBUFS(), linux_h.EFAULT(), linux_h.EBADF(), linux_h.ENOMEM()}) {
            long s = UringStatus.of(-e);
            assertEquals(UringStatus.OTHER_ERRNO - e, s);
            assertEquals(e, UringStatus.errnoOf(s));
        }
        assertEquals(0, UringStatus.errnoOf(Tap.MALFORMED));
        assertEquals(0, UringStatus.errnoOf(60));
    }
}
