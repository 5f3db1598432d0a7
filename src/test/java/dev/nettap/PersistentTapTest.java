package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** PersistentTap's builder refuses bad input before any system call. */
class PersistentTapTest {
    @Test
    void badInputIsRefusedBeforeAnySystemCall() {
        assertThrows(IllegalArgumentException.class, () -> PersistentTap.builder("a/b"));
        assertThrows(IllegalArgumentException.class, () -> PersistentTap.builder("x".repeat(16)));
        assertThrows(IllegalArgumentException.class, () -> PersistentTap.builder("vm0").owner(-1));
        assertThrows(IllegalArgumentException.class, () -> PersistentTap.builder("vm0").group(-2));
        assertThrows(NullPointerException.class, () -> PersistentTap.builder("vm0").mode(null));
        assertThrows(NullPointerException.class, () -> PersistentTap.builder("vm0").inNamespace(null));
    }
}
