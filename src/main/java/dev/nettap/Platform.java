package dev.nettap;

/** Where nettap's device code can run: Linux on x86-64, the ABI its bindings were generated for. */
final class Platform {
    private Platform() {}

    private static final String OS = System.getProperty("os.name", "?");
    private static final String ARCH = System.getProperty("os.arch", "?");
    private static final boolean SUPPORTED =
            OS.equals("Linux") && (ARCH.equals("amd64") || ARCH.equals("x86_64"));

    /** Throws the one clear error when the kernel interfaces nettap drives are not there. */
    static void requireLinux() {
        if (!SUPPORTED) {
            throw new UnsupportedOperationException("nettap drives Linux TAP/TUN devices and runs on Linux x86-64 only;"
                    + " this is " + OS + " " + ARCH + " (the dev.nettap.vnet package works anywhere)");
        }
    }
}
