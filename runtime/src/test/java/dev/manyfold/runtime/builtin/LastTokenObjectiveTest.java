package dev.manyfold.runtime.builtin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Context;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.Settings;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.objective.Batch;
import dev.manyfold.api.objective.ElasticModel;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LastTokenObjectiveTest {
    private static final int SEQ = 4;
    private static final int VOCAB = 6;

    /** logits[b, t, v] = b + 0.1·t·v + 0.01·v², distinct per position. */
    private static float[] logits() {
        float[] x = new float[2 * SEQ * VOCAB];
        for (int b = 0; b < 2; b++) {
            for (int t = 0; t < SEQ; t++) {
                for (int v = 0; v < VOCAB; v++) {
                    x[(b * SEQ + t) * VOCAB + v] = b + 0.1f * t * v + 0.01f * v * v;
                }
            }
        }
        return x;
    }

    @Test
    void pickTakesEachRowsFirstLabelledPositionRestrictedToTheClassTokensAndTheLossIsTheKWayCrossEntropy() {
        try (NDManager m = NDManager.newBaseManager()) {
            float[] x = logits();
            NDArray logits = m.create(x, new Shape(2, SEQ, VOCAB));
            // row 0: answer token 4 at position 2 (then EOS 5 at 3); row 1: answer token 2 at position 1
            NDArray labels = m.create(new long[] {-100, -100, 4, 5, -100, 2, 5, -100}, new Shape(2, SEQ));
            long[] classes = {2, 4};
            NDArray[] picked = LastTokenObjective.pick(logits, labels, classes);
            assertThat(picked[0].getShape()).isEqualTo(new Shape(2, 2));
            float[] k = picked[0].toFloatArray();
            assertThat(k[0]).isCloseTo(x[(0 * SEQ + 2) * VOCAB + 2], within(1e-6f));
            assertThat(k[1]).isCloseTo(x[(0 * SEQ + 2) * VOCAB + 4], within(1e-6f));
            assertThat(k[2]).isCloseTo(x[(1 * SEQ + 1) * VOCAB + 2], within(1e-6f));
            assertThat(k[3]).isCloseTo(x[(1 * SEQ + 1) * VOCAB + 4], within(1e-6f));
            assertThat(picked[1].toFloatArray()).containsExactly(0f, 1f, 1f, 0f);
            // row 0 has the larger logit on its target (token 4), row 1 too on token 4, which is wrong
            assertThat(LastTokenObjective.correct(picked)).isEqualTo(1);

            double expected = 0;
            for (int r = 0; r < 2; r++) {
                double a = k[2 * r];
                double b = k[2 * r + 1];
                double logZ = Math.log(Math.exp(a) + Math.exp(b));
                expected += logZ - (r == 0 ? b : a);
            }
            expected /= 2;
            ElasticModel model = new ElasticModel() {
                @Override
                public ModelShape shape() {
                    throw new UnsupportedOperationException();
                }

                @Override
                public NDArray forward(NDArray input, SubModel subModel) {
                    return logits;
                }

                @Override
                public List<NDArray> forwardExits(NDArray input, SubModel subModel, List<Integer> exits) {
                    throw new UnsupportedOperationException();
                }
            };
            Batch batch = new Batch() {
                @Override
                public NDArray inputs() {
                    return labels;
                }

                @Override
                public NDArray labels() {
                    return labels;
                }
            };
            double loss = new LastTokenObjective(classes).loss(model, batch, 1, new Random(0)).getFloat();
            assertThat(loss).isCloseTo(expected, within(1e-5));
        }
    }

    @Test
    void aRowWhoseAnswerIsNotAClassTokenIsRefusedNamingTheRowAndToken() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray logits = m.create(logits(), new Shape(2, SEQ, VOCAB));
            NDArray labels = m.create(new long[] {-100, 2, 5, -100, -100, -100, 3, 5}, new Shape(2, SEQ));
            assertThatThrownBy(() -> LastTokenObjective.pick(logits, labels, new long[] {2, 4}))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("row 1").hasMessageContaining("label token 3");
        }
    }

    @Test
    void classesAreCheckedAtTheirRecipePath() {
        Context context = new Context() {
            @Override
            public long seed() {
                return 0;
            }

            @Override
            public Optional<ModelShape> model() {
                return Optional.empty();
            }

            @Override
            public Path workDirectory() {
                return Path.of(".");
            }

            @Override
            public void info(String message) {}
        };
        var factory = LastTokenObjective.factory();
        for (Object classes : List.of(List.of(65), List.of(65, 65), List.of(65, -1))) {
            assertThatThrownBy(() -> factory.create(Settings.of("objective", Map.of("type", "last-token", "classes", classes)), context))
                    .isInstanceOf(ConfigException.class).extracting(e -> ((ConfigException) e).path()).isEqualTo("objective.classes");
        }
        assertThatThrownBy(() -> factory.create(Settings.of("objective", Map.of("type", "last-token")), context))
                .isInstanceOf(ConfigException.class).extracting(e -> ((ConfigException) e).path()).isEqualTo("objective.classes");
        assertThat(factory.create(Settings.of("objective", Map.of("type", "last-token", "classes", List.of(65, 66))), context))
                .isInstanceOf(LastTokenObjective.class);
    }
}
