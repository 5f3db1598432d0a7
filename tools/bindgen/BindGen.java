/*
 * nettap's header probe: what this machine's C headers say about every symbol jextract.conf lists.
 * The bindings in src/generated/java are jextract's output (see jextract.conf); this probe is the
 * independent check that they still agree with the headers, using gcc and readelf instead of libclang.
 *
 *   java tools/bindgen/BindGen.java    # print every constant, struct layout and prototype it found
 *
 * Run from the repository root with any JDK 17+ (it uses no FFM itself); needs gcc and binutils' readelf.
 * Stricter than jextract: a listed symbol the headers lack is an error, not silently skipped. It never runs in
 * the normal build; BindingsDriftTest compiles it with the tests and reuses probe() to check the committed
 * bindings (every value, size, offset and descriptor) against the headers of the machine that runs the tests.
 *
 * How it derives everything from the headers (no hand-written tables):
 *  - constants: a C probe prints each one's value and its C type (via _Generic); enum constants are
 *    told apart from macros by the DW_TAG_enumerator entries in the probe's DWARF;
 *  - structs, unions and functions: the probe declares one variable per struct/union and one pointer
 *    per function (__typeof__(f) *p = f); gcc -g writes their layout, member names, offsets, types,
 *    array bounds, nested anonymous unions and prototypes (variadic ones end with
 *    DW_TAG_unspecified_parameters) into DWARF, which `readelf --debug-dump=info` prints.
 */
package bindgen;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/** The header probe behind BindingsDriftTest: what the C headers say about each symbol jextract.conf lists. */
public final class BindGen {
    private BindGen() { }

    /** The header jextract (and the probe) read, relative to the repository root. */
    public static final String HEADER = "jextract/nettap.h";
    /** The argument file, relative to the repository root. */
    public static final String CONF = "jextract.conf";

    // ---------------------------------------------------------------------------------------------
    // Model
    // ---------------------------------------------------------------------------------------------

    /** What jextract.conf asks for. */
    public record Config(String targetPackage, String output, String headerClass, List<String> constants,
                         List<String> structs, List<String> unions, List<String> functions) { }

    /** A primitive C type as jextract maps it: the canonical layout constant and the Java carrier. */
    public enum Prim {
        CHAR("C_CHAR", "byte", "OfByte", 1), SHORT("C_SHORT", "short", "OfShort", 2),
        INT("C_INT", "int", "OfInt", 4), LONG("C_LONG", "long", "OfLong", 8),
        LONG_LONG("C_LONG_LONG", "long", "OfLong", 8), FLOAT("C_FLOAT", "float", "OfFloat", 4),
        DOUBLE("C_DOUBLE", "double", "OfDouble", 8), BOOL("C_BOOL", "boolean", "OfBoolean", 1),
        POINTER("C_POINTER", "MemorySegment", "AddressLayout", 8);

        /** Name of the layout constant in the header class. */
        public final String layout;
        /** Java carrier type. */
        public final String java;
        /** Java layout type. */
        public final String layoutType;
        /** Size in bytes (x86-64 / aarch64 LP64). */
        public final long size;

        Prim(String layout, String java, String layoutType, long size) {
            this.layout = layout;
            this.java = java;
            this.layoutType = layoutType;
            this.size = size;
        }
    }

    /** A C type as far as layouts care. {@code cName} is how the header spells it. */
    public sealed interface CType permits PrimType, ArrayType, StructType {
        /** Size in bytes. */
        long size();
        /** Alignment in bytes of the Java layout that represents it. */
        long align();
        /** The C spelling (typedef names kept). */
        String cName();
    }

    /** A scalar or pointer. */
    public record PrimType(Prim prim, String cName) implements CType {
        public long size() { return prim.size; }
        public long align() { return prim.size; }
    }

    /** An array; {@code dims} outermost first; a flexible array member has the single dimension 0. */
    public record ArrayType(CType element, List<Long> dims, String cName) implements CType {
        public long size() {
            long n = element.size();
            for (long d : dims) n *= d;
            return n;
        }
        public long align() { return element.align(); }
    }

