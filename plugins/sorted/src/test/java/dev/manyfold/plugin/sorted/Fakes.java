package dev.manyfold.plugin.sorted;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.Context;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.Settings;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.objective.Batch;
import dev.manyfold.api.objective.ElasticModel;
import dev.manyfold.testkit.Shapes;
import dev.manyfold.testkit.TestingContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Test doubles: a model shape, a context, a batch and an elastic model with real NDArrays. */
final class Fakes {
    private Fakes() {}

    /** An MLP: depth 4 blocks, width 256. */
    static final ModelShape MLP = Shapes.builder("mlp").dimension("depth", 4).dimension("width", 256).build();

    /** A LLaMA-like model: 8 layers, 8 heads over 2 KV heads, ffn 512, embedding 128. */
    static final ModelShape LLAMA = Shapes.builder("llama").dimension("depth", 8).dimension("heads", 8).dimension("ffn", 512)
            .dimension("embedding", 128).size("kv-heads", 2).size("heads", 8).size("dim", 128).build();

    static Context context(ModelShape model) {
        return model == null ? TestingContext.validating() : TestingContext.of(model);
    }

    /** An objective section at recipe path {@code objective}. */
    static Settings objective(Map<String, ?> values) {
        return Settings.of("objective", values);
    }

    record TestBatch(NDArray inputs, NDArray labels) implements Batch {}

    /** Coefficient of each dimension's budget in the logit scale. */
    static double coefficient(String dimension) {
        return switch (dimension) {
            case "depth" -> 0.3;
            case "width" -> 0.01;
            case "ffn" -> 0.001;
            case "heads" -> 0.05;
            case "embedding" -> 0.002;
            default -> throw new IllegalArgumentException(dimension);
        };
    }

    /**
     * Logits of a sub-model are {@code input · scale(sub)} with
     * {@code scale = 0.2 + Σ_d coefficient(d)·b_d} over the dimensions of the shape (an
     * unrestricted dimension at its maximum), so every sub-model has its own loss.
     */
    static double scale(ModelShape shape, SubModel sub) {
        double s = 0.2;
        for (Map.Entry<String, Integer> d : new java.util.TreeMap<>(shape.dimensions()).entrySet()) {
            s += coefficient(d.getKey()) * sub.budgetOr(d.getKey(), d.getValue());
        }
        return s;
    }

    /** Cross-entropy computed independently of DJL, in double precision. */
    static double expectedCrossEntropy(float[][] inputs, int[] labels, double scale) {
        double total = 0;
        for (int r = 0; r < inputs.length; r++) {
            double max = Double.NEGATIVE_INFINITY;
            for (float v : inputs[r]) {
                max = Math.max(max, v * scale);
            }
            double sum = 0;
            for (float v : inputs[r]) {
                sum += Math.exp(v * scale - max);
            }
            double logZ = max + Math.log(sum);
            total += logZ - inputs[r][labels[r]] * scale;
        }
        return total / inputs.length;
    }

    /** An elastic model whose logits are {@link #scale} times the input; records every call. */
    static final class FakeModel implements ElasticModel {
        private final ModelShape shape;
        final List<SubModel> forwards = new ArrayList<>();
        final List<List<Integer>> exitCalls = new ArrayList<>();
        final List<SubModel> exitSubModels = new ArrayList<>();

        FakeModel(ModelShape shape) {
            this.shape = shape;
        }

        @Override
        public ModelShape shape() {
            return shape;
        }

        @Override
        public NDArray forward(NDArray input, SubModel subModel) {
            forwards.add(subModel);
            return input.mul((float) scale(shape, subModel));
        }

        @Override
        public List<NDArray> forwardExits(NDArray input, SubModel subModel, List<Integer> exits) {
            exitCalls.add(List.copyOf(exits));
            exitSubModels.add(subModel);
            List<NDArray> out = new ArrayList<>();
            for (int e : exits) {
                out.add(input.mul((float) scale(shape, subModel.with("depth", e))));
            }
            return out;
        }
    }

    /** A fixed batch: 6 rows of 5 classes. */
    static final float[][] INPUTS = {
        {0.5f, -1.0f, 2.0f, 0.1f, -0.3f},
        {1.5f, 0.2f, -0.7f, 0.9f, 0.0f},
        {-2.0f, 1.1f, 0.4f, 0.3f, 1.7f},
        {0.0f, 0.0f, 0.6f, -1.2f, 2.2f},
        {0.8f, 0.8f, -0.8f, 1.9f, -1.4f},
        {-0.6f, 2.4f, 1.0f, -0.2f, 0.7f},
    };

    static final int[] LABELS = {2, 0, 4, 1, 3, 1};

    static TestBatch batch(NDManager manager) {
        float[] flat = new float[INPUTS.length * INPUTS[0].length];
        for (int r = 0; r < INPUTS.length; r++) {
            System.arraycopy(INPUTS[r], 0, flat, r * INPUTS[0].length, INPUTS[0].length);
        }
        NDArray inputs = manager.create(flat, new ai.djl.ndarray.types.Shape(INPUTS.length, INPUTS[0].length));
        NDArray labels = manager.create(java.util.Arrays.stream(LABELS).asLongStream().toArray());
        return new TestBatch(inputs, labels);
    }

    static double expected(ModelShape shape, SubModel sub) {
        return expectedCrossEntropy(INPUTS, LABELS, scale(shape, sub));
    }
}
