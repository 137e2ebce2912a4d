package dev.manyfold.runtime.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.manyfold.api.adapter.AttachedAdapter;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LinearSiteTest {
    private static float[] grad(NDManager manager, LinearSite site, NDArray x, int rows, int cols) {
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            gc.backward(site.apply(x, rows, cols).sum());
        }
        float[] g = site.weight().getGradient().toFloatArray();
        site.weight().getGradient().muli(0);
        return g;
    }

    @Test
    void maskZeroesForwardValuesAndEitherBlocksOrPassesGradientsStraightThrough() {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray w = manager.create(new float[] {1, 2, 3, 4, 5, 6}, new Shape(2, 3));
            w.setRequiresGradient(true);
            LinearSite site = new LinearSite("s", w, null);
            NDArray mask = manager.create(new float[] {1, 0, 1, 0, 1, 1}, new Shape(2, 3));
            NDArray x = manager.create(new float[] {1, 1, 1}, new Shape(1, 3));

            site.setMask(mask, false);
            assertThat(site.apply(x).toFloatArray()).containsExactly(4f, 11f);
            assertThat(grad(manager, site, x, 2, 3)).containsExactly(1, 0, 1, 0, 1, 1);

            site.setMask(mask, true);
            assertThat(site.apply(x).toFloatArray()).containsExactly(4f, 11f);
            assertThat(grad(manager, site, x, 2, 3)).containsExactly(1, 1, 1, 1, 1, 1);
        }
    }

    @Test
    void slicedApplicationUsesThePrefixAndSendsGradientsOnlyThere() {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray w = manager.arange(12f).reshape(3, 4);
            w.setRequiresGradient(true);
            LinearSite site = new LinearSite("s", w, manager.create(new float[] {10, 20, 30}));
            NDArray x = manager.create(new float[] {1, 2}, new Shape(1, 2));
            assertThat(site.apply(x, 2, 2).toFloatArray()).containsExactly(0 + 2 + 10f, 4 + 10 + 20f);
            assertThat(grad(manager, site, x, 2, 2)).containsExactly(1, 2, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0);
        }
    }

    @Test
    void adapterDeltasAreAddedToTheEffectiveWeightAndReceiveGradients() {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray w = manager.zeros(new Shape(2, 2));
            w.setRequiresGradient(true);
            NDArray d = manager.create(new float[] {1, 2, 3, 4}, new Shape(2, 2));
            d.setRequiresGradient(true);
            LinearSite site = new LinearSite("s", w, null);
            site.addAdapter(new AttachedAdapter() {
                @Override
                public Map<String, NDArray> parameters() {
                    return Map.of("d", d);
                }

                @Override
                public NDArray delta(NDArray weight, int rows, int cols, NDManager m) {
                    return Ops.own(m, d.get(new NDIndex(":{}, :{}", rows, cols)).mul(2));
                }

                @Override
                public long trainableParameters() {
                    return 4;
                }
            });
            NDArray x = manager.create(new float[] {1, 1}, new Shape(1, 2));
            assertThat(site.effectiveWeight(manager, 2, 2).toFloatArray()).containsExactly(2, 4, 6, 8);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                gc.backward(site.apply(x).sum());
            }
            assertThat(d.getGradient().toFloatArray()).containsExactly(2, 2, 2, 2);
        }
    }
}
