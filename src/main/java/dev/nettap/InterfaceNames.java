package dev.nettap;

import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * Interface-name rules, checked before any system call the way the kernel's
 * {@code dev_valid_name()} and {@code dev_alloc_name()} check them, so a name the kernel would
 * reject is never sent.
 */
final class InterfaceNames {
    private InterfaceNames() {}

    /** IFNAMSIZ - 1: the longest name, in bytes, that fits {@code ifr_name} with its NUL. */
    static final int MAX_BYTES = 15;

    /**
     * Returns the UTF-8 bytes of {@code name}, or throws {@link IllegalArgumentException} naming the
     * rule it breaks. {@code ""} (the kernel picks {@code tapN}/{@code tunN}) and a template with one
     * {@code %d} (the kernel picks the number) are accepted.
     */
    static byte[] check(String name) {
        Objects.requireNonNull(name, "interface name");
        byte[] b = name.getBytes(StandardCharsets.UTF_8);
        if (b.length == 0) {
            return b;
        }
        String q = '"' + name + '"';
        if (b.length > MAX_BYTES) {
            throw new IllegalArgumentException("interface name " + q + " is " + b.length
                    + " bytes long; the kernel allows at most 15 (IFNAMSIZ - 1)");
        }
        if (name.equals(".") || name.equals("..")) {
            throw new IllegalArgumentException("interface name " + q + " is not allowed: \".\" and \"..\" are reserved");
        }
        int percents = 0;
        for (int i = 0; i < b.length; i++) {
            int c = b[i] & 0xff;
            if (c == '/' || c == ':' || c == 0) {
                throw new IllegalArgumentException("interface name " + q + " contains "
                        + (c == 0 ? "NUL" : "'" + (char) c + "'") + " at byte " + i + "; '/', ':' and NUL are not allowed");
            }
            // The kernel's isspace(): \t \n \v \f \r, space, and 0xA0 (which appears inside UTF-8 characters).
            if ((c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0xa0) {
                throw new IllegalArgumentException("interface name " + q + " contains whitespace (byte 0x"
                        + Integer.toHexString(c) + " at " + i + "); the kernel rejects any byte its isspace() accepts");
            }
            if (c == '%') {
                if (++percents > 1) {
                    throw new IllegalArgumentException("interface name " + q
                            + " has more than one '%'; a template may hold one \"%d\" only");
                }
                if (i + 1 >= b.length || b[i + 1] != 'd') {
                    throw new IllegalArgumentException("interface name " + q
                            + " has a '%' not followed by 'd'; the only template the kernel accepts is \"%d\"");
                }
            }
        }
        return b;
    }
}
