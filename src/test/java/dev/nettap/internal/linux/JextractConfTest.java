package dev.nettap.internal.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bindgen.BindGen;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The committed bindings hold exactly the symbols {@code jextract.conf} lists: no listed constant, struct,
 * union or function is missing (jextract skips a filter that matches nothing without a word), and nothing
 * is generated that the file does not list (a stale class left by a regeneration without {@code rm -rf}).
 */
class JextractConfTest {

    private static final String PKG = linux_h.class.getPackageName();
    /** Suffixes jextract gives a function's companion accessors. */
    private static final List<String> FUNCTION_SUFFIXES = List.of("$descriptor", "$handle", "$address");

    private static Path root() {
        Path root = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        while (root != null && !Files.isRegularFile(root.resolve(BindGen.CONF))) root = root.getParent();
        assertTrue(root != null, "no " + BindGen.CONF + " above " + System.getProperty("user.dir"));
        return root;
    }

    /** Top-level class names in the generated package, from the generated source folder. */
    private static Set<String> generatedClasses(Path root, BindGen.Config c) throws IOException {
        Path dir = root.resolve(c.output()).resolve(c.targetPackage().replace('.', '/'));
        Set<String> names = new TreeSet<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.toList()) {
                String f = p.getFileName().toString();
                if (f.endsWith(".java")) names.add(f.substring(0, f.length() - ".java".length()));
            }
        }
        return names;
    }

    /**
     * Every difference between what {@code c} lists and what the bindings (classes {@code generated} in the
     * package, and {@code header}'s public members) hold, one line each.
     */
    static List<String> differences(BindGen.Config c, Set<String> generated, Class<?> header)
            throws ClassNotFoundException {
        List<String> out = new ArrayList<>();
        Set<String> records = new HashSet<>(c.structs());
        records.addAll(c.unions());
        Set<String> constants = new HashSet<>(c.constants());
        Set<String> functions = new HashSet<>(c.functions());

        // Listed -> generated.
        Set<String> methods = new HashSet<>();
        for (Method m : header.getMethods()) {
            if (Modifier.isStatic(m.getModifiers()) && m.getDeclaringClass() == header) methods.add(m.getName());
        }
        Set<String> nested = new HashSet<>();
        for (Class<?> k : header.getDeclaredClasses()) {
            if (Modifier.isPublic(k.getModifiers())) nested.add(k.getSimpleName());
        }
        for (String k : c.constants()) {
            if (!hasNoArgStatic(header, k)) out.add("constant " + k + " is listed but " + header.getSimpleName() + " has no " + k + "()");
        }
        for (String f : c.functions()) {
            boolean plain = methods.contains(f) && methods.contains(f + "$address");
            boolean variadic = nested.contains(f);
            if (!plain && !variadic) out.add("function " + f + " is listed but " + header.getSimpleName() + " does not bind it");
        }
        for (String s : records) {
            if (!generated.contains(s)) out.add("struct/union " + s + " is listed but no class " + PKG + "." + s + " was generated");
        }

        // Generated -> listed.
        for (String g : generated) {
            if (!g.equals(header.getSimpleName()) && !records.contains(g)) {
                out.add("class " + g + " is generated but jextract.conf lists no struct or union " + g);
            }
        }
        for (String m : methods) {
            String base = m;
            for (String suffix : FUNCTION_SUFFIXES) {
                if (m.endsWith(suffix)) base = m.substring(0, m.length() - suffix.length());
            }
            if (!constants.contains(base) && !functions.contains(base)) {
                out.add(header.getSimpleName() + "." + m + " is generated but jextract.conf lists no constant or function " + base);
            }
        }
        for (String k : nested) {
            if (!functions.contains(k)) out.add(header.getSimpleName() + "." + k + " is generated but jextract.conf lists no function " + k);
        }
        for (Field f : header.getFields()) {
            // The C_* canonical layouts are jextract's own, present whatever the file lists.
            if (f.getDeclaringClass() == header && !f.getName().startsWith("C_")) {
                out.add(header.getSimpleName() + "." + f.getName() + " is a public field jextract.conf does not explain");
            }
        }
        return out;
    }

    private static boolean hasNoArgStatic(Class<?> header, String name) {
        try {
            Method m = header.getMethod(name);
            return Modifier.isStatic(m.getModifiers()) && m.getReturnType() != void.class;
        } catch (NoSuchMethodException e) {
            return false;
        }
    }

    @Test
    void bindingsHoldExactlyTheListedSymbols() throws Exception {
        Path root = root();
        BindGen.Config c = BindGen.readConfig(root.resolve(BindGen.CONF));
        assertEquals(PKG, c.targetPackage());
        assertEquals(linux_h.class.getSimpleName(), c.headerClass());
        assertFalse(c.constants().isEmpty() || c.functions().isEmpty() || c.structs().isEmpty(), "jextract.conf lists nothing");
        List<String> diff = differences(c, generatedClasses(root, c), linux_h.class);
        assertTrue(diff.isEmpty(), "src/generated/java and jextract.conf disagree (regenerate: "
                + "rm -rf src/generated/java && jextract @jextract.conf jextract/nettap.h):\n  " + String.join("\n  ", diff));
    }

    /** The check itself catches both directions: a listed symbol not generated, a generated one not listed. */
    @Test
    void theCheckSeesAMissingAndAnUnlistedSymbol() throws Exception {
        Path root = root();
        BindGen.Config c = BindGen.readConfig(root.resolve(BindGen.CONF));
        List<String> constants = new ArrayList<>(c.constants());
        constants.remove("TUNSETIFF");
        constants.add("NETTAP_NOT_GENERATED");
        List<String> functions = new ArrayList<>(c.functions());
        functions.remove("bind");
        functions.remove("ioctl");
        List<String> structs = new ArrayList<>(c.structs());
        structs.remove("iovec");
        structs.add("nettap_not_generated");
        BindGen.Config edited = new BindGen.Config(c.targetPackage(), c.output(), c.headerClass(), constants, structs,
                c.unions(), functions);
        List<String> diff = differences(edited, generatedClasses(root, c), linux_h.class);
        assertEquals(List.of(
                "constant NETTAP_NOT_GENERATED is listed but linux_h has no NETTAP_NOT_GENERATED()",
                "struct/union nettap_not_generated is listed but no class " + PKG + ".nettap_not_generated was generated",
                "class iovec is generated but jextract.conf lists no struct or union iovec"),
                diff.subList(0, 3));
        List<String> rest = new ArrayList<>(diff.subList(3, diff.size()));
        rest.sort(null);
        assertEquals(List.of(
                "linux_h.TUNSETIFF is generated but jextract.conf lists no constant or function TUNSETIFF",
                "linux_h.bind is generated but jextract.conf lists no constant or function bind",
                "linux_h.bind$address is generated but jextract.conf lists no constant or function bind",
                "linux_h.bind$descriptor is generated but jextract.conf lists no constant or function bind",
                "linux_h.bind$handle is generated but jextract.conf lists no constant or function bind",
                "linux_h.ioctl is generated but jextract.conf lists no function ioctl"), rest);
    }
}
