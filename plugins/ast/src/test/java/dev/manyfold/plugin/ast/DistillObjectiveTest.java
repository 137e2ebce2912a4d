package dev.manyfold.plugin.ast;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.Settings;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.objective.Batch;
import dev.manyfold.api.objective.ElasticModel;
import dev.manyfold.api.objective.Objective;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The distill objective: α·τ²·KL(p_T‖p_S) + (1−α)·CE against hand-computed values. */
class DistillObjectiveTest {
    /** A model whose forward returns fixed logits [2 positions, 3 classes]. */
    private static ElasticModel fixed(float[] logits, ElasticModel teacher) {
        return new ElasticModel() {
            @Override
            public ModelShape shape() {
                return Fakes.TINY;
            }

            @Override
            public NDArray forward(NDArray input, SubModel subModel) {
                return input.getManager().create(logits, new Shape(2, 3));
            }

            @Override
            public List<NDArray> forwardExits(NDArray input, SubModel subModel, List<Integer> exits) {
                throw new UnsupportedOperationException();
            }

            @Override
            public Optional<ElasticModel> teacher() {
                return Optional.ofNullable(teacher);
            }
        };
    }

    private static Batch batch(NDManager m, int... labels) {
        NDArray in = m.zeros(new Shape(2, 1));
        NDArray out = m.create(labels);
        return new Batch() {
            @Override
            public NDArray inputs() {
                return in;
            }

            @Override
            public NDArray labels() {
                return out;
            }
        };
    }

    private static double[] softmax(double[] z, int from, double tau) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = from; i < from + 3; i++) {
            max = Math.max(max, z[i] / tau);
        }
        double sum = 0;
        double[] p = new double[3];
        for (int i = 0; i < 3; i++) {
            p[i] = Math.exp(z[from + i] / tau - max);
            sum += p[i];
        }
        for (int i = 0; i < 3; i++) {
            p[i] /= sum;
        }
        return p;
    }

    private static Objective create(Map<String, ?> section) {
        Settings settings = Settings.of("objective", section);
        Objective o = new DistillObjectiveFactory().create(settings, Fakes.context(Fakes.TINY));
        settings.rejectUnknown();
        return o;
    }

    @Test
    void lossIsAlphaTauSquaredKlPlusOneMinusAlphaCrossEntropyOnHandComputedLogits() {
        float[] s = {1.0f, 2.0f, 0.5f, -1.0f, 0.0f, 3.0f};
        float[] t = {2.0f, 0.0f, 1.0f, 0.5f, 0.5f, 2.0f};
        double[] sd = new double[6];
        double[] td = new double[6];
        for (int i = 0; i < 6; i++) {
            sd[i] = s[i];
            td[i] = t[i];
        }
        int[] labels = {1, 2};
        double alpha = 0.3;
        double tau = 2.0;
        double kl = 0;
        double ce = 0;
        for (int pos = 0; pos < 2; pos++) {
            double[] pt = softmax(td, 3 * pos, tau);
            double[] ps = softmax(sd, 3 * pos, tau);
            for (int c = 0; c < 3; c++) {
                kl += pt[c] * Math.log(pt[c] / ps[c]);
            }
            ce -= Math.log(softmax(sd, 3 * pos, 1.0)[labels[pos]]);
        }
        kl /= 2;
        ce /= 2;
        double expected = alpha * tau * tau * kl + (1 - alpha) * ce;
        Objective objective = create(Map.of("alpha", alpha, "temperature", tau));
        assertThat(objective.needsTeacher()).isTrue();
        try (NDManager m = NDManager.newBaseManager()) {
            ElasticModel student = fixed(s, fixed(t, null));
            double loss = objective.loss(student, batch(m, labels), 1, new Random(0)).getFloat();
            assertThat(kl).isPositive();
            assertThat(loss).isCloseTo(expected, within(1e-5));
            // α = 0 is plain cross-entropy and needs no teacher; α = 1 is the scaled KL alone
            Objective ceOnly = create(Map.of("alpha", 0));
            assertThat(ceOnly.needsTeacher()).isFalse();
            assertThat((double) ceOnly.loss(fixed(s, null), batch(m, labels), 1, new Random(0)).getFloat()).isCloseTo(ce, within(1e-5));
            assertThat((double) create(Map.of("alpha", 1, "temperature", 1)).loss(student, batch(m, labels), 1, new Random(0)).getFloat())
                    .isCloseTo(klAt(td, sd, 1.0), within(1e-5));
            // identical logits: KL = 0, the loss is (1 − α)·CE
            assertThat((double) create(Map.of("alpha", 0.5)).loss(fixed(s, fixed(s, null)), batch(m, labels), 1, new Random(0)).getFloat())
                    .isCloseTo(0.5 * ce, within(1e-5));
            // no teacher: a clear failure
            assertThatThrownBy(() -> objective.loss(fixed(s, null), batch(m, labels), 1, new Random(0))).hasMessageContaining("teacher");
        }
    }

    private static double klAt(double[] t, double[] s, double tau) {
        double kl = 0;
        for (int pos = 0; pos < 2; pos++) {
            double[] pt = softmax(t, 3 * pos, tau);
            double[] ps = softmax(s, 3 * pos, tau);
            for (int c = 0; c < 3; c++) {
                kl += pt[c] * Math.log(pt[c] / ps[c]);
            }
        }
        return kl / 2;
    }

    @Test
    void alphaOutsideZeroOneAndNonPositiveTemperatureAreRefusedAtTheirPaths() {
        for (double alpha : new double[] {-0.1, 1.5}) {
            ConfigException e = (ConfigException) catchThrowable(() -> create(Map.of("alpha", alpha)));
            assertThat(e.path()).isEqualTo("objective.alpha");
            assertThat(e.getMessage()).contains("[0, 1]");
        }
        assertThat(((ConfigException) catchThrowable(() -> create(Map.of("temperature", 0)))).path()).isEqualTo("objective.temperature");
        assertThat(((ConfigException) catchThrowable(() -> create(Map.of("temperature", -2)))).path()).isEqualTo("objective.temperature");
        assertThat(((ConfigException) catchThrowable(() -> create(Map.of("alhpa", 0.5)))).path()).isEqualTo("objective.alhpa");
        DistillObjective d = (DistillObjective) create(Map.of());
        assertThat(d.alpha()).isEqualTo(0.5);
        assertThat(d.temperature()).isEqualTo(2.0);
    }
}
