package dev.nettap.probe;

import dev.nettap.Tap;
import dev.nettap.TapHandle;
import dev.nettap.vnet.Checksums;
import java.lang.foreign.MemorySegment;

/**
 * Run by {@code PlatformTest} in a child JVM that claims another OS ({@code -Dos.name}): prints
 * what each entry point does. Uses the exported API only.
 */
public final class NonLinuxMain {
    private NonLinuxMain() {}

    public static void main(String[] args) {
        // The pure package still loads and works.
        System.out.println("checksum " + Checksums.checksum(MemorySegment.ofArray(new byte[] {0x45, 0, 0, 20}), 0, 4));
        report("create", () -> TapHandle.create("vm0"));
        report("open", () -> Tap.open(null));
    }

    interface Call {
        Object run() throws Exception;
    }

    static void report(String what, Call c) {
        try {
            c.run();
            System.out.println(what + " returned");
        } catch (Exception e) {
            System.out.println(what + " " + e.getClass().getSimpleName() + ": " + e.getMessage());
        }
    }
}
