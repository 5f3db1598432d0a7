/**
 * nettap: Linux TAP, TUN and macvtap devices for Java virtual machine monitors, emulators and
 * userspace network stacks, through the FFM API and nothing but {@code java.base}.
 *
 * <p>{@link dev.nettap} holds the device API (Linux only; elsewhere every entry point that needs the
 * kernel throws {@link java.lang.UnsupportedOperationException}). {@link dev.nettap.vnet} holds the
 * virtio-net header and the offload translation; it makes no system calls and runs anywhere.
 *
 * <p>Launchers must grant native access to this module alone:
 * {@code --enable-native-access=dev.nettap}.
 */
module dev.nettap {
    exports dev.nettap;
    exports dev.nettap.vnet;
}
