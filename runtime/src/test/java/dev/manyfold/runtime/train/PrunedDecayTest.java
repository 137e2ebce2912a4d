package dev.manyfold.runtime.train;

import static dev.manyfold.runtime.train.TrainingFixtures.config;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.Test;

/** AST Eq. 20–23: the pruned-weight decay joins the first moment without accumulating in it. */
class PrunedDecayTest {
    @Test
    void adamWithPrunedDecayFollowsAstEquations20To23() {
        double b1 = 0.9;
        double b2 = 0.99;
        double eps = 1e-8;
        double lr = 0.1;
        double lambda = 0.5;
        float[] w0 = {1.0f, -2.0f, 0.5f};
        float[] g = {0.2f, -0.1f, 0.3f};
        float[] mask = {1, 0, 0};
        try (NDManager m = NDManager.newBaseManager();
                Optimizer optimizer = new Optimizer(config("steps", 10, "beta1", b1, "beta2", b2, "eps", eps), m)) {
            NDArray w = m.create(w0.clone());
            double[] p = {w0[0], w0[1], w0[2]};
            double[] u = new double[3];
            double[] v = new double[3];
            for (int t = 1; t <= 3; t++) {
                try (NDManager scratch = m.newSubManager()) {
                    NDArray pruned = scratch.create(new float[] {1 - mask[0], 1 - mask[1], 1 - mask[2]});
                    NDArray decay = pruned.mul(w).mul(lambda);
                    optimizer.update("w", w, scratch.create(g), decay, lr, t, scratch);
                }
                for (int i = 0; i < 3; i++) {
                    u[i] = b1 * u[i] + (1 - b1) * g[i];
                    double ut = u[i] + lambda * (1 - mask[i]) * p[i];
                    v[i] = b2 * v[i] + (1 - b2) * ut * ut;
                    p[i] -= lr / (1 - Math.pow(b1, t)) * ut / (Math.sqrt(v[i] / (1 - Math.pow(b2, t))) + eps);
                }
                float[] actual = w.toFloatArray();
                for (int i = 0; i < 3; i++) {
                    assertThat((double) actual[i]).as("step %d weight %d", t, i).isCloseTo(p[i], within(1e-5));
                }
            }
            // the decay never entered the stored first moment: it equals the plain EMA of g
            NDArray storedU = optimizer.state().get("optim.m.w");
            for (int i = 0; i < 3; i++) {
                assertThat((double) storedU.toFloatArray()[i]).isCloseTo(u[i], within(1e-6));
            }
        }
    }

    @Test
    void afterStepAppliesTheDecayAfterAPlainAdamStepAndDiffersFromInAdam() {
        double b1 = 0.9;
        double b2 = 0.99;
        double eps = 1e-8;
        double lr = 0.1;
        double lambda = 0.5;
        float[] w0 = {1.0f, -2.0f, 0.5f};
        float[] g = {0.2f, -0.1f, 0.3f};
        float[] pruned = {0, 1, 1};
        try (NDManager m = NDManager.newBaseManager();
                Optimizer after = new Optimizer(config("steps", 10, "beta1", b1, "beta2", b2, "eps", eps), m);
                Optimizer inAdam = new Optimizer(config("steps", 10, "beta1", b1, "beta2", b2, "eps", eps), m)) {
            NDArray wa = m.create(w0.clone());
            NDArray wi = m.create(w0.clone());
            double[] p = {w0[0], w0[1], w0[2]};
            double[] u = new double[3];
            double[] v = new double[3];
            for (int t = 1; t <= 3; t++) {
                try (NDManager scratch = m.newSubManager()) {
                    after.update("w", wa, scratch.create(g), scratch.create(pruned).mul(wa).mul(lambda), true, lr, t, scratch);
                    inAdam.update("w", wi, scratch.create(g), scratch.create(pruned).mul(wi).mul(lambda), false, lr, t, scratch);
                }
                for (int i = 0; i < 3; i++) {
                    // plain Adam on g (the decay reaches neither moment), then W ← W − lr·λ·P⊙W_t
                    u[i] = b1 * u[i] + (1 - b1) * g[i];
                    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
                    double adam = lr / (1 - Math.pow(b1, t)) * u[i] / (Math.sqrt(v[i] / (1 - Math.pow(b2, t))) + eps);
                    p[i] = p[i] - adam - lr * lambda * pruned[i] * p[i];
                }
                float[] actual = wa.toFloatArray();
                for (int i = 0; i < 3; i++) {
                    assertThat((double) actual[i]).as("step %d weight %d", t, i).isCloseTo(p[i], within(1e-5));
                }
            }
            for (int i = 0; i < 3; i++) {
                assertThat((double) after.state().get("optim.m.w").toFloatArray()[i]).isCloseTo(u[i], within(1e-6));
                assertThat((double) after.state().get("optim.v.w").toFloatArray()[i]).isCloseTo(v[i], within(1e-7));
            }
            // the two placements give different pruned weights
            assertThat(Math.abs(wa.toFloatArray()[1] - wi.toFloatArray()[1])).isGreaterThan(1e-3f);
            assertThat(Math.abs(wa.toFloatArray()[2] - wi.toFloatArray()[2])).isGreaterThan(1e-3f);
        }
    }

