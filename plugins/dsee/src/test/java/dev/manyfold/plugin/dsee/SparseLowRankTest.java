package dev.manyfold.plugin.dsee;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.manyfold.api.Settings;
import dev.manyfold.api.adapter.Adapter;
import dev.manyfold.api.adapter.AdapterFactory;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class SparseLowRankTest {
    private static final int OUT = 6;
    private static final int IN = 5;

    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    /** Creates an adapter the way the host does: factory by name, then the unknown-key check. */
    static DseeAdapter create(String type, Map<String, ?> section) {
        AdapterFactory factory = new DseePlugin().adapters().stream().filter(f -> f.name().equals(type)).findFirst().orElseThrow();
        Settings settings = Fakes.adapter(section);
        Adapter adapter = factory.create(settings, Fakes.context(null));
        settings.rejectUnknown();
        return (DseeAdapter) adapter;
    }

    private NDArray weight(long seed) {
        return manager.create(Fakes.gaussian(OUT, IN, 0.5, seed), new Shape(OUT, IN));
    }

    private SparseLowRank attach(String type, Map<String, ?> section, NDArray w0) {
        SparseLowRank a = create(type, section).attach("layers.0.attn.q_proj", w0, manager, 7);
        a.parameters().values().forEach(p -> p.setRequiresGradient(true));
        return a;
    }

    private static NDArray apply(NDArray x, NDArray w0, SparseLowRank adapter, NDManager m) {
        NDArray w = adapter == null ? w0 : w0.add(adapter.delta(w0, OUT, IN, m));
        return x.matMul(w.transpose());
    }

    @Test
    void deltaIsExactlyZeroAtStepZeroSoOutputsEqualTheBaseModel() {
        NDArray w0 = weight(1);
        NDArray x = manager.create(Fakes.gaussian(3, IN, 1.0, 2), new Shape(3, IN));
        for (String support : Support.NAMES) {
            SparseLowRank a = attach("dsee", Map.of("rank", 2, "sparse", 4, "support", support), w0);
            try (NDManager m = manager.newSubManager()) {
                NDArray delta = a.delta(w0, OUT, IN, m);
                assertThat(delta.getShape()).isEqualTo(new Shape(OUT, IN));
                assertThat(delta.toFloatArray()).containsOnly(0f);
                assertThat(apply(x, w0, a, m).toFloatArray()).containsExactly(apply(x, w0, null, m).toFloatArray());
            }
        }
        SparseLowRank lora = attach("lora", Map.of("rank", 2), w0);
        assertThat(lora.delta(w0, OUT, IN, manager).toFloatArray()).containsOnly(0f);
        // U is random (not zero): the zero comes from V = 0, as the spec initialises.
        assertThat(lora.u().abs().sum().getFloat()).isPositive();
    }

    @Test
    void deltaIsTheTransposeOfTheSpecsUVPlusTheScatteredSparseValues() {
        NDArray w0 = weight(3);
        SparseLowRank a = attach("dsee", Map.of("rank", 2, "alpha", 3.0, "sparse", 3, "support", "magnitude"), w0);
        float[] u = Fakes.gaussian(IN, 2, 1.0, 4);
        float[] v = Fakes.gaussian(2, OUT, 1.0, 5);
        float[] s = {0.5f, -1.25f, 2.0f};
        a.u().set(u);
        a.v().set(v);
        a.s().set(s);
        float[] x = Fakes.gaussian(4, IN, 1.0, 6);
        float[] got = apply(manager.create(x, new Shape(4, IN)), w0, a, manager).toFloatArray();
        float[] w = w0.toFloatArray();
        int[] omega = a.support();
        double scale = 3.0 / 2;
        for (int b = 0; b < 4; b++) {
            for (int o = 0; o < OUT; o++) {
                // The spec's layer: h = x·W0 + (α/r)(x·U·V + x·P_Ω(S)) with its W0 = our W0ᵀ [in, out],
                // U [in, r] and V [r, out]; Ω indexes our [out, in] weight.
                double h = 0;
                for (int i = 0; i < IN; i++) {
                    h += x[b * IN + i] * w[o * IN + i];
                    double uv = 0;
                    for (int k = 0; k < 2; k++) {
                        uv += u[i * 2 + k] * v[k * OUT + o];
                    }
                    h += scale * x[b * IN + i] * uv;
                }
                for (int k = 0; k < omega.length; k++) {
                    if (omega[k] / IN == o) {
                        h += scale * x[b * IN + omega[k] % IN] * s[k];
                    }
                }
                assertThat((double) got[b * OUT + o]).as("h[%d][%d]", b, o).isCloseTo(h, within(1e-4));
            }
        }
    }

    @Test
    void aPrefixDeltaIsTheTopLeftBlockOfTheFullDelta() {
        NDArray w0 = weight(8);
        SparseLowRank a = attach("dsee", Map.of("rank", 2, "sparse", 10, "support", "random"), w0);
        a.v().set(Fakes.gaussian(2, OUT, 1.0, 9));
        a.s().set(Fakes.gaussian(1, 10, 1.0, 10));
        float[] full = a.delta(w0, OUT, IN, manager).toFloatArray();
        float[] prefix = a.delta(w0.get("0:4, 0:3"), 4, 3, manager).toFloatArray();
        for (int r = 0; r < 4; r++) {
            for (int c = 0; c < 3; c++) {
                assertThat(prefix[r * 3 + c]).isEqualTo(full[r * IN + c]);
            }
        }
    }

    @Test
    void gradientsReachOnlyUVAndTheNSparseValuesAndEqualTheDenseGradientOnOmega() {
        NDArray w0 = weight(11);
        SparseLowRank a = attach("dsee", Map.of("rank", 2, "alpha", 4.0, "sparse", 5, "support", "grebsmo"), w0);
        assertThat(a.parameters()).containsOnlyKeys("u", "v", "s");
        assertThat(a.s().getShape()).isEqualTo(new Shape(5));
        float[] x = Fakes.gaussian(3, IN, 1.0, 12);
        float[] c = Fakes.gaussian(3, OUT, 1.0, 13);
        try (NDManager m = manager.newSubManager(); GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            NDArray y = apply(m.create(x, new Shape(3, IN)), w0, a, m);
            NDArray loss = y.mul(m.create(c, new Shape(3, OUT))).sum();
            collector.backward(loss);
        }
        // dL/dW_eff = cᵀ·x [out, in]; the sparse values get (α/r)·that at Ω, U gets (α/r)·xᵀ·c·Vᵀ = 0
        // (V = 0), V gets (α/r)·Uᵀ·xᵀ·c.
        float[] s = a.s().getGradient().toFloatArray();
        int[] omega = a.support();
        for (int k = 0; k < omega.length; k++) {
            int o = omega[k] / IN;
            int i = omega[k] % IN;
            double g = 0;
            for (int b = 0; b < 3; b++) {
                g += c[b * OUT + o] * x[b * IN + i];
            }
            assertThat((double) s[k]).isCloseTo(2.0 * g, within(1e-4));
        }
        assertThat(a.u().getGradient().toFloatArray()).containsOnly(0f);
        assertThat(a.v().getGradient().abs().sum().getFloat()).isPositive();
        assertThat(w0.hasGradient()).isFalse();
    }

    @Test
    void trainableParametersAreExactlyInPlusOutTimesRankPlusN() {
        NDArray w0 = weight(14);
        SparseLowRank dsee = attach("dsee", Map.of("rank", 3, "sparse", 7, "support", "magnitude"), w0);
        SparseLowRank lora = attach("lora", Map.of("rank", 3), w0);
        assertThat(dsee.trainableParameters()).isEqualTo((IN + OUT) * 3 + 7);
        assertThat(lora.trainableParameters()).isEqualTo((IN + OUT) * 3);
        assertThat(lora.parameters()).containsOnlyKeys("u", "v");
        assertThat(dsee.u().getShape()).isEqualTo(new Shape(IN, 3));
        assertThat(dsee.v().getShape()).isEqualTo(new Shape(3, OUT));
        long sum = dsee.parameters().values().stream().mapToLong(p -> p.getShape().size()).sum();
        assertThat(dsee.trainableParameters()).isEqualTo(sum);
    }

    @Test
    void loraIsDseeWithoutTheSparsePartUnderTheSameSeed() {
        NDArray w0 = weight(15);
        SparseLowRank dsee = attach("dsee", Map.of("rank", 2, "sparse", 3), w0);
        SparseLowRank lora = attach("lora", Map.of("rank", 2), w0);
        assertThat(lora.u().toFloatArray()).containsExactly(dsee.u().toFloatArray());
        float[] v = Fakes.gaussian(2, OUT, 1.0, 16);
        dsee.v().set(v);
        lora.v().set(v);
        assertThat(lora.delta(w0, OUT, IN, manager).toFloatArray()).containsExactly(dsee.delta(w0, OUT, IN, manager).toFloatArray());
    }

    @Test
    void supportAndInitialisationRepeatForTheSameSeedAndChangeWithTheSeedOffset() {
        NDArray w0 = weight(17);
        SparseLowRank a = attach("dsee", Map.of("rank", 2, "sparse", 6, "support", "random"), w0);
        SparseLowRank b = attach("dsee", Map.of("rank", 2, "sparse", 6, "support", "random"), w0);
        SparseLowRank c = attach("dsee", Map.of("rank", 2, "sparse", 6, "support", "random", "seed", 1), w0);
        assertThat(b.support()).containsExactly(a.support());
        assertThat(b.u().toFloatArray()).containsExactly(a.u().toFloatArray());
        assertThat(c.u().toFloatArray()).isNotEqualTo(a.u().toFloatArray());
    }

    @Test
    void mergedPlainWeightReproducesTheAdaptedLayer() {
        NDArray w0 = weight(18);
        SparseLowRank a = attach("dsee", Map.of("rank", 2, "sparse", 4, "support", "grebsmo"), w0);
        a.v().set(Fakes.gaussian(2, OUT, 1.0, 19));
        a.s().set(new float[] {1f, -2f, 0.5f, 3f});
        float[] before = w0.toFloatArray();
        NDArray x = manager.create(Fakes.gaussian(5, IN, 1.0, 20), new Shape(5, IN));
        NDArray merged = Merge.merge(w0, a, manager);
        assertThat(merged.hasGradient()).isFalse();
        float[] adapted = apply(x, w0, a, manager).toFloatArray();
        float[] plain = x.matMul(merged.transpose()).toFloatArray();
        for (int i = 0; i < adapted.length; i++) {
            assertThat(plain[i]).isCloseTo(adapted[i], within(1e-5f));
        }
        assertThat(w0.toFloatArray()).containsExactly(before);

        NDArray mask = manager.ones(new Shape(OUT, IN));
        mask.set(new ai.djl.ndarray.index.NDIndex("0, :"), 0f);
        NDArray masked = Merge.merge(w0, mask, List.of(a), manager);
        float[] expected = w0.mul(mask).add(a.delta(w0, OUT, IN, manager)).toFloatArray();
        assertThat(masked.toFloatArray()).containsExactly(expected);
    }
}
