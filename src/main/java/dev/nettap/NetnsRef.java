package dev.nettap;

import java.nio.file.Path;

/**
 * Which network namespace a device lives in, as far as the library knows: a namespace file
 * ({@code /run/netns/X}, {@code /proc/PID/ns/net}), an fd of one (borrowed, never closed here), or
 * the namespace of whichever thread runs the call ({@link #CALLER}).
 *
 * @param path a namespace file, or {@code null}
 * @param fd   an open fd of a namespace file, or -1
 */
record NetnsRef(Path path, int fd) {
    /** The calling thread's own network namespace. */
    static final NetnsRef CALLER = new NetnsRef(null, -1);

    static NetnsRef of(Path path) {
        return new NetnsRef(path, -1);
    }

    static NetnsRef ofFd(int fd) {
        return new NetnsRef(null, fd);
    }

    boolean isCaller() {
        return path == null && fd < 0;
    }

    /** Runs {@code action} on a thread inside this namespace (the calling thread itself for {@link #CALLER}). */
    <T> T call(InNamespace.Action<T> action) throws TapException {
        if (path != null) {
            return InNamespace.call(path, action);
        }
        if (fd >= 0) {
            return InNamespace.call(fd, describe(), action);
        }
        return action.run();
    }

    /** How messages name it: {@code " in netns /run/netns/x"}, or {@code ""} for the caller's. */
    String where() {
        return isCaller() ? "" : " in " + describe();
    }

    String describe() {
        return path != null ? "netns " + path : fd >= 0 ? "netns fd " + fd : "the caller's network namespace";
    }
}