    /** A struct or union: a named one (its own class) or an anonymous one nested in its parent's. */
    public record StructType(Struct struct) implements CType {
        public long size() { return struct.size(); }
        public long align() { return struct.align(); }
        public String cName() { return struct.cName(); }
    }

    /** A member at a byte offset inside its struct or union. */
    public record Field(String name, long offset, CType type) {
        /** Size in bytes. */
        public long size() { return type.size(); }
    }

    /**
     * A struct or union. {@code name} is the C tag, or for an anonymous one nested in a field, the
     * field's name (jextract names the nested class after the field). {@code nested} is true then.
     */
    public record Struct(String name, boolean union, boolean nested, long size, List<Field> fields) {
        /** Alignment of the Java layout (the largest member alignment, as packed members are lowered). */
        public long align() {
            long a = 1;
            for (Field f : fields) a = Math.max(a, fieldAlign(f));
            return a;
        }
        /** How C spells the type. */
        public String cName() { return (union ? "union " : "struct ") + (nested ? "" : name); }
    }

    /** A constant: its value (as the Java type holds it), its C type, and whether it is an enum constant. */
    public record Constant(String name, String cType, String javaType, long value, String enumName) {
        /** True if C declares it as an enumerator rather than a macro. */
        public boolean isEnum() { return enumName != null; }
    }

    /** A function prototype: {@code ret} is null for void. */
    public record Function(String name, PrimType ret, List<PrimType> params, boolean variadic) { }

    /** Everything the headers say about the symbols jextract.conf lists. */
    public record Model(Config config, Map<String, Constant> constants, Map<String, Struct> structs,
                        Map<String, Function> functions) { }

    /** The member alignment the Java layout must carry: lowered when C packs the member. */
    static long fieldAlign(Field f) {
        long a = f.type().align();
        while (a > 1 && f.offset() % a != 0) a /= 2;
        return a;
    }

    // ---------------------------------------------------------------------------------------------
    // jextract.conf
    // ---------------------------------------------------------------------------------------------

    /** Parses a jextract argument file: one option per line, {@code #} starts a comment. */
    public static Config readConfig(Path conf) throws IOException {
        String pkg = null, out = null, header = null;
        List<String> constants = new ArrayList<>(), structs = new ArrayList<>(), unions = new ArrayList<>(),
                functions = new ArrayList<>();
        int lineNo = 0;
        for (String raw : Files.readAllLines(conf, StandardCharsets.UTF_8)) {
            lineNo++;
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#")) continue;
            String[] parts = line.split("\\s+");
            if (parts.length != 2) throw new IOException(conf + ":" + lineNo + ": expected 'option value': " + raw);
            String v = parts[1];
            switch (parts[0]) {
                case "-t", "--target-package" -> pkg = v;
                case "--output" -> out = v;
                case "--header-class-name" -> header = v;
                case "--include-constant" -> constants.add(v);
                case "--include-struct" -> structs.add(v);
                case "--include-union" -> unions.add(v);
                case "--include-function" -> functions.add(v);
                default -> throw new IOException(conf + ":" + lineNo + ": option not supported by tools/bindgen: " + parts[0]);
            }
        }
        if (pkg == null || out == null || header == null) {
            throw new IOException(conf + ": needs -t, --output and --header-class-name");
        }
        return new Config(pkg, out, header, List.copyOf(constants), List.copyOf(structs), List.copyOf(unions),
                List.copyOf(functions));
    }

    // ---------------------------------------------------------------------------------------------
    // Probe
    // ---------------------------------------------------------------------------------------------

    /** Result of a child process. */
    private record Run(int exit, String out, String err) { }

