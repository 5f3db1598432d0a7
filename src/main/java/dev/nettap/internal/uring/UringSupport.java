package dev.nettap.internal.uring;

import dev.nettap.internal.linux.linux_h;

/**
 * What the probe found: whether the io_uring engine can be used here and, if not, exactly why
 * ({@link #kind()}, {@link #detail()}). Immutable.
 */
public final class UringSupport {
    /** The probe's verdict. */
    public enum Kind {
        /** io_uring works and has every opcode and feature the engine needs. */
        AVAILABLE,
        /** Turned off by the system property {@value UringProbe#PROPERTY}{@code =off}: the fallback is forced. */
        DISABLED,
        /** {@code io_uring_setup} is {@code ENOSYS}: the kernel has no io_uring. */
        ABSENT,
        /** {@code io_uring_setup} is {@code EPERM}: {@code kernel.io_uring_disabled}, seccomp or an LSM forbids it. */
        FORBIDDEN,
        /** io_uring exists but lacks a feature the engine requires (an older kernel). */
        MISSING_FEATURE,
        /** io_uring exists but lacks an opcode the engine requires ({@code IORING_REGISTER_PROBE}). */
        MISSING_OPCODE,
        /** Setting up a ring failed for another reason (for example {@code ENOMEM}). */
        FAILED
    }

    private final Kind kind;
    private final String detail;
    private final int features;
    private final int lastOp;
    private final boolean[] supported;

    UringSupport(Kind kind, String detail, int features, int lastOp, boolean[] supported) {
        this.kind = kind;
        this.detail = detail;
        this.features = features;
        this.lastOp = lastOp;
        this.supported = supported == null ? new boolean[0] : supported.clone();
    }

    /** {@return the verdict} */
    public Kind kind() {
        return kind;
    }

    /** {@return why, in words (the errno, the sysctl value, the missing opcodes)} */
    public String detail() {
        return detail;
    }

    /** {@return true if the engine can be used} */
    public boolean usable() {
        return kind == Kind.AVAILABLE;
    }

    /** {@return the {@code IORING_FEAT_*} bits the kernel reported, 0 if no ring was set up} */
    public int features() {
        return features;
    }

    /** {@return the highest opcode the kernel knows ({@code last_op} of the probe), -1 if not probed} */
    public int lastOp() {
        return lastOp;
    }

    /**
     * {@return true if the kernel supports {@code opcode} ({@code IO_URING_OP_SUPPORTED})}
     *
     * @param opcode an {@code IORING_OP_*} value
     */
    public boolean supports(int opcode) {
        return opcode >= 0 && opcode < supported.length && supported[opcode];
    }

    /** {@return true if reads can be multishot reads into a provided-buffer ring (Linux 6.7+)} */
    public boolean multishotRead() {
        return usable() && supports(linux_h.IORING_OP_READ_MULTISHOT());
    }

    /** {@return the one line logged when falling back to {@code readv}/{@code writev}} */
    public String fallbackMessage() {
        return "nettap: io_uring engine not used (" + kind + ": " + detail + "); using the readv/writev path";
    }

    @Override
    public String toString() {
        return "UringSupport[" + kind + ": " + detail + (features != 0 ? ", features 0x" + Integer.toHexString(features) : "")
                + (lastOp >= 0 ? ", last_op " + lastOp : "") + "]";
    }
}
