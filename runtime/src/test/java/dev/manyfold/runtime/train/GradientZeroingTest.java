package dev.manyfold.runtime.train;

import dev.manyfold.runtime.data.TrainingData;
import static dev.manyfold.runtime.train.TrainingFixtures.config;
import static dev.manyfold.runtime.train.TrainingFixtures.trainer;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import dev.manyfold.runtime.model.Model;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Gradients accumulate across the micro-steps of one optimiser step and never into the next. */
class GradientZeroingTest {
    private static final double LR = 0.1;
    private static final float[] A = {1f, -2f, 0.5f};
    private static final float[] B = {0.25f, 0.5f, -1f, 2f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 3f};

    @TempDir
    Path dir;

    private NDManager manager;
    private final TrainingData data = new TrainingFixtures.Classification(1, 4);

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    private static TrainConfig sgd(int steps, int accumulate) {
        return config("steps", steps, "batch", 4, "accumulate", accumulate, "optimizer", "sgd", "schedule", "constant", "lr", LR,
                "clip", 0);
    }

    private static void assertEquals(float[] actual, double[] expected, String name) {
        for (int i = 0; i < expected.length; i++) {
            assertThat((double) actual[i]).as("%s[%d]", name, i).isCloseTo(expected[i], within(1e-6));
        }
    }

    @Test
    void aStepWhoseLossDoesNotDependOnAParameterLeavesItUnchanged() {
        Model model = TrainingFixtures.mlp(data, 3, manager);
        // step 1 reaches head.bias and input.bias; steps 2 and 3 only input.bias
        trainer(model, data, LinearObjectives.linear(model, step -> step == 1 ? Map.of("head.bias", A, "input.bias", B)
                : Map.of("input.bias", B)), sgd(3, 1), dir).run(null);

        double[] head = new double[A.length];
        for (int i = 0; i < A.length; i++) {
            head[i] = -LR * A[i];
        }
        double[] input = new double[B.length];
        for (int i = 0; i < B.length; i++) {
            input[i] = -3 * LR * B[i];
        }
        assertEquals(model.parameters().get("head.bias").toFloatArray(), head, "head.bias");
        assertEquals(model.parameters().get("input.bias").toFloatArray(), input, "input.bias");
    }

    @Test
    void microStepGradientsAreAveragedWithinAStepAndDiscardedAfterIt() {
        Model model = TrainingFixtures.mlp(data, 3, manager);
        // micro 0 gives A, micro 1 gives 3A: each step applies their mean, 2A, and nothing more
        float[] threeA = {3f, -6f, 1.5f};
        trainer(model, data, LinearObjectives.perMicroStep(model, (step, micro) -> Map.of("head.bias", micro == 0 ? A : threeA)),
                sgd(2, 2), dir).run(null);

        double[] expected = new double[A.length];
        for (int i = 0; i < A.length; i++) {
            expected[i] = -2 * 2 * LR * A[i];
        }
        assertEquals(model.parameters().get("head.bias").toFloatArray(), expected, "head.bias");
    }

    @Test
    void everyGradientIsZeroWhenARealTrainingRunEnds() {
        Model model = TrainingFixtures.mlp(data, 3, manager);
        TrainConfig c = config("steps", 3, "batch", 4, "accumulate", 2);
        trainer(model, data, TrainingFixtures.fullModelCrossEntropy(), c, dir).run(null);

        for (String name : model.parameters().trainable()) {
            try (NDManager m = manager.newSubManager()) {
                var g = model.parameters().get(name).getGradient();
                g.attach(m);
                assertThat(g.abs().sum().getFloat()).as(name).isZero();
            }
        }
    }
}
