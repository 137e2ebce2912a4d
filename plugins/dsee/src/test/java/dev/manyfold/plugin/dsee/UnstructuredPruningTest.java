package dev.manyfold.plugin.dsee;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class UnstructuredPruningTest {
    private static Map<String, float[]> pool() {
        Map<String, float[]> scores = new LinkedHashMap<>();
        scores.put("layers.0.attn.q_proj", Fakes.gaussian(6, 5, 1.0, 1));
        scores.put("layers.0.attn.v_proj", Fakes.gaussian(4, 5, 1.0, 2));
        scores.put("layers.1.attn.q_proj", Fakes.gaussian(3, 3, 1.0, 3));
        return scores;
    }

    @Test
    void eachPoolZeroesExactlyTheFloorOfPTimesItsSizeAndOnlyTheLowestScores() {
        Map<String, float[]> scores = pool();
        int size = 30 + 20 + 9;
        for (double p : new double[] {0.0, 0.2, 0.3, 0.5, 0.999}) {
            Map<String, float[]> masks = UnstructuredPruning.pool(scores, p);
            assertThat(masks.keySet()).containsExactlyElementsOf(scores.keySet());
            assertThat(UnstructuredPruning.zeros(List.copyOf(masks.values()))).as("p = %s", p).isEqualTo((long) Math.floor(p * size));
            float maxPruned = 0;
            float minKept = Float.MAX_VALUE;
            for (String site : scores.keySet()) {
                float[] s = scores.get(site);
                float[] m = masks.get(site);
                assertThat(m).hasSameSizeAs(s);
                for (int i = 0; i < s.length; i++) {
                    assertThat(m[i]).isIn(0f, 1f);
                    if (m[i] == 0f) {
                        maxPruned = Math.max(maxPruned, Math.abs(s[i]));
                    } else {
                        minKept = Math.min(minKept, Math.abs(s[i]));
                    }
                }
            }
            assertThat(maxPruned).isLessThanOrEqualTo(minKept);
        }
    }

    @Test
    void tiesArePrunedInPoolOrder() {
        Map<String, float[]> scores = new LinkedHashMap<>();
        scores.put("a", new float[] {1, 1, 1});
        scores.put("b", new float[] {1, 1, 0.5f});
        Map<String, float[]> masks = UnstructuredPruning.pool(scores, 0.5);
        assertThat(masks.get("b")).containsExactly(1, 1, 0);
        assertThat(masks.get("a")).containsExactly(0, 0, 1);
    }

    @Test
    void ratiosOutsideZeroToOneAreRefused() {
        for (double p : new double[] {-0.1, 1.0, 1.5, Double.NaN}) {
            assertThatThrownBy(() -> UnstructuredPruning.pool(pool(), p)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("outside [0, 1)");
        }
    }

    @Test
    void adaptedMatricesAreScoredByTheirDeltaAndTheOthersByW0() {
        try (NDManager manager = NDManager.newBaseManager()) {
            // W0 of the adapted site is large exactly where ΔW is small: |ΔW| scoring must prune there anyway.
            NDArray w0 = manager.create(new float[] {9, 9, 0.1f, 0.1f, 9, 0.1f}, new Shape(2, 3));
            SparseLowRank adapter = SparseLowRankTest.create("dsee", Map.of("rank", 1, "sparse", 2, "support", "magnitude"))
                    .attach("q_proj", w0, manager, 1);
            adapter.u().set(new float[] {0, 0, 0});
            adapter.s().set(new float[] {0.5f, 2f});
            assertThat(adapter.support()).containsExactly(0, 1);
            NDArray other = manager.create(new float[] {3, -1, 2, 0.5f}, new Shape(2, 2));
            Map<String, float[]> masks = UnstructuredPruning.masks(Map.of("q_proj", adapter), 0.5, Map.of("k_proj", other), 0.5);
            // ΔW = (α/r)·P_Ω(S) = 2·[0.5, 2, 0, 0, 0, 0]: the three zero entries with the lowest indices go first.
            assertThat(masks.get("q_proj")).containsExactly(1, 1, 0, 0, 0, 1);
            assertThat(masks.get("k_proj")).containsExactly(1, 0, 1, 0);
        }
    }
}
