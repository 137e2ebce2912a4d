package dev.manyfold.runtime.train;

import dev.manyfold.runtime.data.TrainingData;
import static dev.manyfold.runtime.train.TrainingFixtures.config;
import static dev.manyfold.runtime.train.TrainingFixtures.trainer;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import dev.manyfold.runtime.model.Model;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Global-norm clipping, with SGD and a loss linear in two tensors so that the gradient is
 * known exactly: {@code ∇ head.bias = A}, {@code ∇ input.bias = B}, {@code ‖(A, B)‖ = 13}.
 */
class GradientClippingTest {
    private static final float[] A = {3f, 0f, -4f};
    private static final float[] B = {0f, 12f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f};
    private static final double NORM = 13.0;
    private static final double LR = 0.1;

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

    private static float[] scaled(float[] v, double s) {
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (float) (v[i] * s);
        }
        return out;
    }

    /** One SGD step on a fresh model; returns the model. */
    private Model oneStep(double clip, float[] a, float[] b, String run) {
        Model model = TrainingFixtures.mlp(data, 3, manager);
        TrainConfig c = config("steps", 1, "batch", 4, "optimizer", "sgd", "schedule", "constant", "lr", LR, "clip", clip);
        trainer(model, data, LinearObjectives.linear(model, step -> Map.of("head.bias", a, "input.bias", b)), c, dir.resolve(run))
                .run(null);
        return model;
    }

    private static void assertMovedBy(Model model, String name, float[] initial, float[] gradient, double scale) {
        float[] actual = model.parameters().get(name).toFloatArray();
        for (int i = 0; i < initial.length; i++) {
            assertThat((double) actual[i]).as("%s[%d]", name, i).isCloseTo(initial[i] - LR * scale * gradient[i], within(1e-7));
        }
    }

    @Test
    void aGradientAboveTheClipIsRescaledToTheClipNormAcrossAllTensorsTogether() {
        Model model = oneStep(1.0, A, B, "clipped");

        // per-tensor clipping would scale A by 1/5 and B by 1/12; the global norm scales both by 1/13
        assertMovedBy(model, "head.bias", new float[3], A, 1.0 / NORM);
        assertMovedBy(model, "input.bias", new float[12], B, 1.0 / NORM);
    }

    @Test
    void clippingEqualsAnUnclippedStepOnTheGradientPreScaledToTheClipNorm() {
        double clip = 2.5;
        Model clipped = oneStep(clip, A, B, "clipped");
        Model prescaled = oneStep(0, scaled(A, clip / NORM), scaled(B, clip / NORM), "prescaled");

        for (String name : clipped.parameters().trainable()) {
            assertThat(clipped.parameters().get(name).toFloatArray()).as(name)
                    .containsExactly(prescaled.parameters().get(name).toFloatArray(), org.assertj.core.data.Offset.offset(1e-7f));
        }
        assertMovedBy(clipped, "input.bias", new float[12], B, clip / NORM);
    }

    @Test
    void aGradientBelowTheClipIsAppliedUnchanged() {
        Model clipped = oneStep(NORM + 0.5, A, B, "below");
        Model unclipped = oneStep(0, A, B, "off");

        assertMovedBy(clipped, "head.bias", new float[3], A, 1.0);
        for (String name : clipped.parameters().trainable()) {
            assertThat(clipped.parameters().get(name).toFloatArray()).as(name)
                    .containsExactly(unclipped.parameters().get(name).toFloatArray());
        }
    }

    @Test
    void clipZeroDisablesClippingEvenForAHugeGradient() {
        Model model = oneStep(0, scaled(A, 1000), scaled(B, 1000), "off");

        assertMovedBy(model, "head.bias", new float[3], scaled(A, 1000), 1.0);
    }

    @Test
    void theMetricsReportTheGradientNormBeforeClipping() throws Exception {
        oneStep(1.0, A, B, "clipped");

        String line = Files.readAllLines(dir.resolve("clipped").resolve("metrics.jsonl")).get(0);
        assertThat(line).contains("\"grad_norm\":13.000000");
    }
}
