package dev.manyfold.runtime.checkpoint;

import static dev.manyfold.runtime.checkpoint.TestFiles.f32;
import static dev.manyfold.runtime.checkpoint.TestFiles.tempFiles;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A write that fails part-way leaves the previous file as it was and no temporary file behind. */
class SafeTensorsAtomicWriteTest {
    @TempDir
    Path dir;

    private Path file;
    private byte[] previous;

    @BeforeEach
    void writePreviousCheckpoint() throws IOException {
        file = dir.resolve("model.safetensors");
        SafeTensors.write(file, Map.of("a", f32("a", new long[] {2}, 1f, 2f), "z", f32("z", new long[] {1}, 9f)),
                Map.of("step", "1"));
        previous = Files.readAllBytes(file);
    }

    @Test
    void dataSourceThatThrowsMidWriteLeavesThePreviousCheckpointIntact() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("a", f32("a", new long[] {2}, 3f, 4f));
        tensors.put("b", Tensor.lazy("b", DType.F32, new long[] {1024}, () -> {
            calls.incrementAndGet();
            throw new IOException("disk read failed");
        }));
        tensors.put("c", f32("c", new long[] {1}, 5f));

        assertThatThrownBy(() -> SafeTensors.write(file, tensors, Map.of("step", "2")))
                .isInstanceOf(CheckpointException.class)
                .hasMessage(file + ": tensor b: could not read its data: disk read failed");

        assertThat(calls).as("the failing source was reached after tensor a was written").hasValue(1);
        assertPreviousCheckpointIntact();
    }

    @Test
    void dataSourceThatThrowsAnUncheckedExceptionLeavesThePreviousCheckpointIntact() throws Exception {
        Map<String, Tensor> tensors = Map.of("b", Tensor.lazy("b", DType.F32, new long[] {2}, () -> {
            throw new IllegalStateException("parameter was closed");
        }));

        assertThatThrownBy(() -> SafeTensors.write(file, tensors, Map.of()))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("tensor b: could not read its data")
                .hasMessageContaining("parameter was closed");

        assertPreviousCheckpointIntact();
    }

    @Test
    void dataSourceSupplyingTooFewBytesFailsTheWriteAndLeavesThePreviousCheckpointIntact() throws Exception {
        Map<String, Tensor> tensors = Map.of("b", Tensor.lazy("b", DType.F32, new long[] {2, 3}, () -> ByteBuffer.allocate(12)));

        assertThatThrownBy(() -> SafeTensors.write(file, tensors, Map.of()))
                .isInstanceOf(CheckpointException.class)
                .hasMessage(file + ": tensor b: data holds 12 bytes but F32 [2, 3] needs 24");

        assertPreviousCheckpointIntact();
    }

    @Test
    void failedRenameLeavesTheTargetAndOtherCheckpointsUntouched() throws Exception {
        Path blocked = Files.createDirectory(dir.resolve("blocked.safetensors"));
        Files.writeString(blocked.resolve("keep.txt"), "not a checkpoint");

        assertThatThrownBy(() -> SafeTensors.write(blocked, Map.of("a", f32("a", new long[] {1}, 1f)), Map.of()))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining(blocked + ": could not write checkpoint");

        assertThat(blocked).isDirectory();
        assertThat(blocked.resolve("keep.txt")).hasContent("not a checkpoint");
        assertPreviousCheckpointIntact();
    }

    @Test
    void writeIntoAMissingDirectoryFailsWithoutCreatingAnything() {
        Path missing = dir.resolve("no-such-dir").resolve("model.safetensors");

        assertThatThrownBy(() -> SafeTensors.write(missing, Map.of("a", f32("a", new long[] {1}, 1f)), Map.of()))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining(missing.toString());

        assertThat(dir.resolve("no-such-dir")).doesNotExist();
    }

    @Test
    void successfulWriteReplacesTheFileAndLeavesNoTemporaryFile() throws Exception {
        SafeTensors.write(file, Map.of("n", f32("n", new long[] {1}, 7f)), Map.of("step", "2"));

        Checkpoint checkpoint = SafeTensors.read(file);
        assertThat(checkpoint.tensors()).containsOnlyKeys("n");
        assertThat(checkpoint.metadata()).containsEntry("step", "2");
        assertThat(tempFiles(dir)).isEmpty();
    }

    private void assertPreviousCheckpointIntact() throws IOException {
        assertThat(Files.readAllBytes(file)).isEqualTo(previous);
        Checkpoint checkpoint = SafeTensors.read(file);
        assertThat(checkpoint.tensors()).containsOnlyKeys("a", "z");
        assertThat(checkpoint.tensor("a").data().asFloatBuffer().get(1)).isEqualTo(2f);
        assertThat(checkpoint.metadata()).containsEntry("step", "1");
        assertThat(tempFiles(dir)).isEmpty();
    }
}
