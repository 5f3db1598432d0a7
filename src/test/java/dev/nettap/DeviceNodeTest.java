package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** glibc's makedev encoding and sysfs's MAJOR:MINOR, against known numbers. */
class DeviceNodeTest {
    @Test
    void makedevMatchesGlibc() {
        assertEquals(0x0ac8L, DeviceNode.TUN_CLONE);
        long big = DeviceNode.makedev(4095 + 4096, 1_000_000);
        assertEquals(4095 + 4096, DeviceNode.major(big));
        assertEquals(1_000_000, DeviceNode.minor(big));
        assertEquals("241:3", DeviceNode.format(DeviceNode.makedev(241, 3)));
    }

    @Test
    void parsesSysfsDevNumbers() {
        assertEquals(DeviceNode.makedev(241, 3), DeviceNode.parse("241:3"));
        assertEquals(-1, DeviceNode.parse("241"));
        assertEquals(-1, DeviceNode.parse(":3"));
        assertEquals(-1, DeviceNode.parse("a:b"));
        assertEquals(-1, DeviceNode.parse(null));
    }
}
