package dev.nettap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The probe in a process whose seccomp filter answers {@code io_uring_setup} with an errno, as a
 * container runtime's default profile does: {@code EPERM} must read as forbidden, {@code ENOSYS} as
 * absent, and the child must fall back with its one log line. The filter is a small C program
 * (compiled here with gcc) that installs it and execs the child JVM.
 */
@Timeout(120)
class UringSeccompTest {
    private static final String FILTER = """
            #include <linux/audit.h>
            #include <linux/filter.h>
            #include <linux/seccomp.h>
            #include <stddef.h>
            #include <stdio.h>
            #include <stdlib.h>
            #include <sys/prctl.h>
            #include <sys/syscall.h>
            #include <unistd.h>
            /* usage: deny-uring ERRNO PROGRAM ARGS...: io_uring_setup fails with ERRNO in PROGRAM and its children */
            int main(int argc, char **argv) {
                if (argc < 3) return 2;
                struct sock_filter f[] = {
                    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 3),
                    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
                    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (atoi(argv[1]) & SECCOMP_RET_DATA)),
                    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                };
                struct sock_fprog prog = { .len = sizeof f / sizeof f[0], .filter = f };
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
                    perror("seccomp");
                    return 3;
                }
                execv(argv[2], argv + 2);
                perror("execv");
                return 4;
            }
            """;
    private static Path dir;
    private static Path helper;

    @BeforeAll
    static void compile() throws Exception {
        assumeTrue(System.getProperty("os.name", "").equals("Linux") && System.getProperty("os.arch").equals("amd64"),
                "the filter is written for x86-64 Linux");
        dir = Files.createTempDirectory("nettap-seccomp");
        Files.writeString(dir.resolve("deny-uring.c"), FILTER);
        helper = dir.resolve("deny-uring");
        Process gcc = new ProcessBuilder("gcc", "-O2", "-Wall", "-o", helper.toString(), dir.resolve("deny-uring.c").toString())
                .redirectErrorStream(true).start();
        String out = new String(gcc.getInputStream().readAllBytes());
        assertTrue(gcc.waitFor(60, TimeUnit.SECONDS), "gcc timed out");
        assertEquals(0, gcc.exitValue(), "gcc: " + out);
    }

    @AfterAll
    static void cleanUp() throws IOException {
        if (dir != null) {
            ScratchDirs.delete(dir);
        }
    }

    private static String probeUnderFilter(int errno) throws Exception {
        Path classes = Path.of("target", "classes").toAbsolutePath();
        Path testClasses = Path.of("target", "test-classes").toAbsolutePath();
        List<String> cmd = new ArrayList<>(List.of(helper.toString(), Integer.toString(errno),
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=dev.nettap", "-Xshare:auto", "-XX:TieredStopAtLevel=1",
                "-p", classes.toString(), "--patch-module", "dev.nettap=" + testClasses,
                "-m", "dev.nettap/" + UringProbeChild.class.getName()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("child did not exit within 60 s: " + out);
        }
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    @Test
    void epermFromSeccompReadsAsForbiddenAndFallsBack() throws Exception {
        String out = probeUnderFilter(dev.nettap.internal.linux.linux_h.EPERM());
        assertTrue(out.contains("kind=FORBIDDEN"), out);
        assertTrue(out.contains("EPERM"), out);
        assertTrue(out.contains("seccomp"), out);
        assertTrue(out.contains("io_uring engine not used (FORBIDDEN"), "the one fallback log line: " + out);
    }

    @Test
    void enosysReadsAsAbsent() throws Exception {
        String out = probeUnderFilter(dev.nettap.internal.linux.linux_h.ENOSYS());
        assertTrue(out.contains("kind=ABSENT"), out);
        assertTrue(out.contains("io_uring engine not used (ABSENT"), out);
    }
}
