package dev.manyfold.plugin.ast;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.manyfold.api.Settings;
import dev.manyfold.api.mask.MaskStrategy;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The Wanda criterion |W_ij|·‖X_j‖₂ and the ablation setting decay-placement. */
class WandaTest {
    private static NmMaskStrategy create(Map<String, ?> section) {
        Settings settings = Settings.of("masks[0]", section);
        MaskStrategy strategy = new NmMaskStrategyFactory().create(settings, Fakes.context(Fakes.TINY));
        settings.rejectUnknown();
        return (NmMaskStrategy) strategy;
    }

    @Test
    void wandaKeepsTheLargestWeightTimesInputNormNotTheLargestWeight() {
        // one row, two groups: magnitude keeps columns {0,1} and {4,5}
        float[] w = {4f, 3f, 2f, 1f, -4f, 3f, -2f, 1f};
        assertThat(NmMasks.magnitude(w, 1, 8, 2, 4)).containsExactly(Fakes.bits(1, 1, 0, 0, 1, 1, 0, 0));
        // input feature 0 and 5 are nearly silent, features 2 and 7 loud: |w|·‖x‖ = {0.4, 3, 6, 1 | 4, 0.3, 2, 5}
        float[] norms = {0.1f, 1f, 3f, 1f, 1f, 0.1f, 1f, 5f};
        boolean[] wanda = NmMasks.wanda(w, norms, 1, 8, 2, 4);
        assertThat(wanda).containsExactly(Fakes.bits(0, 1, 1, 0, 1, 0, 0, 1));
        // with equal norms it is the magnitude mask
        float[] ones = {2f, 2f, 2f, 2f, 2f, 2f, 2f, 2f};
        assertThat(NmMasks.wanda(w, ones, 1, 8, 2, 4)).containsExactly(NmMasks.magnitude(w, 1, 8, 2, 4));
    }

    @Test
    void wandaIsDeterministicAndBreaksTiesTowardsTheLowerColumn() {
        float[] w = Fakes.gaussian(12, 16, 1.0, 7);
        float[] norms = new float[16];
        for (int j = 0; j < 16; j++) {
            norms[j] = 0.5f + (j * 7 % 5);
        }
        assertThat(NmMasks.wanda(w, norms, 12, 16, 2, 4)).containsExactly(NmMasks.wanda(w.clone(), norms.clone(), 12, 16, 2, 4));
        // every score equal: |w| = 1 and norm 1 → the first two of each group
        float[] flat = {1f, -1f, 1f, -1f};
        assertThat(NmMasks.wanda(flat, new float[] {1f, 1f, 1f, 1f}, 1, 4, 2, 4)).containsExactly(Fakes.bits(1, 1, 0, 0));
        // scores tie only through the norm: 2·1 = 1·2 at columns 0 and 1, both below column 3
        assertThat(NmMasks.wanda(new float[] {2f, 1f, 0.5f, 9f}, new float[] {1f, 2f, 1f, 1f}, 1, 4, 2, 4))
                .containsExactly(Fakes.bits(1, 0, 0, 1));
        assertThatThrownBy(() -> NmMasks.wanda(w, new float[15], 12, 16, 2, 4)).hasMessageContaining("16 input norms");
        assertThatThrownBy(() -> NmMasks.wanda(w, new float[] {-1f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 12, 16, 2, 4))
                .hasMessageContaining("≥ 0");
    }

    @Test
    void theStrategyAsksForCalibrationOnlyUnderWandaAndUsesTheNorms() {
        NmMaskStrategy magnitude = create(Map.of());
        assertThat(magnitude.calibrationBatches()).isZero();
        NmMaskStrategy wanda = create(Map.of("criterion", "wanda", "calibration-batches", 3));
        assertThat(wanda.calibrationBatches()).isEqualTo(3);
        assertThat(create(Map.of("criterion", "wanda")).calibrationBatches()).isEqualTo(4);
        float[] w = Fakes.gaussian(8, 16, 1.0, 3);
        float[] norms = new float[16];
        for (int j = 0; j < 16; j++) {
            norms[j] = j % 4 == 3 ? 100f : 0.01f; // the last column of every group dominates
        }
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray weight = manager.create(w, new Shape(8, 16));
            float[] mask = wanda.computeMask("layers.0.attn.q_proj", weight, norms, 0, manager).toFloatArray();
            float[] expected = new float[w.length];
            boolean[] keep = NmMasks.wanda(w, norms, 8, 16, 2, 4);
            for (int i = 0; i < w.length; i++) {
                expected[i] = keep[i] ? 1f : 0f;
                if (i % 4 == 3) {
                    assertThat(mask[i]).as("column %d of a group with a loud input", i % 16).isEqualTo(1f);
                }
            }
            assertThat(mask).containsExactly(expected);
            assertThat(keep).isNotEqualTo(NmMasks.magnitude(w, 8, 16, 2, 4));
            // magnitude ignores norms; wanda refuses to run without them
            float[] plain = magnitude.computeMask("layers.0.attn.q_proj", weight, norms, 0, manager).toFloatArray();
            boolean[] mag = NmMasks.magnitude(w, 8, 16, 2, 4);
            for (int i = 0; i < w.length; i++) {
                assertThat(plain[i]).isEqualTo(mag[i] ? 1f : 0f);
            }
            assertThatThrownBy(() -> wanda.computeMask("layers.0.attn.q_proj", weight, 0, manager)).hasMessageContaining("calibration");
        }
    }

    @Test
    void decayPlacementDefaultsToInsideAdamAndCanMoveAfterTheStepOrIntoTheGradient() {
        assertThat(create(Map.of()).prunedDecayAfterStep()).isFalse();
        assertThat(create(Map.of()).prunedDecayInGradient()).isFalse();
        NmMaskStrategy inGradient = create(Map.of("decay-placement", "in-gradient"));
        assertThat(inGradient.prunedDecayInGradient()).isTrue();
        assertThat(inGradient.prunedDecayAfterStep()).isFalse();
        assertThat(create(Map.of("decay-placement", "in-adam")).prunedDecayAfterStep()).isFalse();
        NmMaskStrategy after = create(Map.of("decay-placement", "after-step", "lambda-max", 0.5, "decay", "constant"));
        assertThat(after.prunedDecayAfterStep()).isTrue();
        assertThat(after.prunedDecay(3, 100)).isEqualTo(0.5);
    }
}
