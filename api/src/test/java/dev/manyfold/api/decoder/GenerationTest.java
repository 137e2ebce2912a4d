package dev.manyfold.api.decoder;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class GenerationTest {
    @Test
    void typedAccessorsReadTheDocumentedKeys() {
        Map<String, Double> s = new LinkedHashMap<>();
        s.put(Generation.MEAN_EXIT_DEPTH, 3.5);
        s.put(Generation.EXIT_HISTOGRAM + "4", 2.0);
        s.put(Generation.EXIT_HISTOGRAM + "2", 6.0);
        s.put(Generation.EXIT_HISTOGRAM + "x", 1.0);
        Generation g = Generation.of(new int[] {1, 2}, s);

        assertThat(g.meanExitDepth()).hasValue(3.5);
        assertThat(g.exitHistogram()).containsExactly(Map.entry(2, 6.0), Map.entry(4, 2.0));
        assertThat(g.statistic(Generation.ACCEPTANCE_RATE)).isEmpty();
    }

    @Test
    void aGenerationWithoutStatisticsHasNoDepthRatherThanZero() {
        Generation g = Generation.of(new int[0], Map.of());
        assertThat(g.meanExitDepth()).isEmpty();
        assertThat(g.exitHistogram()).isEmpty();
    }

    @Test
    void exitRuleStopsAtTheFirstExitWhoseRuleHolds() {
        ExitRule rule = new ExitRule() {
            @Override
            public List<Integer> exits() {
                return List.of(2, 4);
            }

            @Override
            public boolean stops(int exit, float[] logits, int offset, int vocab) {
                return logits[offset] > 0.5f;
            }
        };
        List<float[]> two = List.of(new float[] {0.1f, 0.9f}, new float[] {0.9f, 0.1f}, new float[] {0f, 0f});
        assertThat(rule.choose(two, 0, 1)).isEqualTo(1); // position 0: exit 2 says 0.1, exit 4 says 0.9
        assertThat(rule.choose(two, 1, 1)).isEqualTo(0); // position 1: exit 2 already stops
        assertThat(rule.choose(List.of(new float[] {0f}, new float[] {0f}, new float[] {0f}), 0, 1)).isEqualTo(2); // the full depth
    }
}