    private static Run run(Path dir, List<String> cmd) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile());
        Path out = Files.createTempFile(dir, "out", ".txt"), err = Files.createTempFile(dir, "err", ".txt");
        pb.redirectOutput(out.toFile()).redirectError(err.toFile());
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new IOException("cannot run " + cmd.get(0) + " (" + e.getMessage() + "): tools/bindgen and "
                    + "BindingsDriftTest need gcc and binutils' readelf; install them (Debian/Ubuntu: "
                    + "apt-get install gcc)", e);
        }
        try {
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("timed out: " + String.join(" ", cmd));
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + String.join(" ", cmd), e);
        }
        return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    private static String checked(Path dir, List<String> cmd) throws IOException {
        Run r = run(dir, cmd);
        if (r.exit() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed (exit " + r.exit() + "):\n" + r.err() + r.out());
        }
        return r.out();
    }

    /** The C source of the probe: prints constants when run; its DWARF describes types and functions. */
    static String probeSource(Path header, Config c) {
        StringBuilder s = new StringBuilder();
        s.append("#include \"").append(header.toAbsolutePath()).append("\"\n");
        s.append("""
                #include <stdio.h>
                #define NT_TYPE(x) _Generic((x), char: "char", signed char: "signed char", \\
                    unsigned char: "unsigned char", short: "short", unsigned short: "unsigned short", \\
                    int: "int", unsigned int: "unsigned int", long: "long", unsigned long: "unsigned long", \\
                    long long: "long long", unsigned long long: "unsigned long long", float: "float", \\
                    double: "double", default: "unsupported")
                #define NT_PRINT(x) printf("%s %s %lld\\n", #x, NT_TYPE(x), (long long) (x))
                """);
        for (String st : c.structs()) s.append("struct ").append(st).append(" nt_struct_").append(st).append(";\n");
        for (String u : c.unions()) s.append("union ").append(u).append(" nt_union_").append(u).append(";\n");
        for (String f : c.functions()) s.append("__typeof__(").append(f).append(") *nt_func_").append(f).append(" = ")
                .append(f).append(";\n");
        s.append("int main(void) {\n");
        for (String k : c.constants()) s.append("    NT_PRINT(").append(k).append(");\n");
        s.append("    return 0;\n}\n");
        return s.toString();
    }

    /**
     * Builds the probe for the symbols in {@code root/jextract.conf} with gcc, runs it, reads its DWARF,
     * and returns what the headers of this machine say about every listed symbol.
     */
    public static Model probe(Path root) throws IOException {
        Config c = readConfig(root.resolve(CONF));
        Path dir = Files.createTempDirectory("nettap-bindgen");
        try {
            Files.writeString(dir.resolve("probe.c"), probeSource(root.resolve(HEADER), c));
            checked(dir, List.of("gcc", "-std=gnu11", "-g", "-fno-eliminate-unused-debug-types",
                    "-Wno-pointer-to-int-cast", "-c", "probe.c", "-o", "probe.o"));
            checked(dir, List.of("gcc", "probe.o", "-o", "probe"));
            String values = checked(dir, List.of(dir.resolve("probe").toString()));
            String dwarf = checked(dir, List.of("readelf", "--wide", "--debug-dump=info", "probe.o"));
            Dwarf d = Dwarf.parse(dwarf);
            return new Model(c, constants(c, values, d), structs(c, d), functions(c, d));
        } finally {
            try (Stream<Path> files = Files.list(dir)) {
                for (Path p : files.toList()) Files.deleteIfExists(p);
            }
            Files.deleteIfExists(dir);
        }
    }

    private static Map<String, Constant> constants(Config c, String values, Dwarf d) throws IOException {
        Map<String, String> enumOf = new HashMap<>();
        for (Die e : d.all) {
            if (e.tag.equals("DW_TAG_enumeration_type")) {
                for (Die k : e.children) {
                    if (k.tag.equals("DW_TAG_enumerator")) {
                        enumOf.putIfAbsent(k.name(), e.name() == null ? "<anonymous>" : e.name());
                    }
                }
            }
        }
        Map<String, Constant> out = new LinkedHashMap<>();
        for (String line : values.split("\n")) {
            if (line.isBlank()) continue;
            Matcher m = Pattern.compile("(\\w+) (.+) (-?\\d+)").matcher(line);
            if (!m.matches()) throw new IOException("unexpected probe output: " + line);
            String name = m.group(1), ctype = m.group(2);
            long raw = Long.parseLong(m.group(3));
            String java = switch (ctype) {
                case "char", "signed char", "unsigned char" -> "byte";
                case "short", "unsigned short" -> "short";
                case "int", "unsigned int" -> "int";
                case "long", "unsigned long", "long long", "unsigned long long" -> "long";
                default -> throw new IOException("constant " + name + " has C type " + ctype
                        + ", which tools/bindgen does not map (only integer constants are supported)");
            };
            long v = switch (java) {
                case "byte" -> (byte) raw;
                case "short" -> (short) raw;
                case "int" -> (int) raw;
                default -> raw;
            };
            out.put(name, new Constant(name, ctype, java, v, enumOf.get(name)));
        }
        for (String k : c.constants()) {
            if (!out.containsKey(k)) throw new IOException("the probe printed no value for " + k);
        }
        return out;
    }

    private static Map<String, Struct> structs(Config c, Dwarf d) throws IOException {
        Map<String, Struct> out = new LinkedHashMap<>();
        List<String> wanted = new ArrayList<>();
        for (String s : c.structs()) wanted.add("struct " + s);
        for (String u : c.unions()) wanted.add("union " + u);
        for (String w : wanted) {
            String var = (w.startsWith("struct ") ? "nt_struct_" : "nt_union_") + w.substring(w.indexOf(' ') + 1);
            Die v = d.variable(var);
            Die t = d.strip(d.ref(v, "DW_AT_type"));
            Struct s = struct(d, t, null, wanted);
            if (!w.equals(s.cName())) throw new IOException(var + " has type " + s.cName() + ", expected " + w);
            out.put(s.name(), s);
        }
        return out;
    }

    private static Struct struct(Dwarf d, Die t, String fieldName, List<String> included) throws IOException {
        boolean union = t.tag.equals("DW_TAG_union_type");
        if (!union && !t.tag.equals("DW_TAG_structure_type")) throw new IOException("not a struct or union: " + t);
        if (t.attrs.containsKey("DW_AT_declaration")) throw new IOException("incomplete type: " + t);
        boolean nested = t.name() == null;
        String name = nested ? fieldName : t.name();
        if (name == null) throw new IOException("anonymous struct or union without a field name: " + t);
        List<Field> fields = new ArrayList<>();
        for (Die m : t.children) {
            if (!m.tag.equals("DW_TAG_member")) continue;
            if (m.attrs.containsKey("DW_AT_bit_size") || m.attrs.containsKey("DW_AT_data_bit_offset")) {
                throw new IOException("bit-field " + m.name() + " in " + name + " is not supported by tools/bindgen");
            }
            if (m.name() == null) {
                throw new IOException("anonymous member in " + name + " is not supported by tools/bindgen");
            }
            long off = union ? 0 : m.num("DW_AT_data_member_location");
            fields.add(new Field(m.name(), off, type(d, d.ref(m, "DW_AT_type"), m.name(), included,
                    name + "." + m.name())));
        }
        return new Struct(name, union, nested, t.num("DW_AT_byte_size"), List.copyOf(fields));
    }

    private static CType type(Dwarf d, Die t, String fieldName, List<String> included, String where) throws IOException {
        String cName = d.cName(t);
        Die s = d.strip(t);
        switch (s.tag) {
            case "DW_TAG_base_type", "DW_TAG_pointer_type", "DW_TAG_enumeration_type" -> {
                return new PrimType(d.prim(s, where), cName);
            }
            case "DW_TAG_array_type" -> {
                List<Long> dims = new ArrayList<>();
                for (Die r : s.children) {
                    if (!r.tag.equals("DW_TAG_subrange_type")) continue;
                    if (r.attrs.containsKey("DW_AT_count")) dims.add(r.num("DW_AT_count"));
                    else if (r.attrs.containsKey("DW_AT_upper_bound")) dims.add(r.num("DW_AT_upper_bound") + 1);
                    else dims.add(0L); // flexible array member
                }
                CType elem = type(d, d.ref(s, "DW_AT_type"), fieldName,
                        included, where);
                if (elem instanceof StructType || elem instanceof ArrayType) {
                    throw new IOException(where + ": arrays of " + elem.cName() + " are not supported by tools/bindgen");
                }
                return new ArrayType(elem, List.copyOf(dims), cName);
            }
            case "DW_TAG_structure_type", "DW_TAG_union_type" -> {
                Struct st = struct(d, s, fieldName, included);
                if (!st.nested() && !included.contains(st.cName())) {
                    throw new IOException(where + " needs " + st.cName() + ", which jextract.conf does not include "
                            + "(jextract would refuse it too): add --include-"
                            + (st.union() ? "union " : "struct ") + st.name());
                }
                return new StructType(st);
            }
            default -> throw new IOException(where + ": unsupported type " + s.tag);
        }
    }

    private static Map<String, Function> functions(Config c, Dwarf d) throws IOException {
        Map<String, Function> out = new LinkedHashMap<>();
        for (String f : c.functions()) {
            Die v = d.variable("nt_func_" + f);
            Die ptr = d.strip(d.ref(v, "DW_AT_type"));
            Die fn = d.strip(d.ref(ptr, "DW_AT_type"));
            if (!fn.tag.equals("DW_TAG_subroutine_type")) throw new IOException(f + " is not a function: " + fn);
            PrimType ret = fn.attrs.containsKey("DW_AT_type") ? scalar(d, d.ref(fn, "DW_AT_type"), f) : null;
            List<PrimType> params = new ArrayList<>();
            boolean variadic = false;
            for (Die p : fn.children) {
                if (p.tag.equals("DW_TAG_formal_parameter")) params.add(scalar(d, d.ref(p, "DW_AT_type"), f));
                else if (p.tag.equals("DW_TAG_unspecified_parameters")) variadic = true;
            }
            out.put(f, new Function(f, ret, List.copyOf(params), variadic));
        }
        return out;
    }

    private static PrimType scalar(Dwarf d, Die t, String where) throws IOException {
        String cName = d.cName(t);
        Die s = d.strip(t);
        if (s.tag.equals("DW_TAG_array_type")) return new PrimType(Prim.POINTER, cName); // decays
        if (s.tag.equals("DW_TAG_union_type")) { // gcc lists no members for a transparent union
            // glibc's __SOCKADDR_ARG / __CONST_SOCKADDR_ARG under _GNU_SOURCE: a transparent union of
            // pointers, passed exactly as its first member (and an 8-byte union of pointers is passed
            // like a pointer anyway). Anything else by value is not supported.
            boolean allPointers = true;
            for (Die m : s.children) {
                if (m.tag.equals("DW_TAG_member")) {
                    allPointers &= d.strip(d.ref(m, "DW_AT_type")).tag.equals("DW_TAG_pointer_type");
                }
            }
            if (allPointers && s.num("DW_AT_byte_size") == Prim.POINTER.size) return new PrimType(Prim.POINTER, cName);
        }
        return new PrimType(d.prim(s, where), cName);
    }

    // ---------------------------------------------------------------------------------------------
    // DWARF, as readelf prints it
    // ---------------------------------------------------------------------------------------------

    /** One debugging information entry. */
    static final class Die {
        final long offset;
        final String tag;
        final Map<String, String> attrs = new LinkedHashMap<>();
        final List<Die> children = new ArrayList<>();

        Die(long offset, String tag) {
            this.offset = offset;
            this.tag = tag;
        }

        String name() {
            return attrs.get("DW_AT_name");
        }

        long num(String attr) throws IOException {
            String v = attrs.get(attr);
            if (v == null) throw new IOException("no " + attr + " in " + this);
            Matcher m = Pattern.compile("^(-?(?:0x[0-9a-fA-F]+|\\d+))").matcher(v.strip());
            if (!m.find()) throw new IOException("not a number: " + attr + " = " + v + " in " + this);
            String n = m.group(1);
            return n.startsWith("0x") ? Long.parseLong(n.substring(2), 16) : Long.parseLong(n);
        }

        @Override
        public String toString() {
            return tag + "@0x" + Long.toHexString(offset) + (name() == null ? "" : " " + name());
        }
    }

    /** The entries of one object file. */
    static final class Dwarf {
        final Map<Long, Die> byOffset = new HashMap<>();
        final List<Die> all = new ArrayList<>();

        private static final Pattern DIE = Pattern.compile("^\\s*<(\\d+)><([0-9a-f]+)>: Abbrev Number: (\\d+)(?: \\((DW_TAG_\\w+)\\))?");
        private static final Pattern FORM = Pattern.compile("^\\((?:data\\d+|sdata|udata|strp|line_strp|strx\\d?|string|ref\\w*|flag\\w*|implicit_const|sec_offset|exprloc|block\\d*)\\)\\s*");
        private static final Pattern ATTR = Pattern.compile("^\\s*<[0-9a-f]+>\\s+(DW_AT_\\w+)\\s*:\\s?(.*)$");

        static Dwarf parse(String text) throws IOException {
            Dwarf d = new Dwarf();
            List<Die> stack = new ArrayList<>();
            Die cur = null;
            for (String line : text.split("\n")) {
                Matcher m = DIE.matcher(line);
                if (m.find()) {
                    int depth = Integer.parseInt(m.group(1));
                    if (m.group(4) == null) { // null entry: ends a list of children
                        cur = null;
                        continue;
                    }
                    cur = new Die(Long.parseLong(m.group(2), 16), m.group(4));
                    while (stack.size() > depth) stack.remove(stack.size() - 1);
                    if (depth > 0) {
                        if (stack.size() < depth) throw new IOException("malformed DWARF dump near " + line);
                        stack.get(depth - 1).children.add(cur);
                    }
                    stack.add(cur);
                    d.byOffset.put(cur.offset, cur);
                    d.all.add(cur);
                    continue;
                }
                Matcher a = ATTR.matcher(line);
                if (a.find() && cur != null) {
                    // Some readelf versions print the form first: "(data1) 40", "(strp) (offset: 0x9): ifreq".
                    String v = FORM.matcher(a.group(2).strip()).replaceFirst("");
                    if (a.group(1).equals("DW_AT_name") && v.startsWith("(") && v.contains("): ")) {
                        v = v.substring(v.indexOf("): ") + 3); // (indirect string, offset: 0x..): name
                    }
                    cur.attrs.put(a.group(1), v);
                }
            }
            if (d.all.isEmpty()) throw new IOException("readelf printed no DWARF entries");
            return d;
        }

        Die ref(Die from, String attr) throws IOException {
            String v = from.attrs.get(attr);
            if (v == null) throw new IOException("no " + attr + " in " + from);
            Matcher m = Pattern.compile("<0x([0-9a-f]+)>").matcher(v);
            if (!m.find()) throw new IOException("not a reference: " + attr + " = " + v);
            Die t = byOffset.get(Long.parseLong(m.group(1), 16));
            if (t == null) throw new IOException("dangling reference " + v + " from " + from);
            return t;
        }

        Die variable(String name) throws IOException {
            for (Die v : all) {
                if (v.tag.equals("DW_TAG_variable") && name.equals(v.name())) return v;
            }
            throw new IOException("no variable " + name + " in the probe's DWARF");
        }

        /** Follows typedef, const, volatile and restrict to the type underneath. */
        Die strip(Die t) throws IOException {
            while (switch (t.tag) {
                case "DW_TAG_typedef", "DW_TAG_const_type", "DW_TAG_volatile_type", "DW_TAG_restrict_type",
                     "DW_TAG_atomic_type" -> true;
                default -> false;
            }) {
                if (!t.attrs.containsKey("DW_AT_type")) throw new IOException("void is not a field type: " + t);
                t = ref(t, "DW_AT_type");
            }
            return t;
        }

        /** How C spells a type (typedef names kept). */
        String cName(Die t) throws IOException {
            return switch (t.tag) {
                case "DW_TAG_typedef", "DW_TAG_base_type" -> t.name();
                case "DW_TAG_const_type" -> "const " + (t.attrs.containsKey("DW_AT_type") ? cName(ref(t, "DW_AT_type")) : "void");
                case "DW_TAG_volatile_type" -> "volatile " + cName(ref(t, "DW_AT_type"));
                case "DW_TAG_restrict_type" -> cName(ref(t, "DW_AT_type")) + " restrict";
                case "DW_TAG_pointer_type" -> (t.attrs.containsKey("DW_AT_type") ? cName(ref(t, "DW_AT_type")) : "void") + " *";
                case "DW_TAG_structure_type" -> "struct " + Objects.requireNonNullElse(t.name(), "");
                case "DW_TAG_union_type" -> "union " + Objects.requireNonNullElse(t.name(), "");
                case "DW_TAG_enumeration_type" -> "enum " + Objects.requireNonNullElse(t.name(), "");
                case "DW_TAG_array_type" -> cName(ref(t, "DW_AT_type")) + "[]";
                case "DW_TAG_subroutine_type" -> "(function)";
                default -> t.tag;
            };
        }

        /** The jextract layout of a scalar, pointer or enum type. */
        Prim prim(Die s, String where) throws IOException {
            switch (s.tag) {
                case "DW_TAG_pointer_type" -> {
                    return Prim.POINTER;
                }
                case "DW_TAG_enumeration_type" -> {
                    if (s.attrs.containsKey("DW_AT_type")) return prim(strip(ref(s, "DW_AT_type")), where);
                    return s.num("DW_AT_byte_size") == 4 ? Prim.INT : intOf(s.num("DW_AT_byte_size"), where, false);
                }
                case "DW_TAG_base_type" -> {
                    long size = s.num("DW_AT_byte_size");
                    long enc = s.num("DW_AT_encoding");
                    if (enc == 2) return Prim.BOOL; // DW_ATE_boolean
                    if (enc == 4) { // DW_ATE_float
                        if (size == 4) return Prim.FLOAT;
                        if (size == 8) return Prim.DOUBLE;
                        throw new IOException(where + ": unsupported floating type " + s.name());
                    }
                    String n = s.name();
                    return intOf(size, where, n != null && n.contains("long long"));
                }
                default -> throw new IOException(where + ": not a scalar type: " + s);
            }
        }

        private static Prim intOf(long size, String where, boolean longLong) throws IOException {
            return switch ((int) size) {
                case 1 -> Prim.CHAR;
                case 2 -> Prim.SHORT;
                case 4 -> Prim.INT;
                case 8 -> longLong ? Prim.LONG_LONG : Prim.LONG;
                default -> throw new IOException(where + ": unsupported integer size " + size);
            };
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Command line
    // ---------------------------------------------------------------------------------------------

    /** Prints what this machine's headers say about every symbol jextract.conf lists; run from the repository root. */
    public static void main(String[] args) throws IOException {
        if (args.length != 0) {
            System.err.println("usage: java tools/bindgen/BindGen.java   (from the repository root; no arguments)");
            System.exit(2);
        }
        Path root = Path.of("").toAbsolutePath();
        if (!Files.isRegularFile(root.resolve(CONF))) {
            System.err.println("no " + CONF + " here: run from the repository root");
            System.exit(2);
        }
        Model m = probe(root);
        for (Constant k : m.constants().values()) {
            System.out.println("constant " + k.name() + " = " + k.value() + " (" + k.cType() + " -> " + k.javaType() + ")");
        }
        for (Struct s : m.structs().values()) print(s, s.name(), "");
        for (Function f : m.functions().values()) {
            List<String> params = new ArrayList<>();
            for (PrimType p : f.params()) params.add(p.cName());
            if (f.variadic()) params.add("...");
            System.out.println("function " + (f.ret() == null ? "void" : f.ret().cName()) + " " + f.name()
                    + "(" + String.join(", ", params) + ")");
        }
    }

    private static void print(Struct s, String path, String indent) {
        System.out.println(indent + (s.union() ? "union " : "struct ") + path + ": size " + s.size());
        for (Field f : s.fields()) {
            System.out.println(indent + "  " + f.name() + ": offset " + f.offset() + ", size " + f.size());
            if (f.type() instanceof StructType st && st.struct().nested()) print(st.struct(), path + "." + f.name(), indent + "    ");
        }
    }
}
