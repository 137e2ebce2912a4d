package dev.manyfold.runtime.train;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.manyfold.runtime.checkpoint.CheckpointException;
import dev.manyfold.runtime.cli.Main;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetricsWriteFailureTest {
    @TempDir
    Path dir;

    @Test
    void aMetricsWriteThatFailsIsABadInputErrorNamingTheFileLikeACheckpointWrite() throws Exception {
        Path notADirectory = Files.writeString(dir.resolve("file"), "x");
        Trainer.MetricsLog log = new Trainer.MetricsLog(notADirectory.resolve("metrics.jsonl"));
        assertThatThrownBy(() -> log.write("{\"step\":1}")).isInstanceOf(CheckpointException.class)
                .hasMessageContaining(notADirectory.resolve("metrics.jsonl") + ": cannot write metrics")
                .hasMessageContaining("checkpoints written so far are intact")
                .satisfies(e -> org.assertj.core.api.Assertions.assertThat(Main.exitCode(e)).isEqualTo(Main.BAD_INPUT));
    }
}
