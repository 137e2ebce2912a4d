package dev.manyfold.runtime.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.SubModel;
import org.junit.jupiter.api.Test;

/** eval's sparsity: non-zero parameters and effective FLOPs of a masked model. */
class SparsityTest {
    private static final LlamaModel.Config CONFIG = LlamaModelTest.CONFIG;

    /** A 2:4 pattern over a site's weight: keep the first two of every four inputs. */
    private static NDArray twoOfFour(NDManager m, LinearSite site) {
        float[] v = new float[site.outFeatures() * site.inFeatures()];
        for (int i = 0; i < v.length; i++) {
            v[i] = i % 4 < 2 ? 1 : 0;
        }
        return m.create(v, new ai.djl.ndarray.types.Shape(site.outFeatures(), site.inFeatures()));
    }

    @Test
    void a24MaskedLayerCountsHalfItsWeightsAndHalfItsFlops() {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = new LlamaModel(new ParameterStore(m, 1), CONFIG);
            Model.Sparsity dense = model.sparsity(SubModel.FULL);
            assertThat(dense.nonZero()).isEqualTo(dense.parameters());
            assertThat(dense.effectiveFlops()).isEqualTo(dense.flops());

            long layer1Weights = 0;
            for (LinearSite site : model.sites().values()) {
                if (site.name().startsWith("layers.1.")) {
                    site.setMask(twoOfFour(m, site), false);
                    layer1Weights += (long) site.outFeatures() * site.inFeatures();
                }
            }
            Model.Sparsity full = model.sparsity(SubModel.FULL);
            assertThat(full.zeros()).isEqualTo(layer1Weights / 2);
            assertThat(full.nonZero()).isEqualTo(full.parameters() - layer1Weights / 2);
            assertThat(full.effectiveFlops()).isEqualTo(full.flops() - layer1Weights); // 2 FLOPs per weight, half of them gone
            assertThat(full.maskedSites()).isEqualTo(7);
            // Depth 1 does not run layer 1: nothing of its mask counts.
            Model.Sparsity shallow = model.sparsity(SubModel.of("depth", 1));
            assertThat(shallow.zeros()).isZero();
            assertThat(shallow.nonZero()).isEqualTo(model.parameterCount(SubModel.of("depth", 1)));
            assertThatThrownBy(() -> model.sparsity(SubModel.of("heads", 2))).isInstanceOf(IllegalArgumentException.class);
        }
    }
}
