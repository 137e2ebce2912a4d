package dev.manyfold.runtime.train;

import dev.manyfold.runtime.data.TrainingData;
import static dev.manyfold.runtime.train.TrainingFixtures.bits;
import static dev.manyfold.runtime.train.TrainingFixtures.config;
import static dev.manyfold.runtime.train.TrainingFixtures.trainer;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import dev.manyfold.api.objective.Objective;
import dev.manyfold.runtime.model.Model;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerDeterminismTest {
    @TempDir
    Path dir;

    private record Outcome(List<Double> losses, Map<String, int[]> weights) {}

    /** A fresh model, data and trainer from {@code seed}, the way a train job builds them. */
    private Outcome mlpRun(long seed, String runName) {
        TrainConfig c = config("steps", 12, "batch", 8, "lr", 0.01, "warmup", 2, "weight-decay", 0.01, "seed", seed);
        TrainingData data = new TrainingFixtures.Classification(seed, c.batch());
        try (NDManager manager = NDManager.newBaseManager()) {
            Model model = TrainingFixtures.mlp(data, seed, manager);
            Trainer.Summary summary = trainer(model, data, TrainingFixtures.randomDepthCrossEntropy(2), c, dir.resolve(runName)).run(null);
            return new Outcome(summary.losses(), bits(model));
        }
    }

    private Outcome llamaRun(long seed, String runName) {
        TrainConfig c = config("steps", 10, "batch", 4, "accumulate", 2, "lr", 0.01, "warmup", 2, "seed", seed);
        TrainingData data = new TrainingFixtures.TokenSequences(seed, c.batch());
        Objective objective = TrainingFixtures.randomDepthCrossEntropy(2);
        try (NDManager manager = NDManager.newBaseManager()) {
            Model model = TrainingFixtures.llama(data, seed, manager);
            Trainer.Summary summary = trainer(model, data, objective, c, dir.resolve(runName)).run(null);
            return new Outcome(summary.losses(), bits(model));
        }
    }

    private static void assertSame(Outcome a, Outcome b) {
        assertThat(b.losses()).isEqualTo(a.losses());
        assertThat(b.weights().keySet()).containsExactlyElementsOf(a.weights().keySet());
        a.weights().forEach((name, raw) -> assertThat(b.weights().get(name)).as(name).containsExactly(raw));
    }

    @Test
    void mlpRunsWithTheSameSeedHaveBitIdenticalLossCurvesAndWeights() {
        Outcome first = mlpRun(5, "a");
        Outcome second = mlpRun(5, "b");

        assertThat(first.losses()).hasSize(12).doesNotHaveDuplicates();
        assertSame(first, second);
    }

    @Test
    void llamaRunsWithTheSameSeedHaveBitIdenticalLossCurvesAndWeights() {
        Outcome first = llamaRun(3, "a");
        Outcome second = llamaRun(3, "b");

        assertThat(first.losses()).hasSize(10).doesNotHaveDuplicates();
        assertSame(first, second);
    }

    @Test
    void aDifferentSeedGivesADifferentLossCurve() {
        Outcome mlp = mlpRun(5, "a");
        Outcome otherMlp = mlpRun(6, "b");
        Outcome llama = llamaRun(3, "c");
        Outcome otherLlama = llamaRun(4, "d");

        assertThat(otherMlp.losses()).hasSize(12);
        for (int i = 0; i < 12; i++) {
            assertThat(otherMlp.losses().get(i)).as("mlp step %d", i + 1).isNotEqualTo(mlp.losses().get(i));
        }
        assertThat(otherLlama.losses()).hasSize(10);
        for (int i = 0; i < 10; i++) {
            assertThat(otherLlama.losses().get(i)).as("llama step %d", i + 1).isNotEqualTo(llama.losses().get(i));
        }
    }

    @Test
    void onlyTheRunSeedChangesTheObjectivesRandomSource() {
        // Same model and data, different train.seed: the sampled depths differ, so the curve does.
        TrainingData data = new TrainingFixtures.Classification(1, 8);
        List<Double> curveA;
        List<Double> curveB;
        try (NDManager manager = NDManager.newBaseManager()) {
            TrainConfig c = config("steps", 12, "batch", 8, "seed", 100);
            Model model = TrainingFixtures.mlp(data, 1, manager);
            curveA = trainer(model, data, TrainingFixtures.randomDepthCrossEntropy(2), c, dir.resolve("a")).run(null).losses();
        }
        try (NDManager manager = NDManager.newBaseManager()) {
            TrainConfig c = config("steps", 12, "batch", 8, "seed", 101);
            Model model = TrainingFixtures.mlp(data, 1, manager);
            curveB = trainer(model, data, TrainingFixtures.randomDepthCrossEntropy(2), c, dir.resolve("b")).run(null).losses();
        }
        assertThat(curveB).isNotEqualTo(curveA);
    }
}