    @Test
    void inGradientAddsTheDecayToTheGradientSoItAccumulatesInBothMomentsAndDiffersFromInAdam() {
        double b1 = 0.9;
        double b2 = 0.99;
        double eps = 1e-8;
        double lr = 0.1;
        double lambda = 0.5;
        float[] w0 = {1.0f, -2.0f, 0.5f};
        float[] g = {0.2f, -0.1f, 0.3f};
        float[] pruned = {0, 1, 1};
        try (NDManager m = NDManager.newBaseManager();
                Optimizer inGradient = new Optimizer(config("steps", 10, "beta1", b1, "beta2", b2, "eps", eps), m);
                Optimizer inAdam = new Optimizer(config("steps", 10, "beta1", b1, "beta2", b2, "eps", eps), m)) {
            NDArray wg = m.create(w0.clone());
            NDArray wi = m.create(w0.clone());
            double[] p = {w0[0], w0[1], w0[2]};
            double[] u = new double[3];
            double[] v = new double[3];
            for (int t = 1; t <= 3; t++) {
                try (NDManager scratch = m.newSubManager()) {
                    inGradient.update("w", wg, scratch.create(g), scratch.create(pruned).mul(wg).mul(lambda),
                            Optimizer.DecayPlacement.IN_GRADIENT, lr, t, scratch);
                    inAdam.update("w", wi, scratch.create(g), scratch.create(pruned).mul(wi).mul(lambda),
                            Optimizer.DecayPlacement.IN_ADAM, lr, t, scratch);
                }
                for (int i = 0; i < 3; i++) {
                    // plain Adam on g + λ·P⊙W: the decay is in u and v
                    double gt = g[i] + lambda * pruned[i] * p[i];
                    u[i] = b1 * u[i] + (1 - b1) * gt;
                    v[i] = b2 * v[i] + (1 - b2) * gt * gt;
                    p[i] -= lr / (1 - Math.pow(b1, t)) * u[i] / (Math.sqrt(v[i] / (1 - Math.pow(b2, t))) + eps);
                }
                float[] actual = wg.toFloatArray();
                for (int i = 0; i < 3; i++) {
                    assertThat((double) actual[i]).as("step %d weight %d", t, i).isCloseTo(p[i], within(1e-5));
                }
            }
            for (int i = 0; i < 3; i++) {
                assertThat((double) inGradient.state().get("optim.m.w").toFloatArray()[i]).isCloseTo(u[i], within(1e-6));
            }
            // the stored first moment holds the decay in-gradient, not in-adam
            assertThat(Math.abs(inGradient.state().get("optim.m.w").toFloatArray()[1] - inAdam.state().get("optim.m.w").toFloatArray()[1]))
                    .isGreaterThan(1e-3f);
            assertThat(Math.abs(wg.toFloatArray()[2] - wi.toFloatArray()[2])).isGreaterThan(1e-4f);
        }
    }

    @Test
    void withZeroGradientAndMomentTheInAdamDecayStillMovesPrunedWeights() {
        try (NDManager m = NDManager.newBaseManager(); Optimizer optimizer = new Optimizer(config("steps", 10), m)) {
            NDArray w = m.create(new float[] {1f, 2f});
            optimizer.update("w", w, m.create(new float[] {0f, 0f}), m.create(new float[] {0f, 0.2f}), false, 0.1, 1, m);
            float[] after = w.toFloatArray();
            assertThat(after[0]).isEqualTo(1f);
            assertThat(after[1]).isLessThan(2f);
            assertThat(optimizer.state().get("optim.m.w").toFloatArray()).containsExactly(0f, 0f);
        }
    }

    @Test
    void sgdAddsThePrunedDecayToTheGradient() {
        try (NDManager m = NDManager.newBaseManager();
                Optimizer optimizer = new Optimizer(config("steps", 10, "optimizer", "sgd", "lr", 0.1), m)) {
            NDArray w = m.create(new float[] {1f, 2f});
            optimizer.update("w", w, m.create(new float[] {0f, 0f}), m.create(new float[] {0f, 1f}), 0.1, 1, m);
            assertThat(w.toFloatArray()).containsExactly(1f, 1.9f);
        }
    }
}
