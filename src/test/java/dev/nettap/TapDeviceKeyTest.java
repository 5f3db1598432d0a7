package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import org.junit.jupiter.api.Test;

/** Which queues share one {@link TapDevice} ({@link DeviceRegistry#key}): only those proven to be of one device. */
class TapDeviceKeyTest {
    @Test
    void queuesWhoseNamespaceIsUnknownShareWithNothing() {
        // Unprivileged, TUNGETDEVNETNS fails: two devices named alike in two namespaces are not one.
        String a = DeviceRegistry.key(false, 0, null, "tap0");
        String b = DeviceRegistry.key(false, 0, null, "tap0");
        assertNotEquals(a, b, "an unknown namespace must not make two same-named devices one");
    }

    @Test
    void aKnownNamespaceOrACharacterDeviceIsShared() {
        assertEquals(DeviceRegistry.key(false, 0, "4026531840", "tap0"), DeviceRegistry.key(false, 0, "4026531840", "tap0"));
        assertNotEquals(DeviceRegistry.key(false, 0, "4026531840", "tap0"), DeviceRegistry.key(false, 0, "4026532001", "tap0"));
        assertEquals(DeviceRegistry.key(true, 0xF0_00001L, null, "mvt0"), DeviceRegistry.key(true, 0xF0_00001L, null, "other"));
    }
}
