package dev.manyfold.runtime.hf;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.manyfold.runtime.checkpoint.CheckpointException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The {@code config.json} of a Hugging Face causal-LM directory, read into the keys Manyfold
 * maps: {@code hidden_size}, {@code num_hidden_layers}, {@code num_attention_heads},
 * {@code num_key_value_heads}, {@code head_dim}, {@code intermediate_size},
 * {@code rms_norm_eps}, {@code rope_theta}, {@code max_position_embeddings},
 * {@code tie_word_embeddings}, {@code vocab_size}, {@code bos_token_id} and
 * {@code eos_token_id} (an int or a list). Architectures: {@link #ARCHITECTURES}; Qwen2 has
 * biases on the query, key and value projections. A {@code sliding_window} (Mistral; Qwen2 only
 * with {@code use_sliding_window}) caps the context, below which the window changes nothing.
 * A {@code rope_scaling} other than none,
 * a {@code hidden_act} other than SiLU, and attention or MLP biases on a LLaMA are refused.
 *
 * @param architecture one of {@link #ARCHITECTURES}
 * @param eos the end-of-sequence ids (the first ends generation in Manyfold); may be empty
 * @param bos the beginning-of-sequence id, or -1
 */
public record HfConfig(String architecture, int vocab, int dim, int layers, int heads, int kvHeads, int headDim, int ffn,
        int maxPositions, boolean tied, double ropeTheta, double normEps, boolean qkvBias, int bos, List<Integer> eos) {
    /** The file name of the configuration. */
    public static final String FILE = "config.json";
    /** The architectures that can be imported. */
    public static final List<String> ARCHITECTURES = List.of("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM");
    /** The architecture written for a model with q/k/v biases. */
    public static final String QWEN2 = "Qwen2ForCausalLM";
    /** The architecture written for a model without. */
    public static final String LLAMA = "LlamaForCausalLM";

    private static final ObjectMapper JSON = new ObjectMapper();

    public HfConfig {
        requireNonNull(architecture, "architecture is null");
        eos = List.copyOf(eos);
    }

    /**
     * Reads {@code dir/config.json}.
     *
     * @throws CheckpointException naming the file and the key when the file is missing or not
     *     JSON, a required key is missing or out of range, or the architecture or a feature is
     *     not supported
     */
    public static HfConfig read(Path dir) {
        Path file = dir.resolve(FILE);
        if (!Files.isRegularFile(file)) {
            throw new CheckpointException(file + ": no such file; a Hugging Face model directory holds config.json, model.safetensors"
                    + " (or shards with model.safetensors.index.json) and tokenizer.json");
        }
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new CheckpointException(file + ": not valid JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new CheckpointException(file + ": expected a JSON object");
        }
        Reader r = new Reader(file, root);
        String architecture = r.architecture();
        boolean qwen = architecture.equals(QWEN2);
        int dim = r.positive("hidden_size", null);
        int layers = r.positive("num_hidden_layers", null);
        int heads = r.positive("num_attention_heads", null);
        int kvHeads = r.positive("num_key_value_heads", heads);
        if (heads % kvHeads != 0) {
            throw r.invalid("num_key_value_heads", kvHeads + " does not divide num_attention_heads " + heads);
        }
        if (!root.has("head_dim") || root.get("head_dim").isNull()) {
            if (dim % heads != 0) {
                throw r.invalid("num_attention_heads", heads + " does not divide hidden_size " + dim + " and head_dim is not given");
            }
        }
        int headDim = r.positive("head_dim", root.has("head_dim") && !root.get("head_dim").isNull() ? null : dim / heads);
        if (headDim % 2 != 0) {
            throw r.invalid("head_dim", "head dimension " + headDim + " is odd; RoPE needs an even one");
        }
        int ffn = r.positive("intermediate_size", null);
        int vocab = r.positive("vocab_size", null);
        int maxPositions = r.positive("max_position_embeddings", 2048);
        // Mistral's sliding window: attention is plain causal attention up to the window, so the context stops there.
        boolean windowed = root.path("use_sliding_window").asBoolean(!qwen) && root.path("sliding_window").isIntegralNumber();
        if (windowed && root.get("sliding_window").asInt() > 0) {
            maxPositions = Math.min(maxPositions, root.get("sliding_window").asInt());
        }
        boolean tied = r.bool("tie_word_embeddings", false);
        double theta = r.number("rope_theta", 10000.0);
        double eps = r.number("rms_norm_eps", 1e-6);
        String act = root.path("hidden_act").asText("silu");
        if (!act.equals("silu") && !act.equals("swish")) {
            throw r.invalid("hidden_act", "\"" + act + "\" is not supported; Manyfold's LLaMA uses SwiGLU (silu)");
        }
        JsonNode scaling = root.get("rope_scaling");
        if (scaling != null && !scaling.isNull()) {
            String type = scaling.path("rope_type").asText(scaling.path("type").asText("?"));
            if (!type.equals("default")) {
                throw r.invalid("rope_scaling", "rope scaling \"" + type + "\" is not supported yet; only unscaled RoPE (rope_scaling: null)");
            }
        }
        if (!qwen && r.bool("attention_bias", false)) {
            throw r.invalid("attention_bias", "attention biases on a " + architecture + " are not supported (only Qwen2's q/k/v biases)");
        }
        if (r.bool("mlp_bias", false)) {
            throw r.invalid("mlp_bias", "MLP biases are not supported");
        }
        int bos = root.path("bos_token_id").isIntegralNumber() ? root.get("bos_token_id").asInt() : -1;
        List<Integer> eos = r.ids("eos_token_id");
        return new HfConfig(architecture, vocab, dim, layers, heads, kvHeads, headDim, ffn, maxPositions, tied, theta, eps, qwen, bos, eos);
    }

    /** The first end-of-sequence id, or -1. */
    public int firstEos() {
        return eos.isEmpty() ? -1 : eos.get(0);
    }

    /**
     * A Manyfold {@code model} section ({@code family: llama}) with this configuration, the
     * context capped at {@code contextCap}, plus {@code extra} keys (such as {@code exit-heads}).
     */
    public Map<String, Object> modelSection(int contextCap, Map<String, Object> extra) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("family", "llama");
        m.put("vocab", vocab);
        m.put("dim", dim);
        m.put("layers", layers);
        m.put("heads", heads);
        m.put("kv-heads", kvHeads);
        m.put("head-dim", headDim);
        m.put("ffn", ffn);
        m.put("context", Math.min(maxPositions, contextCap));
        m.put("tied", tied);
        m.put("rope-theta", ropeTheta);
        m.put("norm-eps", normEps);
        m.put("eos", firstEos());
        if (qkvBias) {
            m.put("qkv-bias", true);
        }
        m.putAll(extra);
        return m;
    }

    /** The {@code config.json} object of this configuration, in the spelling {@code transformers} writes. */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("architectures", List.of(architecture));
        m.put("model_type", architecture.equals(QWEN2) ? "qwen2" : architecture.equals("MistralForCausalLM") ? "mistral" : "llama");
        m.put("hidden_size", dim);
        m.put("num_hidden_layers", layers);
        m.put("num_attention_heads", heads);
        m.put("num_key_value_heads", kvHeads);
        m.put("head_dim", headDim);
        m.put("intermediate_size", ffn);
        m.put("hidden_act", "silu");
        m.put("max_position_embeddings", maxPositions);
        m.put("rms_norm_eps", normEps);
        m.put("rope_theta", ropeTheta);
        m.put("rope_scaling", null);
        m.put("tie_word_embeddings", tied);
        m.put("vocab_size", vocab);
        if (bos >= 0) {
            m.put("bos_token_id", bos);
        }
        if (!eos.isEmpty()) {
            m.put("eos_token_id", eos.size() == 1 ? eos.get(0) : eos);
        }
        if (!architecture.equals(QWEN2)) {
            m.put("attention_bias", false);
            m.put("mlp_bias", false);
        } else {
            m.put("use_sliding_window", false);
        }
        m.put("torch_dtype", "float32");
        return m;
    }

    /** Reads keys of one config file with errors naming the file and the key. */
    private record Reader(Path file, JsonNode root) {
        CheckpointException invalid(String key, String problem) {
            return new CheckpointException(file + ": key " + key + ": " + problem);
        }

        String architecture() {
            JsonNode a = root.get("architectures");
            if (a == null || !a.isArray() || a.isEmpty() || !a.get(0).isTextual()) {
                throw invalid("architectures", "missing or not a list of names; supported: " + ARCHITECTURES);
            }
            String name = a.get(0).asText();
            if (!ARCHITECTURES.contains(name)) {
                throw invalid("architectures", "architecture " + name + " is not supported; supported: " + ARCHITECTURES);
            }
            return name;
        }

        int positive(String key, Integer defaultValue) {
            JsonNode v = root.get(key);
            if (v == null || v.isNull()) {
                if (defaultValue == null) {
                    throw invalid(key, "is missing");
                }
                return defaultValue;
            }
            if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 1) {
                throw invalid(key, "is " + v + "; expected a positive integer");
            }
            return v.asInt();
        }

        double number(String key, double defaultValue) {
            JsonNode v = root.get(key);
            if (v == null || v.isNull()) {
                return defaultValue;
            }
            if (!v.isNumber() || v.asDouble() <= 0) {
                throw invalid(key, "is " + v + "; expected a positive number");
            }
            return v.asDouble();
        }

        boolean bool(String key, boolean defaultValue) {
            JsonNode v = root.get(key);
            if (v == null || v.isNull()) {
                return defaultValue;
            }
            if (!v.isBoolean()) {
                throw invalid(key, "is " + v + "; expected true or false");
            }
            return v.asBoolean();
        }

        List<Integer> ids(String key) {
            JsonNode v = root.get(key);
            List<Integer> out = new ArrayList<>();
            if (v == null || v.isNull()) {
                return out;
            }
            if (v.isIntegralNumber()) {
                out.add(v.asInt());
                return out;
            }
            if (v.isArray()) {
                for (JsonNode e : v) {
                    if (!e.isIntegralNumber()) {
                        throw invalid(key, "is " + v + "; expected a token id or a list of ids");
                    }
                    out.add(e.asInt());
                }
                return out;
            }
            throw invalid(key, "is " + v + "; expected a token id or a list of ids");
        }
    }
}
