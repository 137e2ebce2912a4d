package dev.manyfold.runtime.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.manyfold.runtime.checkpoint.Checkpoint;
import dev.manyfold.runtime.checkpoint.CheckpointException;
import dev.manyfold.runtime.checkpoint.DType;
import dev.manyfold.runtime.checkpoint.SafeTensors;
import dev.manyfold.runtime.checkpoint.Tensor;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ResumeStepTest {
    @TempDir
    Path tmp;

    private Checkpoint withStep(String step) {
        Path file = tmp.resolve("c" + Integer.toHexString(step.hashCode()) + ".safetensors");
        Map<String, String> meta = step == null ? Map.of() : Map.of("step", step);
        SafeTensors.write(file, Map.of("w", Tensor.of("w", DType.F32, new long[] {1}, new byte[4])), meta);
        return Checkpoint.load(file);
    }

    @Test
    void stepsOutsideTheRecipeOrNotIntegersAreRefusedWithTheFileNamed() {
        for (String bad : List.of("1000", "21", "-1", "abc", "9223372036854775807", "1e3", " 3", "03", "")) {
            Checkpoint c = withStep(bad);
            assertThatThrownBy(() -> Trainer.resumeStep(c, 20)).as(bad).isInstanceOf(CheckpointException.class)
                    .hasMessageContaining(c.file().toString()).hasMessageContaining("is not a step of this run")
                    .hasMessageContaining("[0, 20]");
        }
    }

    @Test
    void stepsWithinTheRecipeAreAccepted() {
        assertThat(Trainer.resumeStep(withStep("0"), 20)).isZero();
        assertThat(Trainer.resumeStep(withStep("20"), 20)).isEqualTo(20);
        assertThat(Trainer.resumeStep(withStep("7"), 20)).isEqualTo(7);
    }
}
