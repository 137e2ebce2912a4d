package dev.manyfold.runtime.checkpoint;

import static dev.manyfold.runtime.checkpoint.TestFiles.f32;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
    @TempDir
    Path dir;

    private Checkpoint checkpoint;

    @BeforeEach
    void load() {
        Path file = dir.resolve("model.safetensors");
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("embed", f32("embed", new long[] {4, 2}, new float[8]));
        tensors.put("layers.0.attn.q_proj", f32("layers.0.attn.q_proj", new long[] {2, 3}, new float[6]));
        tensors.put("norm.scale", f32("norm.scale", new long[] {}, 1f));
        tensors.put("extra.bias", f32("extra.bias", new long[] {2}, 0f, 0f));
        SafeTensors.write(file, tensors, Map.of("step", "40"));
        checkpoint = Checkpoint.load(file);
    }

    @Test
    void validateAgainstAcceptsExactlyMatchingShapes() {
        Map<String, long[]> expected = Map.of("embed", new long[] {4, 2}, "layers.0.attn.q_proj", new long[] {2, 3},
                "norm.scale", new long[] {}, "extra.bias", new long[] {2});

        assertThatCode(() -> checkpoint.validateAgainst(expected)).doesNotThrowAnyException();
        assertThat(checkpoint.mismatches(expected)).isEmpty();
    }

    @Test
    void validateAgainstReportsMissingUnexpectedAndMisshapenTensors() {
        Map<String, long[]> expected = Map.of("embed", new long[] {4, 2}, "layers.0.attn.q_proj", new long[] {3, 2},
                "norm.scale", new long[] {1}, "lm_head", new long[] {2, 4});

        assertThat(checkpoint.mismatches(expected)).containsExactly(
                "missing tensor lm_head (expected shape [2, 4])",
                "unexpected tensor extra.bias F32 [2]",
                "tensor layers.0.attn.q_proj: expected shape [3, 2] but found [2, 3] (F32)",
                "tensor norm.scale: expected shape [1] but found [] (F32)");
        assertThatThrownBy(() -> checkpoint.validateAgainst(expected))
                .isInstanceOf(CheckpointException.class)
                .hasMessageStartingWith(checkpoint.file() + ": checkpoint does not match the model (4 problems):")
                .hasMessageContaining("missing tensor lm_head")
                .hasMessageContaining("unexpected tensor extra.bias")
                .hasMessageContaining("tensor layers.0.attn.q_proj: expected shape [3, 2] but found [2, 3]");
    }

    @Test
    void askingForAnAbsentTensorListsTheTensorsThatExist() {
        assertThatThrownBy(() -> checkpoint.tensor("lm_head"))
                .isInstanceOf(CheckpointException.class)
                .hasMessage(checkpoint.file() + ": no tensor lm_head; the checkpoint holds 4 tensors: "
                        + "embed, extra.bias, layers.0.attn.q_proj, norm.scale");
    }

    @Test
    void tensorsAndMetadataAreSortedAndUnmodifiable() {
        assertThat(checkpoint.tensors().keySet())
                .containsExactly("embed", "extra.bias", "layers.0.attn.q_proj", "norm.scale");
        assertThatThrownBy(() -> checkpoint.tensors().clear()).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> checkpoint.metadata().put("x", "y")).isInstanceOf(UnsupportedOperationException.class);
        assertThat(checkpoint.step()).hasValue(40);
    }

    @Test
    void malformedStepMetadataIsReported() {
        Path file = dir.resolve("bad-step.safetensors");
        SafeTensors.write(file, Map.of(), Map.of("step", "forty"));

        assertThatThrownBy(() -> Checkpoint.load(file).step())
                .isInstanceOf(CheckpointException.class)
                .hasMessage(file + ": metadata step is \"forty\"; expected a non-negative decimal integer");
    }
}
