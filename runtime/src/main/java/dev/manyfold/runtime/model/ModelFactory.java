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
     * A model with the recipe's real shapes, sites and tensor names but no weight values (see
     * {@link ParameterStore#shapesOnly}): every check {@link #build} makes, at no cost in
     * memory. For validation, not for computing.
     */
    public static Model shape(Settings s, DataShape data, NDManager manager) {
        return build(s, data, 0, manager, Weights.SHAPES);
    }

    /**
     * As {@link #build(Settings, DataShape, long, NDManager)}; with {@code placeholders} the
     * weights start as zeros instead of random values, for a caller that assigns every one of
     * them next ({@link ParameterStore#placeholders}).
     */
    public static Model build(Settings s, DataShape data, long seed, NDManager manager, boolean placeholders) {
        return build(s, data, seed, manager, placeholders ? Weights.PLACEHOLDERS : Weights.RANDOM);
    }

    /** How a built model's weights start. */
    private enum Weights {
        RANDOM, PLACEHOLDERS, SHAPES
    }

    private static Model build(Settings s, DataShape data, long seed, NDManager manager, Weights weights) {
        String family = s.getChoice("family", FAMILIES, null);
        s.check(!(family.equals("llama") && data.inputs() > 0), "family", "llama is a language model but the data are images "
                + "(data.type fashion-mnist)", "mlp or cnn for image data, llama for data.type text");
        s.check(family.equals("llama") || data.vocab() == 0, "family", family + " classifies images but the data are text "
                + "(data.type text)", "llama for text data, mlp or cnn for data.type fashion-mnist");
        Model model;
        ParameterStore store;
        switch (family) {
            case "mlp" -> {
                int inputs = s.getInt("inputs", data.inputs(), 1, 1 << 24);
                int hidden = s.getInt("hidden", 256, 1, 1 << 16);
                int blocks = s.getInt("blocks", 2, 1, 256);
                int classes = s.getInt("classes", data.classes(), 2, 1 << 20);
                s.rejectUnknown();
                Footprint.check(s, new Footprint.Counter().add("input.weight", inputs > hidden ? "inputs" : "hidden", 1, hidden, inputs)
                        .add("blocks.*.fc.weight", "hidden", blocks, hidden, hidden).add("head.weight", classes > hidden ? "classes"
                        : "hidden", 1, classes, hidden).sizes(), 4);
                store = store(manager, seed, weights);
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
                BatchNorm.Settings bn = BatchNorm.Settings.read(s, channels);
                s.rejectUnknown();
                Footprint.check(s, new Footprint.Counter().add("blocks.*.conv.weight", "channels", blocks, channels, channels * 9L)
                        .add("head.weight", classes > channels ? "classes" : "channels", 1, classes, channels).sizes(), 4);
                store = store(manager, seed, weights);
                model = new CnnModel(store, image, channels, blocks, classes, bn);
            }
            case "llama" -> {
                int vocab = s.getInt("vocab", data.vocab(), 2, 1 << 22);
                s.check(vocab >= data.vocab(), "vocab", "vocabulary of " + vocab + " is smaller than the tokenizer's " + data.vocab(),
                        "at least " + data.vocab() + " (or leave it out: the tokenizer decides)");
                int dim = s.getInt("dim", 256, 2, 1 << 16);
                int layers = s.getInt("layers", 4, 1, 512);
                int heads = s.getInt("heads", 4, 1, dim);
                boolean explicitHeadDim = s.has("head-dim");
                s.check(explicitHeadDim || dim % heads == 0, "heads", dim + " is not divisible by " + heads + " heads",
                        "a divisor of dim " + dim + " (or an explicit head-dim)");
                s.check(explicitHeadDim || dim / heads <= 1 << 12, "dim", "dim " + dim + " / " + heads + " heads gives a head dimension of "
                        + dim / heads + ", more than " + (1 << 12), "more heads, a smaller dim, or an explicit head-dim");
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
                s.check(theta > 1, "rope-theta", "RoPE base " + theta + " must be greater than 1", "a base such as 10000");
                double eps = s.getDouble("norm-eps", 1e-5);
                s.check(eps > 0 && eps < 1, "norm-eps", "RMSNorm epsilon " + eps + " is out of range", "a small positive number such as 1e-5");
                int eos = s.getInt("eos", data.eos());
                s.check(eos >= -1 && eos < vocab, "eos", "token " + eos + " is not in the vocabulary of " + vocab, "a token id in [0, " + vocab + ")");
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
                long attention = (long) heads * headDim;
                long kv = (long) kvHeads * headDim;
                Footprint.check(s, new Footprint.Counter()
                        .add("embed.weight", vocab > dim ? "vocab" : "dim", 1, vocab, dim)
                        .add(TensorNames.LAYERS + "*.attn.q_proj.weight", "dim", 2L * layers, attention, dim)
                        .add(TensorNames.LAYERS + "*.attn.k_proj.weight", "dim", 2L * layers, kv, dim)
                        .add(TensorNames.LAYERS + "*.mlp.gate_proj.weight", ffn > dim ? "ffn" : "dim", 3L * layers, ffn, dim)
                        .add("lm_head.weight", vocab > dim ? "vocab" : "dim", tied ? 0 : 1, vocab, dim)
                        .add("exit_heads.*.weight", "exit-heads", exitHeads.size(), vocab, dim)
                        .table("causal mask", "context", context, context).sizes(), 4);
                store = store(manager, seed, weights);
                model = new LlamaModel(store, new LlamaModel.Config(vocab, dim, layers, heads, kvHeads, headDim, ffn, context, tied, theta,
                        eps, eos, exitHeads, layerHeads, qkvBias));
            }
            default -> throw new IllegalStateException(family);
        }
        return model;
    }

    private static ParameterStore store(NDManager manager, long seed, Weights weights) {
        return switch (weights) {
            case SHAPES -> ParameterStore.shapesOnly(manager);
            case PLACEHOLDERS -> ParameterStore.placeholders(manager);
            case RANDOM -> new ParameterStore(manager, seed);
        };
    }

    /**
     * Floats of one micro-batch's activations kept for backward (an estimate: per layer the
     * attention scores and a few [batch, context, dim] / [batch, context, ffn] tensors, plus
     * the logits of every exit for text; the hidden activations for vision).
     */
    public static long activations(Model model, int batch) {
        Map<String, Object> c = model.config();
        if (model.family().equals("llama")) {
            long t = (long) batch * ((Number) c.get("context")).longValue();
            long dim = ((Number) c.get("dim")).longValue();
            long ffn = ((Number) c.get("ffn")).longValue();
            long heads = ((Number) c.get("heads")).longValue();
            long layers = ((Number) c.get("layers")).longValue();
            long vocab = ((Number) c.get("vocab")).longValue();
            long context = ((Number) c.get("context")).longValue();
            return t * layers * (12 * dim + 4 * ffn + 3 * heads * context) + 3 * t * vocab * layers;
        }
        long width = model.dimensions().getOrDefault("width", 1);
        long depth = model.dimensions().getOrDefault(Model.DEPTH, 1);
        long spatial = model.family().equals("cnn") ? ((Number) c.getOrDefault("image", 28)).longValue() : 1;
        return (long) batch * width * depth * spatial * spatial * 4;
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
