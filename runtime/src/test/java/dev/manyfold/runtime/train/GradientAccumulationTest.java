package dev.manyfold.runtime.train;

import dev.manyfold.runtime.data.TrainingData;
import static dev.manyfold.runtime.train.TrainingFixtures.config;
import static dev.manyfold.runtime.train.TrainingFixtures.trainer;
import static dev.manyfold.runtime.train.TrainingFixtures.values;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import dev.manyfold.runtime.model.Model;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * With a mean loss, two accumulated micro-batches of {@code b} are one batch of {@code 2b}:
 * micro-batch {@code k} of the synthetic data holds examples {@code [k·b, (k+1)·b)} of its
 * step, so both runs see the same examples.
 */
class GradientAccumulationTest {
    @TempDir
    Path dir;

    private record Outcome(List<Double> losses, Map<String, float[]> weights, Map<String, float[]> initial) {}

    private Outcome run(String optimizer, int batch, int accumulate, String name) {
        TrainConfig c = config("steps", 4, "batch", batch, "accumulate", accumulate, "optimizer", optimizer, "lr", 0.05, "warmup", 1,
                "weight-decay", 0.01, "clip", 1.0, "seed", 9);
        TrainingData data = new TrainingFixtures.Classification(9, batch);
        try (NDManager manager = NDManager.newBaseManager()) {
            Model model = TrainingFixtures.mlp(data, 9, manager);
            Map<String, float[]> initial = values(model);
            List<Double> losses = trainer(model, data, TrainingFixtures.fullModelCrossEntropy(), c, dir.resolve(name)).run(null).losses();
            return new Outcome(losses, values(model), initial);
        }
    }

    private static double maxDifference(Map<String, float[]> a, Map<String, float[]> b) {
        double max = 0;
        for (Map.Entry<String, float[]> e : a.entrySet()) {
            float[] other = b.get(e.getKey());
            for (int i = 0; i < other.length; i++) {
                max = Math.max(max, Math.abs(e.getValue()[i] - other[i]));
            }
        }
        return max;
    }

    private void assertAccumulationMatchesTheBigBatch(String optimizer) {
        Outcome accumulated = run(optimizer, 4, 2, "accumulated");
        Outcome big = run(optimizer, 8, 1, "big");

        assertThat(maxDifference(accumulated.initial(), accumulated.weights())).as("training moved the weights").isGreaterThan(1e-2);
        assertThat(maxDifference(accumulated.weights(), big.weights())).isLessThan(1e-5);
        for (int i = 0; i < big.losses().size(); i++) {
            assertThat(accumulated.losses().get(i)).as("loss of step %d", i + 1).isCloseTo(big.losses().get(i), within(1e-6));
        }
    }

    @Test
    void twoAccumulatedMicroBatchesGiveTheWeightsOfOneDoubleBatchUnderAdamw() {
        assertAccumulationMatchesTheBigBatch("adamw");
    }

    @Test
    void twoAccumulatedMicroBatchesGiveTheWeightsOfOneDoubleBatchUnderSgd() {
        assertAccumulationMatchesTheBigBatch("sgd");
    }

    @Test
    void theSecondMicroBatchContributes() {
        Outcome accumulated = run("adamw", 4, 2, "accumulated");
        Outcome firstHalfOnly = run("adamw", 4, 1, "half");

        assertThat(maxDifference(accumulated.weights(), firstHalfOnly.weights())).isGreaterThan(1e-3);
    }
}
