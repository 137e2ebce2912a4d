package dev.manyfold.runtime.train;

import dev.manyfold.runtime.data.TrainingData;
import static dev.manyfold.runtime.train.TrainingFixtures.config;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.objective.Objective;
import dev.manyfold.runtime.model.Model;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerDivergenceTest {
    @TempDir
    Path dir;

    @Test
    void aNonFiniteLossAtTheFirstStepBlamesTheStartingWeightsOrDataNotTheLearningRate() {
        TrainConfig c = config("steps", 3, "batch", 4);
        TrainingData data = new TrainingFixtures.Classification(1, c.batch());
        Objective nan = (model, batch, step, random) -> model.forward(batch.inputs(), dev.manyfold.api.SubModel.FULL).sum().mul(Float.NaN);
        try (NDManager manager = NDManager.newBaseManager()) {
            Model model = TrainingFixtures.mlp(data, 1, manager);
            assertThatThrownBy(() -> TrainingFixtures.trainer(model, data, nan, c, dir).run(null)).isInstanceOf(ConfigException.class)
                    .hasMessageStartingWith("train: loss became NaN at step 1").hasMessageContaining("starting weights")
                    .hasMessageNotContaining("lower train.lr");
            assertThat(dir.resolve("checkpoint-1.safetensors")).doesNotExist();
        }
    }

    @Test
    void aHugeWeightDecayIsNamedAsTheCauseNotTheLearningRate() {
        TrainConfig c = config("steps", 40, "batch", 4, "lr", 1.0, "weight-decay", 1e30, "clip", 0.0);
        TrainingData data = new TrainingFixtures.Classification(1, c.batch());
        try (NDManager manager = NDManager.newBaseManager()) {
            Model model = TrainingFixtures.mlp(data, 1, manager);
            assertThatThrownBy(() -> TrainingFixtures.trainer(model, data, TrainingFixtures.fullModelCrossEntropy(), c, dir).run(null))
                    .isInstanceOf(ConfigException.class).hasMessageContaining("became").hasMessageContaining("lower train.weight-decay")
                    .hasMessageNotContaining("lower train.lr");
        }
    }

    @Test
    void aNonFiniteGradientWithAFiniteLossStopsTrainingBeforeTheUpdateNamingTheFirstTensor() {
        TrainConfig c = config("steps", 3, "batch", 4);
        TrainingData data = new TrainingFixtures.Classification(1, c.batch());
        // loss sqrt(0·out) = 0 is finite; its gradient 0·(1 / 2·sqrt(0)) is NaN
        Objective kink = (model, batch, step, random) -> model.forward(batch.inputs(), dev.manyfold.api.SubModel.FULL).mul(0f).sqrt().sum();
        try (NDManager manager = NDManager.newBaseManager()) {
            Model model = TrainingFixtures.mlp(data, 1, manager);
            java.util.Map<String, int[]> before = TrainingFixtures.bits(model);
            assertThatThrownBy(() -> TrainingFixtures.trainer(model, data, kink, c, dir).run(null)).isInstanceOf(ConfigException.class)
                    .hasMessageStartingWith("train: gradient of " + model.parameters().trainable().iterator().next() + " became NaN at step 1");
            java.util.Map<String, int[]> after = TrainingFixtures.bits(model);
            before.forEach((name, bits) -> assertThat(after.get(name)).as(name).containsExactly(bits));
        }
    }
}
