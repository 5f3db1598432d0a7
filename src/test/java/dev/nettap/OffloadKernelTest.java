package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Sys;
import dev.nettap.internal.sys.FileCalls;
import dev.nettap.tool.ScratchNamespace;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** TUNSETOFFLOAD: the library's dependency rules against the kernel's, probing, remembering. */
@KernelAccess
@Timeout(60)
class OffloadKernelTest {
    @Test
    void everyCombinationIsJudgedAsTheKernelJudgesIt() throws Exception {
        try (ScratchNamespace ns = ScratchNamespace.create("nettap-off");
             Tap tap = Tap.open(TapHandle.createInNamespace(ns.path(), "nto0", TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE))) {
            Offload[] all = Offload.values();
            List<String> disagreements = new ArrayList<>();
            for (int mask = 0; mask < 1 << all.length; mask++) {
                Set<Offload> set = EnumSet.noneOf(Offload.class);
                for (int i = 0; i < all.length; i++) {
                    if ((mask & (1 << i)) != 0) {
                        set.add(all[i]);
                    }
                }
                // The kernel's verdict, raw.
                boolean kernel = FileCalls.ioctl(Sys.errnoSlot(), tap.fd(), linux_h.TUNSETOFFLOAD(), (long) Offload.flags(set)) == 0;
                // The library's.
                boolean library;
                try {
                    tap.setOffloads(set);
                    library = true;
                    assertEquals(set, tap.offloads(), "remembered");
                } catch (IllegalArgumentException e) {
                    library = false;
                }
                if (kernel != library) {
                    disagreements.add(set + ": kernel " + (kernel ? "accepts" : "refuses") + ", library "
                            + (library ? "accepts" : "refuses"));
                }
            }
            assertEquals(List.of(), disagreements);
            int unknown = 0x4000_0000;
            assertEquals(-1, FileCalls.ioctl(Sys.errnoSlot(), tap.fd(), linux_h.TUNSETOFFLOAD(), (long) unknown),
                    "an unknown bit is refused");
        }
    }

    @Test
    void probeFindsWhatThisKernelAcceptsAndRestores() throws Exception {
        try (ScratchNamespace ns = ScratchNamespace.create("nettap-off");
             Tap tap = Tap.open(TapHandle.createInNamespace(ns.path(), "ntp0", TapMode.TAP, TapHandle.DEFAULT_CLONE_DEVICE))) {
            assertEquals(Set.of(), tap.offloads(), "open sets none");
            tap.setOffloads(EnumSet.of(Offload.CSUM));
            assertEquals(EnumSet.allOf(Offload.class), tap.probeOffloads(), "kernel 6.2+ accepts every flag");
            assertEquals(EnumSet.of(Offload.CSUM), tap.offloads(), "the previous set is restored");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> tap.setOffloads(EnumSet.of(Offload.TSO4)));
            assertTrue(e.getMessage().contains("need CSUM"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> tap.setOffloads(EnumSet.of(Offload.CSUM, Offload.USO4)));
            assertTrue(e.getMessage().contains("only together"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> tap.setOffloads(EnumSet.of(Offload.CSUM, Offload.TSO_ECN)));
            assertTrue(e.getMessage().contains("TSO_ECN needs"), e.getMessage());
            assertEquals(EnumSet.of(Offload.CSUM), tap.offloads(), "a refused set changes nothing");
        }
    }
}
