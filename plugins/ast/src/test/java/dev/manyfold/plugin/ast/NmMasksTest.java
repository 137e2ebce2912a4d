package dev.manyfold.plugin.ast;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class NmMasksTest {
    @Test
    void everyGroupOfFourConsecutiveInputsKeepsExactlyTwoOnRandomWeights() {
        for (long seed = 0; seed < 5; seed++) {
            int rows = 16;
            int cols = 32;
            boolean[] keep = NmMasks.magnitude(Fakes.gaussian(rows, cols, 1.0, seed), rows, cols, 2, 4);
            for (int start = 0; start < keep.length; start += 4) {
                int kept = 0;
                for (int j = 0; j < 4; j++) {
                    kept += keep[start + j] ? 1 : 0;
                }
                assertThat(kept).as("group at %d (seed %d)", start, seed).isEqualTo(2);
            }
        }
    }

    @Test
    void otherNmPatternsKeepExactlyNPerGroup() {
        boolean[] oneOfFour = NmMasks.magnitude(Fakes.gaussian(3, 8, 1.0, 7), 3, 8, 1, 4);
        boolean[] twoOfEight = NmMasks.magnitude(Fakes.gaussian(3, 8, 1.0, 7), 3, 8, 2, 8);
        for (int start = 0; start < 24; start += 4) {
            int kept = 0;
            for (int j = 0; j < 4; j++) {
                kept += oneOfFour[start + j] ? 1 : 0;
            }
            assertThat(kept).isEqualTo(1);
        }
        for (int start = 0; start < 24; start += 8) {
            int kept = 0;
            for (int j = 0; j < 8; j++) {
                kept += twoOfEight[start + j] ? 1 : 0;
            }
            assertThat(kept).isEqualTo(2);
        }
    }

    @Test
    void keepsTheTwoLargestMagnitudesOfEachGroupWhateverTheirSign() {
        float[] w = {0.1f, -3f, 2f, 0.5f, /* group 2 */ -0.2f, 0.3f, -0.4f, 0.1f};
        assertThat(NmMasks.magnitude(w, 1, 8, 2, 4)).containsExactly(Fakes.bits(0, 1, 1, 0, 0, 1, 1, 0));
    }

    @Test
    void groupsRunAlongTheInputDimensionOfEachRow() {
        // [2, 4]: each row is one group; the largest entries differ between the rows.
        float[] w = {9f, 8f, 0f, 0f, /* row 1 */ 0f, 0f, 8f, 9f};
        assertThat(NmMasks.magnitude(w, 2, 4, 2, 4)).containsExactly(Fakes.bits(1, 1, 0, 0, 0, 0, 1, 1));
    }

    @Test
    void tiesAreBrokenByTheLowerIndex() {
        assertThat(NmMasks.magnitude(new float[] {1f, 1f, 1f, 1f}, 1, 4, 2, 4)).containsExactly(Fakes.bits(1, 1, 0, 0));
        assertThat(NmMasks.magnitude(new float[] {0.5f, -1f, 0.5f, 1f}, 1, 4, 2, 4)).containsExactly(Fakes.bits(0, 1, 0, 1));
        assertThat(NmMasks.magnitude(new float[] {2f, 0.5f, -0.5f, 0.5f}, 1, 4, 2, 4)).containsExactly(Fakes.bits(1, 1, 0, 0));
        assertThat(NmMasks.magnitude(new float[] {0f, 0f, 0f, 0f}, 1, 4, 2, 4)).containsExactly(Fakes.bits(1, 1, 0, 0));
    }

    @Test
    void recomputingFromTheSameWeightsReproducesTheMask() {
        float[] w = Fakes.gaussian(8, 16, 1.0, 3);
        for (int i = 0; i < w.length; i += 5) {
            w[i + 1 < w.length ? i + 1 : i] = w[i]; // plant ties
        }
        assertThat(NmMasks.magnitude(w.clone(), 8, 16, 2, 4)).containsExactly(NmMasks.magnitude(w, 8, 16, 2, 4));
    }

    @Test
    void refusesAnInputDimensionThatMDoesNotDivideAndNNotBelowM() {
        assertThatThrownBy(() -> NmMasks.magnitude(new float[6], 1, 6, 2, 4)).hasMessageContaining("does not divide");
        assertThatThrownBy(() -> NmMasks.magnitude(new float[4], 1, 4, 4, 4)).hasMessageContaining("1 ≤ N < M");
    }
}
