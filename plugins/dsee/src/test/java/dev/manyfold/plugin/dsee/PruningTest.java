package dev.manyfold.plugin.dsee;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.Settings;
import dev.manyfold.api.adapter.AttachedAdapter;
import dev.manyfold.api.prune.AttentionLayout;
import dev.manyfold.api.prune.PruneSite;
import dev.manyfold.api.prune.PruningPlan;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** dsee-prune settings and plans; SparseLowRank's slice, restore and masked delta. */
class PruningTest {
    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    /** A llama-like shape with the given heads and KV heads. */
    static ModelShape shape(int heads, int kvHeads) {
        ModelShape sites = Fakes.TINY;
        return new ModelShape() {
            public String family() {
                return "llama";
            }

            public Map<String, Integer> dimensions() {
                return Map.of();
            }

            public OptionalInt size(String name) {
                return switch (name) {
                    case "heads", "layer-heads-min" -> OptionalInt.of(heads);
                    case "kv-heads" -> OptionalInt.of(kvHeads);
                    default -> OptionalInt.empty();
                };
            }

            public List<String> sites() {
                return sites.sites();
            }

            public int[] siteShape(String site) {
                return sites.siteShape(site);
            }
        };
    }

    static ConfigException refusal(Map<String, ?> section, ModelShape shape) {
        Throwable t = catchThrowable(() -> DseePruning.read(Settings.of("stages[1].prune", section), Optional.ofNullable(shape)));
        assertThat(t).isInstanceOf(ConfigException.class);
        return (ConfigException) t;
    }

    @Test
    void ratiosOutsideZeroToOneAndRemovingEveryHeadAreRefusedAtTheirPaths() {
        assertThat(refusal(Map.of("adapted", 1.0), null).path()).isEqualTo("stages[1].prune.adapted");
        assertThat(refusal(Map.of("others", -0.01), null).path()).isEqualTo("stages[1].prune.others");
        assertThat(refusal(Map.of("adapted", 1.5), null).getMessage()).contains("outside [0, 1)");
        assertThat(refusal(Map.of("heads", 3), shape(3, 3)).path()).isEqualTo("stages[1].prune.heads");
        assertThat(refusal(Map.of("heads", 3), shape(3, 3)).getMessage()).contains("every head");
        assertThat(refusal(Map.of("heads", 1), shape(4, 2)).getMessage()).contains("grouped KV");
        assertThat(refusal(Map.of("heads", 1, "others", 0.1), shape(4, 4)).path()).isEqualTo("stages[1].prune.heads");
        assertThat(refusal(Map.of(), shape(4, 4)).path()).isEqualTo("stages[1].prune.adapted");
        assertThat(DseePruning.read(Settings.of("p", Map.of("heads", 2)), Optional.of(shape(3, 3))).heads()).isEqualTo(2);
        assertThat(DseePruning.read(Settings.of("p", Map.of("adapted", 0.0, "others", 0.5)), Optional.empty()).othersRatio()).isEqualTo(0.5);
    }

    @Test
    void planZeroesExactlyTheFloorOfEachPoolAndUsesDeltaForAdaptedSites() {
        NDArray w1 = manager.create(Fakes.gaussian(6, 5, 1, 1), new Shape(6, 5));
        NDArray w2 = manager.create(Fakes.gaussian(4, 5, 1, 2), new Shape(4, 5));
        NDArray w3 = manager.create(Fakes.gaussian(3, 5, 1, 3), new Shape(3, 5));
        SparseLowRank a = SparseLowRankTest.create("dsee", Map.of("rank", 2, "sparse", 3, "support", "magnitude"))
                .attach("layers.0.attn.q_proj", w1, manager, 1);
        a.v().set(Fakes.gaussian(2, 6, 1, 9));
        a.s().set(new float[] {5, -6, 7});
        Map<String, PruneSite> sites = new LinkedHashMap<>();
        sites.put("layers.0.attn.q_proj", new PruneSite("layers.0.attn.q_proj", w1, List.of(a)));
        sites.put("layers.0.mlp.up", new PruneSite("layers.0.mlp.up", w2, List.of()));
        sites.put("lm_head", new PruneSite("lm_head", w3, List.of()));
        DseePruning pruning = DseePruning.read(Settings.of("p", Map.of("adapted", 0.5, "others", 0.3)), Optional.empty());
        PruningPlan plan = pruning.plan(sites, Optional.empty(), manager);
        assertThat(plan.masks().keySet()).containsExactly("layers.0.attn.q_proj", "layers.0.mlp.up"); // lm_head is not in layers.**
        float[] m1 = plan.masks().get("layers.0.attn.q_proj").toFloatArray();
        assertThat(UnstructuredPruning.zeros(m1)).isEqualTo(15); // ⌊0.5 · 30⌋
        assertThat(UnstructuredPruning.zeros(plan.masks().get("layers.0.mlp.up").toFloatArray())).isEqualTo(6); // ⌊0.3 · 20⌋
        float[] delta = UnstructuredPruning.delta(a);
        float keptMin = Float.MAX_VALUE;
        float prunedMax = 0;
        for (int i = 0; i < delta.length; i++) {
            if (m1[i] == 0) {
                prunedMax = Math.max(prunedMax, Math.abs(delta[i]));
            } else {
                keptMin = Math.min(keptMin, Math.abs(delta[i]));
            }
        }
        assertThat(prunedMax).isLessThanOrEqualTo(keptMin);
    }

