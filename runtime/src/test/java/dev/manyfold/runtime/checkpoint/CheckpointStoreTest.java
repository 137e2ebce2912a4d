package dev.manyfold.runtime.checkpoint;

import static dev.manyfold.runtime.checkpoint.TestFiles.f32;
import static dev.manyfold.runtime.checkpoint.TestFiles.tempFiles;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointStoreTest {
    @TempDir
    Path dir;

    private final CheckpointStore store = CheckpointStore.keepingAll();

    @Test
    void saveWritesTheCheckpointAndPointsLatestAtIt() throws Exception {
        Path runDir = dir.resolve("run");

        Path first = store.save(runDir, 100, weights(1f), Map.of(Checkpoint.RECIPE, "model: tiny\n"));
        Path second = store.save(runDir, 200, weights(2f), Map.of());

        assertThat(first).isEqualTo(runDir.resolve("checkpoint-100.safetensors"));
        assertThat(second).isEqualTo(runDir.resolve("checkpoint-200.safetensors"));
        assertThat(runDir.resolve(CheckpointStore.LATEST)).hasContent("checkpoint-200.safetensors");
        assertThat(store.latest(runDir)).contains(second);
        Checkpoint latest = store.loadLatest(runDir).orElseThrow();
        assertThat(latest.step()).hasValue(200);
        assertThat(latest.tensor("w").data().asFloatBuffer().get(0)).isEqualTo(2f);
        assertThat(SafeTensors.read(first).metadata()).containsEntry(Checkpoint.RECIPE, "model: tiny\n")
                .containsEntry(Checkpoint.STEP, "100");
        assertThat(store.checkpoints(runDir)).containsExactly(first, second);
        assertThat(tempFiles(runDir)).isEmpty();
    }

    @Test
    void latestFollowsThePointerEvenWhenAHigherStepExists() throws Exception {
        Path runDir = dir.resolve("run");
        store.save(runDir, 300, weights(3f), Map.of());
        Path resumed = store.save(runDir, 150, weights(1.5f), Map.of());

        assertThat(store.latest(runDir)).contains(resumed);
    }

    @Test
    void latestFallsBackToTheHighestValidCheckpointWhenThePointerIsMissingOrDamaged() throws Exception {
        Path runDir = dir.resolve("run");
        Path older = store.save(runDir, 9, weights(1f), Map.of());
        Path newer = store.save(runDir, 10, weights(2f), Map.of());
        Path pointer = runDir.resolve(CheckpointStore.LATEST);

        Files.delete(pointer);
        assertThat(store.latest(runDir)).contains(newer);

        Files.writeString(pointer, "../../etc/passwd\n");
        assertThat(store.latest(runDir)).contains(newer);

        Files.writeString(pointer, "checkpoint-10.safetensors\n");
        Files.write(newer, new byte[] {1, 2, 3});
        assertThat(store.latest(runDir)).as("pointer names a damaged file").contains(older);
    }

    @Test
    void latestOfAMissingOrEmptyRunDirectoryIsEmpty() throws Exception {
        assertThat(store.latest(dir.resolve("absent"))).isEmpty();
        assertThat(store.latest(Files.createDirectory(dir.resolve("empty")))).isEmpty();
        assertThat(store.loadLatest(dir.resolve("absent"))).isEmpty();
    }

    @Test
    void failedSaveKeepsThePreviousCheckpointAndPointer() throws Exception {
        Path runDir = dir.resolve("run");
        Path previous = store.save(runDir, 1, weights(1f), Map.of());
        Tensor failing = Tensor.lazy("w", DType.F32, new long[] {1}, () -> {
            throw new IOException("device lost");
        });

        assertThatThrownBy(() -> store.save(runDir, 2, Map.of("w", failing), Map.of()))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("checkpoint-2.safetensors: tensor w: could not read its data: device lost");

        assertThat(runDir.resolve("checkpoint-2.safetensors")).doesNotExist();
        assertThat(runDir.resolve(CheckpointStore.LATEST)).hasContent("checkpoint-1.safetensors");
        assertThat(store.latest(runDir)).contains(previous);
        assertThat(store.loadLatest(runDir).orElseThrow().tensor("w").data().asFloatBuffer().get(0)).isEqualTo(1f);
        assertThat(tempFiles(runDir)).isEmpty();
    }

    @Test
    void keepingLastPrunesOlderCheckpointsButNeverNewerOnes() throws Exception {
        Path runDir = dir.resolve("run");
        CheckpointStore keepTwo = CheckpointStore.keepingLast(2);
        keepTwo.save(runDir, 900, weights(9f), Map.of());
        for (long step = 1; step <= 4; step++) {
            keepTwo.save(runDir, step, weights(step), Map.of());
        }

        assertThat(keepTwo.checkpoints(runDir)).extracting(path -> path.getFileName().toString())
                .containsExactly("checkpoint-3.safetensors", "checkpoint-4.safetensors", "checkpoint-900.safetensors");
        assertThat(keepTwo.latest(runDir)).contains(runDir.resolve("checkpoint-4.safetensors"));
    }

    @Test
    void saveRejectsANegativeStepOrConflictingStepMetadata() {
        Path runDir = dir.resolve("run");

        assertThatThrownBy(() -> store.save(runDir, -1, weights(1f), Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("step is -1");
        assertThatThrownBy(() -> store.save(runDir, 5, weights(1f), Map.of(Checkpoint.STEP, "6")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("metadata step is \"6\" but the checkpoint is saved as step 5");
        assertThatThrownBy(() -> CheckpointStore.keepingLast(0)).isInstanceOf(IllegalArgumentException.class);
        assertThat(runDir).doesNotExist();
    }

    @Test
    void stepOfParsesOnlyCanonicalCheckpointFileNames() {
        assertThat(CheckpointStore.stepOf(Path.of("run/checkpoint-42.safetensors"))).hasValue(42);
        assertThat(CheckpointStore.stepOf(Path.of("checkpoint-0.safetensors"))).hasValue(0);
        assertThat(CheckpointStore.stepOf(Path.of("checkpoint-042.safetensors"))).isEmpty();
        assertThat(CheckpointStore.stepOf(Path.of("checkpoint-99999999999999999999.safetensors"))).isEmpty();
        assertThat(CheckpointStore.stepOf(Path.of(".checkpoint-4.safetensors.1a2b.tmp"))).isEmpty();
        assertThat(CheckpointStore.fileName(7)).isEqualTo("checkpoint-7.safetensors");
    }

    private static Map<String, Tensor> weights(float value) {
        return Map.of("w", f32("w", new long[] {1}, value));
    }
}
