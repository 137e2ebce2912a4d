package dev.manyfold.runtime.train;

import static dev.manyfold.runtime.train.TrainingFixtures.config;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class OptimizerTest {
    private static final double TOLERANCE = 1e-6;
    private NDManager manager;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    /** AdamW in Java doubles, written from the paper (Loshchilov &amp; Hutter, Algorithm 2). */
    private static final class ReferenceAdamW {
        final double b1;
        final double b2;
        final double eps;
        final double wd;
        final double[] p;
        final double[] m;
        final double[] v;

        ReferenceAdamW(double b1, double b2, double eps, double wd, float[] initial) {
            this.b1 = b1;
            this.b2 = b2;
            this.eps = eps;
            this.wd = wd;
            p = new double[initial.length];
            for (int i = 0; i < p.length; i++) {
                p[i] = initial[i];
            }
            m = new double[p.length];
            v = new double[p.length];
        }

        void step(float[] g, double lr, int t) {
            for (int i = 0; i < p.length; i++) {
                m[i] = b1 * m[i] + (1 - b1) * g[i];
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
                double mHat = m[i] / (1 - Math.pow(b1, t));
                double vHat = v[i] / (1 - Math.pow(b2, t));
                p[i] = p[i] - lr * (mHat / (Math.sqrt(vHat) + eps) + wd * p[i]);
            }
        }
    }

    private static void assertClose(float[] actual, double[] expected) {
        assertThat(actual).hasSize(expected.length);
        for (int i = 0; i < expected.length; i++) {
            assertThat((double) actual[i]).as("element %d", i).isCloseTo(expected[i], within(TOLERANCE));
        }
    }

    @Test
    void adamwStepsMatchAHandComputationWithBiasCorrectionDecoupledWeightDecayAndEps() {
        TrainConfig c = config("steps", 10, "optimizer", "adamw", "beta1", 0.8, "beta2", 0.95, "eps", 1e-3, "weight-decay", 0.25);
        float[] initial = {1.0f, -2.0f, 0.5f, 3.0f, -0.75f};
        // the third gradient is tiny, so eps visibly changes its update
        float[][] grads = {{0.5f, -1.0f, 1e-4f, 2.0f, 0.0f}, {-0.25f, -0.5f, 2e-4f, 1.5f, 0.3f}, {0.1f, 0.2f, -1e-4f, -1.0f, 0.0f}};
        double[] lrs = {0.1, 0.05, 0.2};
        ReferenceAdamW reference = new ReferenceAdamW(0.8, 0.95, 1e-3, 0.25, initial);
        try (Optimizer optimizer = new Optimizer(c, manager)) {
            NDArray param = manager.create(initial.clone());
            for (int t = 1; t <= grads.length; t++) {
                try (NDManager scratch = manager.newSubManager()) {
                    optimizer.update("w", param, scratch.create(grads[t - 1]), lrs[t - 1], t, scratch);
                }
                reference.step(grads[t - 1], lrs[t - 1], t);
                assertClose(param.toFloatArray(), reference.p);
            }
            Map<String, NDArray> state = optimizer.state();
            assertThat(state).containsOnlyKeys("optim.m.w", "optim.v.w");
            assertClose(state.get("optim.m.w").toFloatArray(), reference.m);
            assertClose(state.get("optim.v.w").toFloatArray(), reference.v);
        }
    }

    @Test
    void adamwFirstStepMovesEachWeightByTheLearningRateTimesTheGradientSign() {
        // with bias correction, m̂ = g and v̂ = g² at t = 1, so the step is g / (|g| + eps) ≈ sign(g)
        TrainConfig c = config("steps", 10, "optimizer", "adamw", "eps", 1e-8);
        try (Optimizer optimizer = new Optimizer(c, manager); NDManager scratch = manager.newSubManager()) {
            NDArray param = manager.create(new float[] {0f, 0f, 0f});
            optimizer.update("w", param, scratch.create(new float[] {3f, -0.01f, 40f}), 0.1, 1, scratch);
            assertThat(param.toFloatArray()).containsExactly(new float[] {-0.1f, 0.1f, -0.1f}, org.assertj.core.data.Offset.offset(1e-6f));
        }
    }

    @Test
    void adamwWeightDecayShrinksAWeightWithZeroGradientByLrTimesDecay() {
        TrainConfig c = config("steps", 10, "optimizer", "adamw", "weight-decay", 0.5);
        try (Optimizer optimizer = new Optimizer(c, manager); NDManager scratch = manager.newSubManager()) {
            NDArray param = manager.create(new float[] {2f, -4f});
            optimizer.update("w", param, scratch.zeros(param.getShape()), 0.1, 1, scratch);
            // decoupled: not divided by sqrt(v̂) + eps (L2-in-the-gradient would give a step of ~sign)
            assertThat(param.toFloatArray()).containsExactly(new float[] {2f * 0.95f, -4f * 0.95f},
                    org.assertj.core.data.Offset.offset(1e-6f));
        }
    }

    @Test
    void adamwMomentsRestoredIntoAFreshOptimizerContinueExactlyAsTheOriginal() {
        TrainConfig c = config("steps", 10, "optimizer", "adamw", "weight-decay", 0.1);
        float[] g1 = {0.3f, -0.7f, 1.1f};
        float[] g2 = {-0.2f, 0.4f, 0.9f};
        try (Optimizer original = new Optimizer(c, manager); Optimizer resumed = new Optimizer(c, manager);
                NDManager scratch = manager.newSubManager()) {
            NDArray a = manager.create(new float[] {1f, 2f, 3f});
            original.update("w", a, scratch.create(g1), 0.01, 1, scratch);
            NDArray b = a.duplicate();
            resumed.restore(original.state());
            original.update("w", a, scratch.create(g2), 0.01, 2, scratch);
            resumed.update("w", b, scratch.create(g2), 0.01, 2, scratch);
            assertThat(b.toFloatArray()).containsExactly(a.toFloatArray());
            assertThat(resumed.state().get("optim.v.w").toFloatArray()).containsExactly(original.state().get("optim.v.w").toFloatArray());
        }
    }

    @Test
    void sgdSubtractsLearningRateTimesGradientAndKeepsNoState() {
        TrainConfig c = config("steps", 10, "optimizer", "sgd", "weight-decay", 0.5);
        float[] initial = {1.0f, -2.0f, 0.5f};
        float[] g1 = {0.5f, -1.0f, 4.0f};
        float[] g2 = {-0.25f, 0.125f, 1.0f};
        try (Optimizer optimizer = new Optimizer(c, manager); NDManager scratch = manager.newSubManager()) {
            NDArray param = manager.create(initial.clone());
            optimizer.update("w", param, scratch.create(g1), 0.1, 1, scratch);
            optimizer.update("w", param, scratch.create(g2), 0.3, 2, scratch);
            double[] expected = new double[initial.length];
            for (int i = 0; i < initial.length; i++) {
                expected[i] = initial[i] - 0.1 * g1[i] - 0.3 * g2[i];
            }
            // weight decay is an AdamW setting; plain SGD ignores it
            assertClose(param.toFloatArray(), expected);
            assertThat(optimizer.state()).isEmpty();
        }
    }
}
