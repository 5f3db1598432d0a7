package dev.nettap;

import static dev.nettap.internal.linux.linux_h.C_INT;
import static dev.nettap.internal.linux.linux_h.C_POINTER;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Starts a process with one of our fds as its fd 3, which {@link ProcessBuilder} cannot do (it
 * closes every fd above 2 in the child): glibc's {@code posix_spawn} with a {@code dup2} file action,
 * through FFM. Stdin comes from {@code /dev/null} (the surefire JVM talks to Maven over its stdin),
 * stdout and stderr go to a file. Test code only.
 */
final class Spawn {
    private Spawn() {}

    private static final Linker LINKER = Linker.nativeLinker();
    /** glibc x86-64: {@code sizeof(posix_spawn_file_actions_t)} is 80; room to spare. */
    private static final long FILE_ACTIONS_SIZE = 128;
    private static final int WNOHANG = 1;
    private static final int SIGKILL = 9;

    @SuppressWarnings("restricted") // see SAFETY below; the test JVM runs with --enable-native-access
    private static MethodHandle handle(String name, FunctionDescriptor desc) {
        // SAFETY: each descriptor below is the glibc x86-64 prototype of the named function
        // (pid_t and mode_t are int; every pointer is C_POINTER).
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), desc);
    }

    private static final MethodHandle FA_INIT = handle("posix_spawn_file_actions_init",
            FunctionDescriptor.of(C_INT, C_POINTER));
    private static final MethodHandle FA_DESTROY = handle("posix_spawn_file_actions_destroy",
            FunctionDescriptor.of(C_INT, C_POINTER));
    private static final MethodHandle FA_DUP2 = handle("posix_spawn_file_actions_adddup2",
            FunctionDescriptor.of(C_INT, C_POINTER, C_INT, C_INT));
    private static final MethodHandle FA_OPEN = handle("posix_spawn_file_actions_addopen",
            FunctionDescriptor.of(C_INT, C_POINTER, C_INT, C_POINTER, C_INT, C_INT));
    private static final MethodHandle POSIX_SPAWN = handle("posix_spawn",
            FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER));
    private static final MethodHandle WAITPID = handle("waitpid", FunctionDescriptor.of(C_INT, C_INT, C_POINTER, C_INT));
    private static final MethodHandle KILL = handle("kill", FunctionDescriptor.of(C_INT, C_INT, C_INT));
    private static final MethodHandle PIPE2 = handle("pipe2", FunctionDescriptor.of(C_INT, C_POINTER, C_INT));

    /**
     * Spawns {@code argv} (argv[0] an absolute path) with {@code fd} as its fd 3, the current
     * environment, stdin {@code /dev/null}, stdout and stderr into {@code out}.
     *
     * @return the child's pid
     */
    static int spawnWithFd3(List<String> argv, int fd, Path out) throws Throwable {
        if (fd == 3) {
            throw new IllegalArgumentException("pass a duplicate above 3: dup2(3, 3) would keep FD_CLOEXEC");
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fa = arena.allocate(FILE_ACTIONS_SIZE, 16);
            check("posix_spawn_file_actions_init", (int) FA_INIT.invokeExact(fa));
            try {
                // dup2 in the child clears FD_CLOEXEC on fd 3; our fd keeps it and closes at exec.
                check("adddup2", (int) FA_DUP2.invokeExact(fa, fd, 3));
                check("addopen 0", (int) FA_OPEN.invokeExact(fa, 0, arena.allocateFrom("/dev/null"), 0, 0));
                check("addopen 1", (int) FA_OPEN.invokeExact(fa, 1, arena.allocateFrom(out.toString()),
                        01 | 0100 | 01000, 0644)); // O_WRONLY|O_CREAT|O_TRUNC
                check("adddup2 2", (int) FA_DUP2.invokeExact(fa, 1, 2));
                MemorySegment argvArr = strings(arena, argv);
                List<String> env = new ArrayList<>();
                for (Map.Entry<String, String> e : System.getenv().entrySet()) {
                    env.add(e.getKey() + "=" + e.getValue());
                }
                MemorySegment envArr = strings(arena, env);
                MemorySegment pid = arena.allocate(ValueLayout.JAVA_INT);
                // SAFETY: every pointer refers to memory of this confined arena, alive until
                // posix_spawn returns (it returns after the child has exec'd or failed); argv and
                // envp are NULL-terminated arrays of NUL-terminated strings.
                int r = (int) POSIX_SPAWN.invokeExact(pid, arena.allocateFrom(argv.get(0)), fa, MemorySegment.NULL,
                        argvArr, envArr);
                check("posix_spawn", r);
                return pid.get(ValueLayout.JAVA_INT, 0);
            } finally {
                int ignored = (int) FA_DESTROY.invokeExact(fa);
            }
        }
    }

    /** Waits for {@code pid} up to {@code timeout} (then kills it) and returns its exit code. */
    static int waitFor(int pid, Duration timeout) throws Throwable {
        long end = System.nanoTime() + timeout.toNanos();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment status = arena.allocate(ValueLayout.JAVA_INT);
            while (true) {
                int r = (int) WAITPID.invokeExact(pid, status, WNOHANG);
                if (r == pid) {
                    int s = status.get(ValueLayout.JAVA_INT, 0);
                    return (s & 0x7f) == 0 ? (s >> 8) & 0xff : 128 + (s & 0x7f);
                }
                if (r < 0) {
                    throw new IllegalStateException("waitpid(" + pid + ") failed");
                }
                if (System.nanoTime() - end > 0) {
                    int k = (int) KILL.invokeExact(pid, SIGKILL);
                    int w = (int) WAITPID.invokeExact(pid, status, 0);
                    throw new IllegalStateException("child " + pid + " did not exit within " + timeout
                            + " and was killed (kill " + k + ", waitpid " + w + ")");
                }
                Thread.sleep(50);
            }
        }
    }

    /** {@code pipe2(fds, O_CLOEXEC)}: a real pipe, {read, write}. */
    static int[] pipe() throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(ValueLayout.JAVA_INT, 2);
            check("pipe2", (int) PIPE2.invokeExact(fds, 02000000) == 0 ? 0 : -1);
            return new int[] {fds.getAtIndex(ValueLayout.JAVA_INT, 0), fds.getAtIndex(ValueLayout.JAVA_INT, 1)};
        }
    }

    private static MemorySegment strings(Arena arena, List<String> list) {
        MemorySegment arr = arena.allocate(ValueLayout.ADDRESS, list.size() + 1);
        for (int i = 0; i < list.size(); i++) {
            arr.setAtIndex(ValueLayout.ADDRESS, i, arena.allocateFrom(list.get(i)));
        }
        arr.setAtIndex(ValueLayout.ADDRESS, list.size(), MemorySegment.NULL);
        return arr;
    }

    private static void check(String what, int r) {
        if (r != 0) {
            throw new IllegalStateException(what + " failed: " + r);
        }
    }
}
