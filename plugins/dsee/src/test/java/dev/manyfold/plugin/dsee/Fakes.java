package dev.manyfold.plugin.dsee;

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

    /** Two tiny attention layers: q/k/v/o 12 × 12, and an 8 × 12 up projection. */
    static final ModelShape TINY = shape(Map.of(
            "layers.0.attn.q_proj", new int[] {12, 12}, "layers.0.attn.k_proj", new int[] {12, 12},
            "layers.0.attn.v_proj", new int[] {12, 12}, "layers.0.mlp.up", new int[] {8, 12},
            "layers.1.attn.q_proj", new int[] {12, 12}, "layers.1.attn.v_proj", new int[] {6, 12}));

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

    static Context context(ModelShape model) {
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
                return Path.of("target", "test-work");
            }

            @Override
            public void info(String message) {}
        };
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
