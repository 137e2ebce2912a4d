package dev.manyfold.plugin.ast;

import dev.manyfold.api.Context;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.Settings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Random;

/** Test doubles: a model shape with named sites, a context, recipe sections and weights. */
final class Fakes {
    private Fakes() {}

    /** One tiny block with 2:4-divisible inputs, plus a dense embedding and head. */
    static final ModelShape TINY = shape(Map.of(
            "embed", new int[] {16, 10}, "layers.0.attn.q_proj", new int[] {8, 16}, "layers.0.mlp.up_proj", new int[] {12, 16},
            "layers.0.mlp.down_proj", new int[] {16, 12}, "lm_head", new int[] {10, 16}));

    static ModelShape shape(Map<String, int[]> sites) {
        Map<String, int[]> ordered = new LinkedHashMap<>(new java.util.TreeMap<>(sites));
        return new ModelShape() {
            @Override
            public String family() {
                return "llama";
            }

            @Override
            public Map<String, Integer> dimensions() {
                return Map.of();
            }

            @Override
            public OptionalInt size(String name) {
                return OptionalInt.empty();
            }

            @Override
            public List<String> sites() {
                return new ArrayList<>(ordered.keySet());
            }

            @Override
            public int[] siteShape(String site) {
                int[] s = ordered.get(site);
                if (s == null) {
                    throw new IllegalArgumentException(site);
                }
                return s.clone();
            }
        };
    }

    static Context context(ModelShape model, Path work) {
        return new Context() {
            @Override
            public long seed() {
                return 42;
            }

            @Override
            public Optional<ModelShape> model() {
                return Optional.ofNullable(model);
            }

            @Override
            public Path workDirectory() {
                return work;
            }

            @Override
            public void info(String message) {}
        };
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
