package dev.manyfold.runtime.train;

import dev.manyfold.runtime.data.TrainingData;
import static dev.manyfold.runtime.train.TrainingFixtures.bits;
import static dev.manyfold.runtime.train.TrainingFixtures.config;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.objective.Losses;
import dev.manyfold.api.objective.Objective;
import dev.manyfold.runtime.checkpoint.Checkpoint;
import dev.manyfold.runtime.model.Model;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerEdgeCasesTest {
    @TempDir
    Path dir;

    @Test
    void adamwLeavesATensorTheObjectiveNeverReachesUntouched() {
        TrainConfig c = config("steps", 3, "batch", 4, "optimizer", "adamw", "weight-decay", 0.5, "lr", 0.1);
        TrainingData data = new TrainingFixtures.Classification(1, c.batch());
        Objective shallow = (model, batch, step, random) -> Losses.crossEntropy(model.forward(batch.inputs(), SubModel.of(Model.DEPTH, 1)),
                batch.labels());
        try (NDManager manager = NDManager.newBaseManager()) {
            Model model = TrainingFixtures.mlp(data, 1, manager);
            Map<String, int[]> before = bits(model);
            Trainer.Summary summary = TrainingFixtures.trainer(model, data, shallow, c, dir).run(null);
            Map<String, int[]> after = bits(model);

            assertThat(after.get("blocks.1.fc.weight")).containsExactly(before.get("blocks.1.fc.weight"));
            assertThat(after.get("blocks.1.fc.bias")).containsExactly(before.get("blocks.1.fc.bias"));
            assertThat(after.get("blocks.0.fc.weight")).isNotEqualTo(before.get("blocks.0.fc.weight"));
            assertThat(Checkpoint.load(summary.checkpoint()).tensors()).containsKey("optim.m.blocks.0.fc.weight")
                    .doesNotContainKey("optim.m.blocks.1.fc.weight");
        }
    }

    @Test
    void aTrainerWithoutEvalSubModelsFinishesAndWritesItsFinalCheckpoint() {
        TrainConfig c = config("steps", 2, "batch", 4);
        TrainingData data = new TrainingFixtures.Classification(1, c.batch());
        try (NDManager manager = NDManager.newBaseManager()) {
            Model model = TrainingFixtures.mlp(data, 1, manager);
            Trainer.Summary summary = new Trainer(model, data, TrainingFixtures.fullModelCrossEntropy(), c, List.of(), List.of(), dir,
                    TrainingFixtures.quiet(c), Map.of()).run(null);
            assertThat(summary.eval()).isEmpty();
            assertThat(summary.checkpoint()).isEqualTo(dir.resolve("checkpoint-2.safetensors")).exists();
        }
    }
}
