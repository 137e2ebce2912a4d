package dev.manyfold.runtime.model;

import ai.djl.ndarray.NDManager;
import dev.manyfold.api.Settings;
import java.util.List;
import java.util.Map;

/**
 * Builds a model from the recipe's {@code model} section (or from the configuration stored
 * in a checkpoint). The data source supplies what the data decides: input features and
 * classes for vision, vocabulary and EOS for text.
 */
public final class ModelFactory {
    /** The families this runtime provides. */
    public static final List<String> FAMILIES = List.of("mlp", "cnn", "llama");

    private ModelFactory() {}

    /** What the data decides about the model. */
    public record DataShape(int inputs, int classes, int vocab, int eos, int context) {
        public static DataShape vision(int inputs, int classes) {
            return new DataShape(inputs, classes, 0, -1, 0);
        }

        public static DataShape text(int vocab, int eos, int context) {
            return new DataShape(0, 0, vocab, eos, context);
        }
    }

    /**
     * Builds a model; every setting is validated with its recipe path and unknown keys are
     * refused.
     */
    public static Model build(Settings s, DataShape data, long seed, NDManager manager) {
        return build(s, data, seed, manager, false);
    }

    /**
     * As {@link #build(Settings, DataShape, long, NDManager)}; with {@code placeholders} the
     * weights start as zeros instead of random values, for a caller that assigns every one of
     * them next ({@link ParameterStore#placeholders}).
     */
    public static Model build(Settings s, DataShape data, long seed, NDManager manager, boolean placeholders) {
        String family = s.getChoice("family", FAMILIES, null);
        Model model;
        ParameterStore store;
        switch (family) {
            case "mlp" -> {
                int inputs = s.getInt("inputs", data.inputs(), 1, 1 << 24);
                int hidden = s.getInt("hidden", 256, 1, 1 << 16);
                int blocks = s.getInt("blocks", 2, 1, 256);
                int classes = s.getInt("classes", data.classes(), 2, 1 << 20);
                s.rejectUnknown();
                store = new ParameterStore(manager, seed);
                model = new MlpModel(store, inputs, hidden, blocks, classes);
            }
            case "cnn" -> {
                int side = (int) Math.round(Math.sqrt(Math.max(1, data.inputs())));
                int image = s.getInt("image", side, 4, 4096);
                s.check(data.inputs() == 0 || image * image == data.inputs(), "image", image + "x" + image + " pixels do not match the "
                        + data.inputs() + " input features of the data", "the side of a square single-channel image");
                int channels = s.getInt("channels", 32, 1, 4096);
                int blocks = s.getInt("blocks", 2, 1, 256);
                int classes = s.getInt("classes", data.classes(), 2, 1 << 20);
                s.rejectUnknown();
                store = new ParameterStore(manager, seed);
                model = new CnnModel(store, image, channels, blocks, classes);
            }
            case "llama" -> {
                int vocab = s.getInt("vocab", data.vocab(), 2, 1 << 22);
                int dim = s.getInt("dim", 256, 2, 1 << 16);
                int layers = s.getInt("layers", 4, 1, 512);
                int heads = s.getInt("heads", 4, 1, dim);
                boolean explicitHeadDim = s.has("head-dim");
                s.check(explicitHeadDim || dim % heads == 0, "heads", dim + " is not divisible by " + heads + " heads",
                        "a divisor of dim " + dim + " (or an explicit head-dim)");
                int headDim = s.getInt("head-dim", Math.max(1, dim / heads), 2, 1 << 12);
                s.check(headDim % 2 == 0, explicitHeadDim ? "head-dim" : "heads", "head dimension " + headDim
                        + " is odd; RoPE needs an even one", "an even head dimension");
                int kvHeads = s.getInt("kv-heads", heads, 1, heads);
                s.check(heads % kvHeads == 0, "kv-heads", heads + " heads are not divisible into " + kvHeads + " KV groups",
                        "a divisor of heads " + heads);
                int ffn = s.getInt("ffn", defaultFfn(dim), 1, 1 << 20);
                int context = s.getInt("context", data.context() > 0 ? data.context() : 128, 2, 1 << 16);
                boolean tied = s.getBoolean("tied", false);
                double theta = s.getDouble("rope-theta", 10000.0);
                double eps = s.getDouble("norm-eps", 1e-5);
                int eos = s.getInt("eos", data.eos());
                List<Integer> exitHeads = s.getIntList("exit-heads", List.of());
                for (int n : exitHeads) {
                    s.check(n >= 1 && n < layers, "exit-heads", "exit " + n + " is not an intermediate depth of " + layers + " layers",
                            "depths in [1, " + (layers - 1) + "]");
                }
                List<Integer> layerHeads = s.getIntList("layer-heads", List.of());
                if (!layerHeads.isEmpty()) {
                    s.check(layerHeads.size() == layers, "layer-heads", layerHeads.size() + " head counts for " + layers + " layers",
                            "one head count per layer");
                    s.check(kvHeads == heads, "layer-heads", "per-layer head counts with grouped KV heads (kv-heads " + kvHeads
                            + " < heads " + heads + ")", "kv-heads equal to heads");
                    for (int h : layerHeads) {
                        s.check(h >= 1 && h <= heads, "layer-heads", "a layer with " + h + " heads", "counts in [1, " + heads + "]");
                    }
                }
                boolean qkvBias = s.getBoolean("qkv-bias", false);
                s.rejectUnknown();
                store = placeholders ? ParameterStore.placeholders(manager) : new ParameterStore(manager, seed);
                model = new LlamaModel(store, new LlamaModel.Config(vocab, dim, layers, heads, kvHeads, headDim, ffn, context, tied, theta,
                        eps, eos, exitHeads, layerHeads, qkvBias));
            }
            default -> throw new IllegalStateException(family);
        }
        return model;
    }

    /** Rebuilds a model from the configuration map stored with a checkpoint. */
    public static Model fromConfig(Map<String, Object> config, long seed, NDManager manager) {
        return build(Settings.of("checkpoint.model", config), new DataShape(0, 0, 0, -1, 0), seed, manager);
    }

    /** SwiGLU's usual 8/3·dim, rounded up to a multiple of 32. */
    static int defaultFfn(int dim) {
        int f = (int) Math.ceil(8.0 * dim / 3.0);
        return (f + 31) / 32 * 32;
    }
}
