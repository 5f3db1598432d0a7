/**
 * A sample VMM module: what a virtual machine monitor's network backend links with. It requires
 * {@code dev.nettap} and nothing else; its jlink image ({@code tools/jlink.sh}) holds
 * {@code java.base}, {@code dev.nettap} and this module, and no nettap tool.
 */
module dev.nettap.sample.vmm {
    requires dev.nettap;
}
