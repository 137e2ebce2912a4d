package dev.manyfold.plugin.ast;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.Settings;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SlorbTest {
    private static SlorbAdapter create(Map<String, ?> section, ModelShape model) {
        Settings settings = Settings.of("adapters[0]", section);
        SlorbAdapter adapter = (SlorbAdapter) new AstPlugin().adapters().get(0).create(settings, Fakes.context(model));
        settings.rejectUnknown();
        return adapter;
    }

    /** {@code M0⊙W0 + delta} at initialisation, row-major. */
    private static float[] augmented(SlorbAdapter adapter, float[] w, int rows, int cols, NDManager manager) {
        NDArray weight = manager.create(w, new Shape(rows, cols));
        Slorb slorb = adapter.attach("layers.0.mlp.up_proj", weight, manager, 1);
        boolean[] keep = NmMasks.magnitude(w, rows, cols, 2, 4);
        NDArray mask = NmMasks.toArray(keep, rows, cols, weight.getDataType(), manager);
        NDArray masked = weight.mul(mask);
        return masked.add(slorb.delta(masked, rows, cols, manager)).toFloatArray();
    }

    @Test
    void atInitialisationEveryGroupSumOfTheBoostedWeightEqualsTheDenseSum() {
        int rows = 12;
        int cols = 16;
        float[] w = Fakes.gaussian(rows, cols, 1.0, 5);
        try (NDManager manager = NDManager.newBaseManager()) {
            for (int k : new int[] {4, 8}) {
                float[] boosted = augmented(create(Map.of("k", k), null), w, rows, cols, manager);
                for (int i = 0; i < rows; i++) {
                    for (int g = 0; g < cols / k; g++) {
                        double dense = 0;
                        double sum = 0;
                        for (int p = g * k; p < (g + 1) * k; p++) {
                            dense += w[i * cols + p];
                            sum += boosted[i * cols + p];
                        }
                        assertThat(sum).as("row %d group %d (k = %d)", i, g, k).isCloseTo(dense, within(1e-5));
                    }
                }
            }
        }
    }

    @Test
    void zeroInitStartsAtThePlainSparseWeight() {
        try (NDManager manager = NDManager.newBaseManager()) {
            Slorb slorb = create(Map.of("k", 4, "init", "zero"), Fakes.TINY).attach("layers.0.mlp.up_proj",
                    manager.create(Fakes.gaussian(12, 16, 1.0, 2), new Shape(12, 16)), manager, 1);
            assertThat(slorb.delta(null, 12, 16, manager).abs().sum().getFloat()).isZero();
        }
    }

    @Test
    void addsOutTimesInOverKParametersAndATrainableProjectionGivesTheSameDelta() {
        float[] w = Fakes.gaussian(12, 16, 1.0, 9);
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray weight = manager.create(w, new Shape(12, 16));
            Slorb fixed = create(Map.of("k", 4), Fakes.TINY).attach("layers.0.mlp.up_proj", weight, manager, 1);
            assertThat(fixed.parameters()).containsOnlyKeys("s");
            assertThat(fixed.trainableParameters()).isEqualTo(12 * 16 / 4);
            Slorb trainable = create(Map.of("k", 4, "trainable-projection", true), Fakes.TINY).attach("layers.0.mlp.up_proj", weight,
                    manager, 1);
            assertThat(trainable.parameters()).containsOnlyKeys("s", "x");
            assertThat(trainable.trainableParameters()).isEqualTo(12 * 4 + 4 * 16);
            float[] a = fixed.delta(weight, 12, 16, manager).toFloatArray();
            float[] b = trainable.delta(weight, 12, 16, manager).toFloatArray();
            for (int i = 0; i < a.length; i++) {
                assertThat(b[i]).isCloseTo(a[i], within(1e-6f));
            }
            assertThat(fixed.delta(weight, 5, 8, manager).getShape()).isEqualTo(new Shape(5, 8));
        }
    }

    @Test
    void gradientsReachS() {
        try (NDManager manager = NDManager.newBaseManager()) {
            Slorb slorb = create(Map.of("k", 4), Fakes.TINY).attach("layers.0.mlp.up_proj",
                    manager.create(Fakes.gaussian(12, 16, 1.0, 4), new Shape(12, 16)), manager, 1);
            NDArray s = slorb.parameters().get("s");
            s.setRequiresGradient(true);
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                collector.backward(slorb.delta(null, 12, 16, manager).sum());
            }
            // each S entry is broadcast over k = 4 columns
            assertThat(s.getGradient().toFloatArray()).containsOnly(4f);
        }
    }

    @Test
    void aKThatDoesNotDivideATargetedInputDimensionIsRefused() {
        ConfigException e = (ConfigException) catchThrowable(() -> create(Map.of("k", 16), Fakes.TINY));
        assertThat(e.path()).isEqualTo("adapters[0].k");
        assertThat(e.getMessage()).contains("layers.0.mlp.down_proj").contains("[16, 12]");
        assertThat(((ConfigException) catchThrowable(() -> create(Map.of("k", 0), Fakes.TINY))).path()).isEqualTo("adapters[0].k");
        assertThat(((ConfigException) catchThrowable(() -> create(Map.of("init", "gaussian"), Fakes.TINY))).path())
                .isEqualTo("adapters[0].init");
    }
}
