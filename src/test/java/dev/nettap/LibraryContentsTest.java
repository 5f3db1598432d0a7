package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.module.ModuleDescriptor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The library module carries nothing a VMM does not need: the classes its jar is made of (the main
 * output folder; {@code tools/jlink.sh --selftest} checks the jar itself) hold no
 * {@code dev.nettap.tool} class and no {@code ProcessBuilder} use, and its descriptor exports the
 * two API packages and requires {@code java.base} only.
 */
class LibraryContentsTest {
    private static Path classes() throws Exception {
        Path p = Path.of(Tap.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        assertTrue(Files.isRegularFile(p.resolve("module-info.class")), () -> p + " is not the library's class folder");
        return p;
    }

    @Test
    void noToolClassInTheLibrary() throws Exception {
        Path classes = classes();
        assertFalse(Files.exists(classes.resolve("dev/nettap/tool")),
                () -> classes + "/dev/nettap/tool exists: the tool is its own module now (a stale build? ./mvnw clean)");
        try (Stream<Path> files = Files.walk(classes)) {
            List<String> offenders = files.filter(f -> f.toString().endsWith(".class")).filter(f -> {
                try {
                    return new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1).contains("java/lang/ProcessBuilder");
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).map(classes::relativize).map(Path::toString).toList();
            assertEquals(List.of(), offenders, "library classes that use ProcessBuilder");
        }
    }

    @Test
    void descriptorExportsTheApiAndRequiresOnlyJavaBase() throws Exception {
        ModuleDescriptor d;
        try (InputStream in = Files.newInputStream(classes().resolve("module-info.class"))) {
            d = ModuleDescriptor.read(in);
        }
        assertEquals("dev.nettap", d.name());
        assertEquals(Set.of("dev.nettap", "dev.nettap.vnet"),
                d.exports().stream().map(ModuleDescriptor.Exports::source).collect(Collectors.toSet()));
        assertEquals(Set.of("java.base"), d.requires().stream().map(ModuleDescriptor.Requires::name).collect(Collectors.toSet()));
        Set<String> packages = new TreeSet<>(d.packages());
        assertTrue(packages.stream().allMatch(p -> p.equals("dev.nettap") || p.startsWith("dev.nettap.vnet")
                || p.startsWith("dev.nettap.internal.")), () -> "unexpected package in dev.nettap: " + packages);
    }
}
