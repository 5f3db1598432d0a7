package dev.nettap;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/** Temporary folders of the kernel tests: the module's classes for a child that runs as another user, and removal. */
final class ScratchDirs {
    private ScratchDirs() {}

    /**
     * A new folder {@code /tmp/PREFIX-PID-...} holding {@code target/classes} as {@code classes} and
     * {@code target/test-classes/dev} as {@code test-classes/dev}, every folder 0755 and every file
     * 0644: a child running as nobody can read it (/root and ~/.m2 are closed to it).
     */
    static Path classesForAnyone(String prefix) throws IOException {
        Path dir = Files.createTempDirectory(Path.of("/tmp"), prefix + "-" + ProcessHandle.current().pid() + "-");
        copy(Path.of("target", "classes"), dir.resolve("classes"));
        copy(Path.of("target", "test-classes", "dev"), dir.resolve("test-classes").resolve("dev"));
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) all::iterator) {
                Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(Files.isDirectory(p) ? "rwxr-xr-x" : "rw-r--r--"));
            }
        }
        return dir;
    }

    private static void copy(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    /** Removes {@code root} and everything below it, deepest first. */
    static void delete(Path root) throws IOException {
        List<Path> all;
        try (Stream<Path> s = Files.walk(root)) {
            all = s.sorted(Comparator.reverseOrder()).toList();
        }
        for (Path p : all) {
            Files.deleteIfExists(p);
        }
    }
}
