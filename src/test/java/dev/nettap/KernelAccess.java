package dev.nettap;

import dev.nettap.tool.ScratchNamespace;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Marks a test class that needs the real kernel: root (CAP_NET_ADMIN, CAP_SYS_ADMIN), /dev/net/tun
 * and iproute2. Such classes are named {@code *KernelTest}; they skip, saying why, only where those
 * are missing, and CI fails when they skip on a machine that has them.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@Tag("kernel")
@ExtendWith(KernelAccess.Condition.class)
@interface KernelAccess {
    /** Skips unless the process can make namespaces and TAPs. */
    final class Condition implements ExecutionCondition {
        Condition() {
        }


        @Override
        public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
            if (!System.getProperty("os.name", "").equals("Linux")) {
                return ConditionEvaluationResult.disabled("kernel test: not Linux");
            }
            return ScratchNamespace.privileged()
                    ? ConditionEvaluationResult.enabled("root with /dev/net/tun")
                    : ConditionEvaluationResult.disabled("kernel test: needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and /dev/net/tun");
        }
    }
}
