package dev.nettap.internal.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.fail;

import bindgen.BindGen;
import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.ValueLayout;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Proves that the committed bindings in {@code src/generated/java} agree with the C headers of the machine
 * running the tests: every constant listed in {@code jextract.conf}, the size of every struct and union,
 * the offset and size of every field (nested unions included), and every function's descriptor.
 *
 * <p>It compiles and runs the same probe as {@code tools/bindgen/BindGen.java}, so it needs gcc and
 * binutils; without them it fails (it never skips).
 */
class BindingsDriftTest {

    private static final String PKG = linux_h.class.getPackageName();
    private static BindGen.Model model;

    private static synchronized BindGen.Model model() {
        if (model == null) {
            Path root = Path.of(System.getProperty("user.dir")).toAbsolutePath();
            while (root != null && !Files.isRegularFile(root.resolve(BindGen.CONF))) root = root.getParent();
            if (root == null) fail("no " + BindGen.CONF + " above " + System.getProperty("user.dir"));
            try {
                model = BindGen.probe(root);
            } catch (IOException e) {
                fail("BindingsDriftTest compiles a C probe of jextract/nettap.h and needs gcc and binutils "
                        + "(readelf) for it; install gcc (Debian/Ubuntu: apt-get install gcc). Cause: "
                        + e.getMessage(), e);
            }
        }
        return model;
    }

    private static void report(List<String> mismatches, int checked, String what) {
        if (!mismatches.isEmpty()) {
            fail(mismatches.size() + " of " + checked + " " + what + " in src/generated/java disagree with this "
                    + "machine's headers (regenerate as jextract.conf says: "
                    + "rm -rf src/generated/java && jextract @jextract.conf jextract/nettap.h):\n  "
                    + String.join("\n  ", mismatches));
        }
    }

    @Test
    void constantsMatchTheHeaders() throws ReflectiveOperationException {
        BindGen.Model m = model();
        List<String> mismatches = new ArrayList<>();
        int checked = 0;
        for (String name : m.config().constants()) {
            BindGen.Constant want = m.constants().get(name);
            checked++;
            Method getter;
            try {
                getter = linux_h.class.getMethod(name);
            } catch (NoSuchMethodException e) {
                mismatches.add(name + ": missing from linux_h; the headers say " + show(want.value(), want.javaType()));
                continue;
            }
            Object got = getter.invoke(null);
            String gotType = getter.getReturnType().getName();
            long gotValue = ((Number) got).longValue();
            if (!gotType.equals(want.javaType()) || gotValue != want.value()) {
                mismatches.add(name + ": linux_h." + name + "() = " + show(gotValue, gotType) + ", the headers say "
                        + show(want.value(), want.javaType()) + " (C type " + want.cType() + ")");
            }
        }
        assertFalse(m.config().constants().isEmpty(), "jextract.conf lists no constants");
        report(mismatches, checked, "constants");
    }

    private static String show(long v, String type) {
        return v + " (0x" + Long.toHexString(v) + ", " + type + ")";
    }

    @Test
    void structLayoutsMatchTheHeaders() throws ReflectiveOperationException {
        BindGen.Model m = model();
        List<String> mismatches = new ArrayList<>();
        int[] checked = {0};
        for (BindGen.Struct s : m.structs().values()) {
            Class<?> c;
            try {
                c = Class.forName(PKG + "." + s.name());
            } catch (ClassNotFoundException e) {
                mismatches.add(s.cName() + ": no class " + PKG + "." + s.name());
                continue;
            }
            compare(c, s, s.name(), mismatches, checked);
        }
        assertEquals(m.config().structs().size() + m.config().unions().size(), m.structs().size());
        report(mismatches, checked[0], "struct sizes and field offsets and sizes");
    }

