package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.internal.linux.linux_h;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** {@link Macvtap#byName}'s last error names the call and errno that really failed. */
class MacvtapNoNodeTest {
    private static TapException error(Macvtap.NoPrivateNode cause) {
        return Macvtap.noNodeError("macvtap \"mvt0\"", Path.of("/dev/tap9"), (240L << 8) | 1, cause);
    }

    @Test
    void mknodWithoutThePrivilegeNamesCapMknod() {
        TapException e = error(new Macvtap.NoPrivateNode("mknod", linux_h.EPERM(), "making /tmp/x/tap9"));
        assertEquals("mknod", e.syscall());
        assertEquals(linux_h.EPERM(), e.errno());
        assertTrue(e.getMessage().contains("mknod failed with EPERM") && e.getMessage().contains("CAP_MKNOD"),
                e.getMessage());
    }

    @Test
    void openOnANodevFolderNamesOpenAndEaccesNotMknod() {
        TapException e = error(new Macvtap.NoPrivateNode("open", linux_h.EACCES(), "opening /tmp/x/tap9"));
        assertEquals("open", e.syscall());
        assertEquals(linux_h.EACCES(), e.errno());
        assertTrue(e.getMessage().contains("open failed with EACCES") && e.getMessage().contains("nodev"),
                e.getMessage());
        assertFalse(e.getMessage().contains("CAP_MKNOD"), e.getMessage());
    }

    @Test
    void aTemporaryFolderThatCannotBeMadeIsNamed() {
        TapException e = error(new Macvtap.NoPrivateNode("createTempDirectory", 0,
                "making a folder in /nonexistent: java.nio.file.NoSuchFileException: /nonexistent/nettap-macvtap-1"));
        assertEquals("createTempDirectory", e.syscall());
        assertEquals(0, e.errno());
        assertTrue(e.getMessage().contains("createTempDirectory failed") && e.getMessage().contains("/nonexistent"),
                e.getMessage());
        assertFalse(e.getMessage().contains("CAP_MKNOD") || e.getMessage().contains("EPERM"), e.getMessage());
    }
}
