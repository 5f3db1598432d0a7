package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

class InterfaceNamesTest {
    /** A clone device that does not exist: any name that got as far as a syscall fails with ENOENT. */
    private static final Path NO_DEVICE = Path.of("/nonexistent/nettap/tun");

    record Bad(String name, String rule) {}

    static final List<Bad> BAD = List.of(
            new Bad("abcdefghijklmnop", "at most 15"),
            new Bad("ééééééééé", "at most 15"), // 9 characters, 18 bytes
            new Bad(".", "reserved"),
            new Bad("..", "reserved"),
            new Bad("a/b", "'/'"),
            new Bad("a:b", "':'"),
            new Bad("a\0b", "NUL"),
            new Bad("a b", "whitespace"),
            new Bad("a\tb", "whitespace"),
            new Bad("a\nb", "whitespace"),
            new Bad("a\u000bb", "whitespace"),
            new Bad("à", "whitespace"), // UTF-8 C3 A0: the kernel's isspace() takes 0xA0
            new Bad("vm%d%d", "more than one '%'"),
            new Bad("vm%s", "not followed by 'd'"),
            new Bad("vm%", "not followed by 'd'"));

    @Test
    void everyRuleIsCheckedWithItsOwnMessage() {
        for (Bad b : BAD) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> InterfaceNames.check(b.name()),
                    () -> "accepted " + b);
            assertTrue(e.getMessage().contains(b.rule()), () -> b + " -> " + e.getMessage());
        }
    }

    @Test
    void goodNamesPass() {
        for (String ok : List.of("", "vm0", "vm%d", "%d", "abcdefghijklmno", "tap-x_y.z", "é", "a.b")) {
            assertEquals(ok, new String(InterfaceNames.check(ok), java.nio.charset.StandardCharsets.UTF_8));
        }
    }

    @Test
    @EnabledOnOs(OS.LINUX)
    void badNamesAreRejectedBeforeAnySyscall() {
        // A good name reaches open(2) and fails on the missing device; a bad one never gets there.
        TapException reached = assertThrows(TapException.class, () -> TapHandle.create("vm0", TapMode.TAP, NO_DEVICE));
        assertEquals("ENOENT", reached.errnoName());
        assertTrue(reached.getMessage().contains(NO_DEVICE.toString()), reached.getMessage());
        for (Bad b : BAD) {
            assertThrows(IllegalArgumentException.class, () -> TapHandle.create(b.name(), TapMode.TAP, NO_DEVICE),
                    () -> b.toString());
        }
        assertThrows(NullPointerException.class, () -> TapHandle.create(null, TapMode.TAP, NO_DEVICE));
    }
}