    private static void compare(Class<?> c, BindGen.Struct s, String path, List<String> out, int[] checked)
            throws ReflectiveOperationException {
        checked[0]++;
        long size = (long) c.getMethod("sizeof").invoke(null);
        if (size != s.size()) {
            out.add("sizeof(" + path + "): " + c.getSimpleName() + ".sizeof() = " + size + ", the headers say " + s.size());
        }
        for (BindGen.Field f : s.fields()) {
            String where = path + "." + f.name();
            checked[0]++;
            Method offset, layout;
            try {
                offset = c.getMethod(f.name() + "$offset");
                layout = c.getMethod(f.name() + "$layout");
            } catch (NoSuchMethodException e) {
                out.add(where + ": no accessors in " + c.getName() + "; the headers put it at offset " + f.offset()
                        + ", size " + f.size());
                continue;
            }
            long gotOffset = (long) offset.invoke(null);
            long gotSize = ((MemoryLayout) layout.invoke(null)).byteSize();
            if (gotOffset != f.offset()) {
                out.add("offsetof(" + where + "): " + f.name() + "$offset() = " + gotOffset + ", the headers say " + f.offset());
            }
            long inLayout = ((GroupLayout) c.getMethod("layout").invoke(null))
                    .byteOffset(MemoryLayout.PathElement.groupElement(f.name()));
            if (inLayout != f.offset()) {
                out.add("offsetof(" + where + "): layout() places it at " + inLayout + ", the headers say " + f.offset());
            }
            if (gotSize != f.size()) {
                out.add("sizeof(" + where + "): " + f.name() + "$layout().byteSize() = " + gotSize + ", the headers say " + f.size());
            }
            if (f.type() instanceof BindGen.StructType st && st.struct().nested()) {
                Class<?> nested = null;
                for (Class<?> k : c.getDeclaredClasses()) {
                    if (k.getSimpleName().equals(st.struct().name()) && Modifier.isStatic(k.getModifiers())) nested = k;
                }
                if (nested == null) out.add(where + ": no nested class " + c.getName() + "." + st.struct().name());
                else compare(nested, st.struct(), where, out, checked);
            }
        }
    }

    @Test
    void functionDescriptorsMatchTheHeaders() throws ReflectiveOperationException {
        BindGen.Model m = model();
        List<String> mismatches = new ArrayList<>();
        for (BindGen.Function f : m.functions().values()) {
            FunctionDescriptor d;
            try {
                if (f.variadic()) {
                    Class<?> invoker = Class.forName(PKG + ".linux_h$" + f.name());
                    Object inv = invoker.getMethod("makeInvoker", MemoryLayout[].class).invoke(null, (Object) new MemoryLayout[0]);
                    d = (FunctionDescriptor) invoker.getMethod("descriptor").invoke(inv);
                } else {
                    d = (FunctionDescriptor) linux_h.class.getMethod(f.name() + "$descriptor").invoke(null);
                }
            } catch (ClassNotFoundException | NoSuchMethodException e) {
                mismatches.add(f.name() + ": missing from linux_h");
                continue;
            } catch (InvocationTargetException e) {
                mismatches.add(f.name() + ": " + e.getCause());
                continue;
            }
            List<String> want = new ArrayList<>(), got = new ArrayList<>();
            want.add(f.ret() == null ? "void" : f.ret().prim().java + "/" + f.ret().prim().size);
            got.add(d.returnLayout().map(BindingsDriftTest::show).orElse("void"));
            for (BindGen.PrimType p : f.params()) want.add(p.prim().java + "/" + p.prim().size);
            for (MemoryLayout l : d.argumentLayouts()) got.add(show(l));
            if (!want.equals(got)) {
                mismatches.add(f.name() + ": linux_h has (return, params...) " + got + ", the headers say " + want
                        + (f.variadic() ? " followed by ..." : ""));
            }
        }
        assertEquals(m.config().functions().size(), m.functions().size());
        report(mismatches, m.functions().size(), "function descriptors");
    }

    private static String show(MemoryLayout l) {
        String carrier = l instanceof ValueLayout v ? v.carrier().getSimpleName() : l.getClass().getSimpleName();
        return carrier + "/" + l.byteSize();
    }
}