    @Test
    void adaptedScoreWeightRanksTheAdaptedPoolByTheMagnitudeOfW0PlusDelta() {
        NDArray w1 = manager.create(Fakes.gaussian(6, 5, 1, 1), new Shape(6, 5));
        SparseLowRank a = SparseLowRankTest.create("dsee", Map.of("rank", 2, "sparse", 3, "support", "magnitude"))
                .attach("layers.0.attn.q_proj", w1, manager, 1);
        a.v().set(Fakes.gaussian(2, 6, 0.3, 9));
        Map<String, PruneSite> sites = Map.of("layers.0.attn.q_proj", new PruneSite("layers.0.attn.q_proj", w1, List.of(a)));
        float[] byWeight = DseePruning.read(Settings.of("p", Map.of("adapted", 0.5, "adapted-score", "weight")), Optional.empty())
                .plan(sites, Optional.empty(), manager).masks().get("layers.0.attn.q_proj").toFloatArray();
        float[] byDelta = DseePruning.read(Settings.of("p", Map.of("adapted", 0.5)), Optional.empty())
                .plan(sites, Optional.empty(), manager).masks().get("layers.0.attn.q_proj").toFloatArray();
        float[] w = w1.toFloatArray();
        float[] delta = UnstructuredPruning.delta(a);
        float keptMin = Float.MAX_VALUE;
        float prunedMax = 0;
        for (int i = 0; i < w.length; i++) {
            float score = Math.abs(w[i] + delta[i]);
            if (byWeight[i] == 0) {
                prunedMax = Math.max(prunedMax, score);
            } else {
                keptMin = Math.min(keptMin, score);
            }
        }
        assertThat(UnstructuredPruning.zeros(byWeight)).isEqualTo(15);
        assertThat(prunedMax).isLessThanOrEqualTo(keptMin);
        assertThat(byWeight).as("the two criteria choose different entries here").isNotEqualTo(byDelta);
        assertThat(refusal(Map.of("adapted", 0.5, "adapted-score", "w0"), null).path()).isEqualTo("stages[1].prune.adapted-score");
    }

    @Test
    void maskedDeltaIsZeroWhereTheMaskIsAndGetsNoGradientThere() {
        NDArray w = manager.create(Fakes.gaussian(4, 3, 1, 1), new Shape(4, 3));
        SparseLowRank a = SparseLowRankTest.create("dsee", Map.of("rank", 2, "sparse", 4, "support", "magnitude")).attach("q", w, manager, 1);
        a.v().set(Fakes.gaussian(2, 4, 1, 2));
        a.s().set(new float[] {1, 2, 3, 4});
        float[] mask = {1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1, 0};
        a.maskDelta(manager.create(mask, new Shape(4, 3)));
        a.parameters().values().forEach(p -> p.setRequiresGradient(true));
        try (var collector = ai.djl.engine.Engine.getInstance().newGradientCollector()) {
            NDArray d = a.delta(w, 4, 3, manager);
            float[] values = d.toFloatArray();
            for (int i = 0; i < mask.length; i++) {
                if (mask[i] == 0) {
                    assertThat(values[i]).isZero();
                }
            }
            collector.backward(d.sum());
        }
        int[] omega = a.support();
        float[] gs = a.s().getGradient().toFloatArray();
        for (int i = 0; i < omega.length; i++) {
            assertThat(gs[i]).isEqualTo(mask[omega[i]] == 0 ? 0f : (float) a.scale());
        }
    }

