package dev.nettap.internal.uring;

import dev.nettap.internal.sys.FileCalls;
import dev.nettap.internal.linux.io_uring_params;
import dev.nettap.internal.linux.io_uring_probe_op;
import dev.nettap.internal.linux.linux_h;
import dev.nettap.internal.sys.Errno;
import dev.nettap.internal.sys.Sys;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds out whether the io_uring engine can run here: absent ({@code ENOSYS}), forbidden
 * ({@code EPERM}: {@code kernel.io_uring_disabled}, a seccomp profile, an LSM), too old (a feature or
 * an opcode missing, by {@code IORING_REGISTER_PROBE}), or turned off on purpose with
 * {@code -D}{@value #PROPERTY}{@code =off}. Thread-safe; every call probes afresh (a set-up and a
 * close of a two-entry ring).
 */
public final class UringProbe {
    private UringProbe() {}

    /** System property that forces the {@code readv}/{@code writev} path when set to {@code off}. */
    public static final String PROPERTY = "dev.nettap.uring";

    private static final System.Logger LOG = System.getLogger("dev.nettap.uring");
    private static final int PROBE_OPS = 256;

    /** {@return the opcodes the engine needs: READV, WRITEV, READ, WRITE, READ_FIXED, WRITE_FIXED, POLL_ADD, ASYNC_CANCEL} */
    public static int[] requiredOpcodes() {
        return new int[] {linux_h.IORING_OP_READV(), linux_h.IORING_OP_WRITEV(), linux_h.IORING_OP_READ(),
                linux_h.IORING_OP_WRITE(), linux_h.IORING_OP_READ_FIXED(), linux_h.IORING_OP_WRITE_FIXED(),
                linux_h.IORING_OP_POLL_ADD(), linux_h.IORING_OP_ASYNC_CANCEL()};
    }

    /** {@return the verdict for the engine's own opcodes} */
    public static UringSupport probe() {
        return probe(requiredOpcodes());
    }

    /**
     * Probes for the engine's features and the given opcodes.
     *
     * @param requiredOps {@code IORING_OP_*} values that must all be supported
     * @return the verdict
     */
    public static UringSupport probe(int... requiredOps) {
        String forced = System.getProperty(PROPERTY, "");
        if (forced.equalsIgnoreCase("off") || forced.equalsIgnoreCase("false")) {
            return new UringSupport(UringSupport.Kind.DISABLED, "-D" + PROPERTY + "=" + forced, 0, -1, null);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment errno = Sys.newErrnoSlot(arena);
            MemorySegment params = io_uring_params.allocate(arena);
            int fd = UringCalls.setup(errno, 2, params);
            if (fd < 0) {
                return setupFailed(Sys.errno(errno));
            }
            try {
                int features = io_uring_params.features(params);
                if ((features & IoUring.REQUIRED_FEATURES) != IoUring.REQUIRED_FEATURES) {
                    return new UringSupport(UringSupport.Kind.MISSING_FEATURE, "features 0x" + Integer.toHexString(features)
                            + " lack SINGLE_MMAP, NODROP, SUBMIT_STABLE or EXT_ARG (Linux 5.11+)", features, -1, null);
                }
                long opSize = io_uring_probe_op.sizeof();
                MemorySegment probe = arena.allocate(linux_h.NETTAP_PROBE_SIZE() + opSize * PROBE_OPS, 8);
                // SAFETY: probe has room for the header and PROBE_OPS entries, as nr_args tells the kernel.
                if (UringCalls.register(errno, fd, linux_h.IORING_REGISTER_PROBE(), probe, PROBE_OPS) < 0) {
                    int e = Sys.errno(errno);
                    return new UringSupport(UringSupport.Kind.MISSING_FEATURE, "IORING_REGISTER_PROBE failed: "
                            + Errno.name(e) + " (Linux 5.6+ has it)", features, -1, null);
                }
                int lastOp = Byte.toUnsignedInt(probe.get(ValueLayout.JAVA_BYTE, linux_h.NETTAP_PROBE_LAST_OP()));
                int opsLen = Math.min(PROBE_OPS, Byte.toUnsignedInt(probe.get(ValueLayout.JAVA_BYTE, linux_h.NETTAP_PROBE_OPS_LEN())));
                boolean[] supported = new boolean[opsLen];
                for (int i = 0; i < opsLen; i++) {
                    MemorySegment op = probe.asSlice(linux_h.NETTAP_PROBE_OPS() + opSize * i, opSize);
                    int code = Byte.toUnsignedInt(io_uring_probe_op.op(op));
                    if (code < opsLen) {
                        supported[code] = (io_uring_probe_op.flags(op) & linux_h.IO_URING_OP_SUPPORTED()) != 0;
                    }
                }
                List<String> missing = new ArrayList<>();
                for (int op : requiredOps) {
                    if (op < 0 || op >= opsLen || !supported[op]) {
                        missing.add("opcode " + op);
                    }
                }
                if (!missing.isEmpty()) {
                    return new UringSupport(UringSupport.Kind.MISSING_OPCODE, "this kernel (last_op " + lastOp
                            + ") does not support " + String.join(", ", missing), features, lastOp, supported);
                }
                return new UringSupport(UringSupport.Kind.AVAILABLE, "features 0x" + Integer.toHexString(features)
                        + ", last_op " + lastOp, features, lastOp, supported);
            } finally {
                FileCalls.close(errno, fd);
            }
        }
    }

    /** The verdict for a failed {@code io_uring_setup}, with the sysctl that explains an EPERM. */
    static UringSupport setupFailed(int e) {
        if (e == linux_h.ENOSYS()) {
            return new UringSupport(UringSupport.Kind.ABSENT, "io_uring_setup: ENOSYS (kernel without io_uring)", 0, -1, null);
        }
        if (e == linux_h.EPERM()) {
            String sysctl = disabledSysctl();
            String why = switch (sysctl) {
                case "2" -> "kernel.io_uring_disabled=2 (io_uring disabled for everyone)";
                case "1" -> "kernel.io_uring_disabled=1 (only CAP_SYS_ADMIN or kernel.io_uring_group members)";
                case "0" -> "kernel.io_uring_disabled=0, so a seccomp filter or an LSM";
                default -> "a seccomp filter or an LSM (no kernel.io_uring_disabled here)";
            };
            return new UringSupport(UringSupport.Kind.FORBIDDEN, "io_uring_setup: EPERM, forbidden by " + why, 0, -1, null);
        }
        return new UringSupport(UringSupport.Kind.FAILED, "io_uring_setup: " + Errno.name(e) + " (" + Errno.text(e) + ")",
                0, -1, null);
    }

    private static String disabledSysctl() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/io_uring_disabled")).strip();
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    /**
     * Probes and, when the engine cannot be used, logs {@link UringSupport#fallbackMessage()} once
     * (INFO when forced off, WARNING otherwise). The TAP path calls this to pick its engine.
     *
     * @return the verdict
     */
    public static UringSupport select() {
        UringSupport s = probe();
        if (!s.usable()) {
            LOG.log(s.kind() == UringSupport.Kind.DISABLED ? System.Logger.Level.INFO : System.Logger.Level.WARNING,
                    s.fallbackMessage());
        }
        return s;
    }
}
