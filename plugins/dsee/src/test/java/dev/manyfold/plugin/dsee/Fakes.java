package dev.manyfold.plugin.dsee;

import dev.manyfold.api.Context;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.Settings;
import dev.manyfold.testkit.Shapes;
import dev.manyfold.testkit.TestingContext;
import java.util.Map;
import java.util.Random;

/** Test data for this plugin: a model shape with named sites, recipe sections and weights (shape and context from the testkit). */
final class Fakes {
    private Fakes() {}

    /** Two tiny attention layers: q/k/v/o 12 × 12, and an 8 × 12 up projection. */
    static final ModelShape TINY = shape(Map.of(
            "layers.0.attn.q_proj", new int[] {12, 12}, "layers.0.attn.k_proj", new int[] {12, 12},
            "layers.0.attn.v_proj", new int[] {12, 12}, "layers.0.mlp.up", new int[] {8, 12},
            "layers.1.attn.q_proj", new int[] {12, 12}, "layers.1.attn.v_proj", new int[] {6, 12}));

    /** The sites as a {@code llama} shape (testkit). */
    static ModelShape shape(Map<String, int[]> sites) {
        return Shapes.sites("llama", sites);
    }

    /** A context with the model's shape (testkit: seed 42, work directory target/test-work). */
    static Context context(ModelShape model) {
        return model == null ? TestingContext.validating() : TestingContext.of(model);
    }

    /** A section at recipe path {@code adapters[0]}. */
    static Settings adapter(Map<String, ?> values) {
        return Settings.of("adapters[0]", values);
    }

    /** Row-major {@code [rows, cols]} values from N(0, std²). */
    static float[] gaussian(int rows, int cols, double std, long seed) {
        Random random = new Random(seed);
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (random.nextGaussian() * std);
        }
        return w;
    }
}
