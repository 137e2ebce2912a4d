package dev.manyfold.plugin.ast;

import dev.manyfold.api.Context;
import dev.manyfold.api.ModelShape;
import dev.manyfold.testkit.Shapes;
import dev.manyfold.testkit.TestingContext;
import dev.manyfold.api.Settings;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;

/** Test doubles: a model shape with named sites, a context, recipe sections and weights. */
final class Fakes {
    private Fakes() {}

    /** One tiny block with 2:4-divisible inputs, plus a dense embedding and head. */
    static final ModelShape TINY = shape(Map.of(
            "embed", new int[] {16, 10}, "layers.0.attn.q_proj", new int[] {8, 16}, "layers.0.mlp.up_proj", new int[] {12, 16},
            "layers.0.mlp.down_proj", new int[] {16, 12}, "lm_head", new int[] {10, 16}));

    /** The sites as a {@code llama} shape (testkit). */
    static ModelShape shape(Map<String, int[]> sites) {
        return Shapes.sites("llama", sites);
    }

    /** A context with the model's shape, writing to {@code work} (testkit). */
    static Context context(ModelShape model, Path work) {
        return TestingContext.builder().model(model).workDirectory(work).build();
    }

    static Context context(ModelShape model) {
        return context(model, Path.of("target", "test-work"));
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

    static boolean[] bits(int... values) {
        boolean[] b = new boolean[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = values[i] != 0;
        }
        return b;
    }
}
