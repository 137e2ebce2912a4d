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
    void sgdAddsThePrunedDecayToTheGradient() {
        try (NDManager m = NDManager.newBaseManager();
                Optimizer optimizer = new Optimizer(config("steps", 10, "optimizer", "sgd", "lr", 0.1), m)) {
            NDArray w = m.create(new float[] {1f, 2f});
            optimizer.update("w", w, m.create(new float[] {0f, 0f}), m.create(new float[] {0f, 1f}), 0.1, 1, m);
            assertThat(w.toFloatArray()).containsExactly(1f, 1.9f);
        }
    }
}