    @Test
    void sliceKeepsUVsKeptColumnsAndSsKeptEntriesReindexedAndRestoreRebuildsTheAdapter() {
        NDArray w = manager.create(Fakes.gaussian(6, 4, 1, 1), new Shape(6, 4));
        DseeAdapter adapter = SparseLowRankTest.create("dsee", Map.of("rank", 2, "sparse", 6, "support", "random"));
        SparseLowRank a = adapter.attach("q", w, manager, 3);
        a.v().set(Fakes.gaussian(2, 6, 1, 2));
        a.s().set(new float[] {1, 2, 3, 4, 5, 6});
        int[] rows = {0, 1, 4, 5};
        int[] cols = {0, 1, 2, 3};
        Map<String, NDArray> sliced = a.slice(rows, cols, manager);
        assertThat(sliced.get("u").toFloatArray()).containsExactly(a.u().toFloatArray());
        assertThat(sliced.get("v").getShape()).isEqualTo(new Shape(2, 4));
        float[] v = a.v().toFloatArray();
        float[] sv = sliced.get("v").toFloatArray();
        for (int r = 0; r < 2; r++) {
            for (int j = 0; j < rows.length; j++) {
                assertThat(sv[r * 4 + j]).isEqualTo(v[r * 6 + rows[j]]);
            }
        }
        // The sliced adapter's delta is the kept rows of the original delta.
        NDArray wSmall = manager.create(Fakes.gaussian(4, 4, 1, 5), new Shape(4, 4));
        SparseLowRank restored = adapter.restore("q", wSmall, sliced, manager);
        restored.u().set(sliced.get("u").toFloatArray());
        restored.v().set(sliced.get("v").toFloatArray());
        restored.s().set(sliced.get("s").toFloatArray());
        float[] full = UnstructuredPruning.delta(a);
        float[] small = UnstructuredPruning.delta(restored);
        for (int j = 0; j < rows.length; j++) {
            for (int c = 0; c < 4; c++) {
                assertThat(small[j * 4 + c]).isCloseTo(full[rows[j] * 4 + c], org.assertj.core.data.Offset.offset(1e-5f));
            }
        }
        long inKeptRows = java.util.Arrays.stream(a.support()).filter(i -> i / 4 != 2 && i / 4 != 3).count();
        assertThat(restored.support()).hasSize((int) inKeptRows);
        assertThat(restored.trainableParameters()).isEqualTo((4 + 4) * 2L + inKeptRows);
    }

    @Test
    void headScoresSumAbsoluteDeltaOfQAndVOverEachHeadsRows() {
        NDArray wq = manager.create(new float[4 * 2], new Shape(4, 2));
        NDArray wv = manager.create(new float[4 * 2], new Shape(4, 2));
        AttachedAdapter dq = fixedDelta(new float[] {1, 1, 0, 0, 5, 5, 0, 0});
        AttachedAdapter dv = fixedDelta(new float[] {0, 0, 1, 0, 0, 0, 3, 3});
        Map<String, PruneSite> sites = Map.of("q", new PruneSite("q", wq, List.of(dq)), "v", new PruneSite("v", wv, List.of(dv)),
                "k", new PruneSite("k", wq, List.of()), "o", new PruneSite("o", wq, List.of()));
        AttentionLayout.Layer layer = new AttentionLayout.Layer("q", "k", "v", "o", 2, 2);
        assertThat(DseePruning.headScores(sites, layer, 2)).containsExactly(3.0, 16.0);
        DseePruning delta = DseePruning.read(Settings.of("p", Map.of("heads", 1)), Optional.empty());
        assertThat(delta.keptHeads(sites, new AttentionLayout(List.of(layer), 2)).get(0)).containsExactly(1);
        DseePruning random = DseePruning.read(Settings.of("p", Map.of("heads", 1, "head-score", "random", "seed", 4)), Optional.empty());
        assertThat(random.keptHeads(sites, new AttentionLayout(List.of(layer), 2)).get(0)).hasSize(1);
    }

    private AttachedAdapter fixedDelta(float[] values) {
        return new AttachedAdapter() {
            public Map<String, NDArray> parameters() {
                return Map.of();
            }

            public NDArray delta(NDArray weight, int rows, int cols, NDManager m) {
                return m.create(values, new Shape(rows, cols));
            }
        };
    }
}
