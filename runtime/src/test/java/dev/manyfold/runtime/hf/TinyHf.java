package dev.manyfold.runtime.hf;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.manyfold.runtime.checkpoint.DType;
import dev.manyfold.runtime.checkpoint.SafeTensors;
import dev.manyfold.runtime.checkpoint.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * Writes tiny Hugging Face causal-LM directories with random weights, as {@code transformers}
 * lays them out, and keeps the values as a reader must see them (after BF16/F16 rounding).
 */
final class TinyHf {
    final String architecture;
    final int vocab;
    final int dim;
    final int layers;
    final int heads;
    final int kvHeads;
    final int headDim;
    final int ffn;
    final boolean tied;
    final double theta = 10000.0;
    final double eps = 1e-6;
    final int maxPositions = 32;
    /** HF name to row-major values, as stored (rounded to the dtype). */
    final Map<String, float[]> values = new TreeMap<>();
    final Map<String, long[]> shapes = new TreeMap<>();

    TinyHf(String architecture, int vocab, int dim, int layers, int heads, int kvHeads, int headDim, int ffn, boolean tied, DType dtype,
            long seed) {
        this.architecture = architecture;
        this.vocab = vocab;
        this.dim = dim;
        this.layers = layers;
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.ffn = ffn;
        this.tied = tied;
        Random random = new Random(seed);
        add("model.embed_tokens.weight", dtype, random, 0.5, vocab, dim);
        for (int i = 0; i < layers; i++) {
            String l = "model.layers." + i + ".";
            add(l + "input_layernorm.weight", dtype, random, -1, dim);
            add(l + "self_attn.q_proj.weight", dtype, random, 0.3, heads * headDim, dim);
            add(l + "self_attn.k_proj.weight", dtype, random, 0.3, kvHeads * headDim, dim);
            add(l + "self_attn.v_proj.weight", dtype, random, 0.3, kvHeads * headDim, dim);
            if (qwen()) {
                add(l + "self_attn.q_proj.bias", dtype, random, 0.3, heads * headDim);
                add(l + "self_attn.k_proj.bias", dtype, random, 0.3, kvHeads * headDim);
                add(l + "self_attn.v_proj.bias", dtype, random, 0.3, kvHeads * headDim);
            }
            add(l + "self_attn.o_proj.weight", dtype, random, 0.3, dim, heads * headDim);
            add(l + "post_attention_layernorm.weight", dtype, random, -1, dim);
            add(l + "mlp.gate_proj.weight", dtype, random, 0.3, ffn, dim);
            add(l + "mlp.up_proj.weight", dtype, random, 0.3, ffn, dim);
            add(l + "mlp.down_proj.weight", dtype, random, 0.3, dim, ffn);
        }
        add("model.norm.weight", dtype, random, -1, dim);
        if (!tied) {
            add("lm_head.weight", dtype, random, 0.3, vocab, dim);
        }
        this.dtype = dtype;
    }

    private final DType dtype;

    boolean qwen() {
        return architecture.equals("Qwen2ForCausalLM");
    }

    /** A 2-layer LLaMA with grouped KV heads, untied. */
    static TinyHf llama(DType dtype, boolean tied) {
        return new TinyHf("LlamaForCausalLM", 300, 16, 2, 4, 2, 4, 24, tied, dtype, 11);
    }

    /** {@code std < 0}: a norm gain around 1. Values are rounded to what {@code dtype} stores. */
    private void add(String name, DType dtype, Random random, double std, int... shape) {
        int n = 1;
        long[] s = new long[shape.length];
        for (int i = 0; i < shape.length; i++) {
            n *= shape[i];
            s[i] = shape[i];
        }
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            double x = std < 0 ? 1 + 0.2 * random.nextGaussian() : std * random.nextGaussian();
            v[i] = round((float) x, dtype);
        }
        values.put(name, v);
        shapes.put(name, s);
    }

    static float round(float x, DType dtype) {
        return switch (dtype) {
            case F32 -> x;
            case BF16 -> Float.intBitsToFloat((bf16(x) & 0xFFFF) << 16);
            case F16 -> Math.round(x * 256f) / 256f; // exactly representable in F16 for |x| < 8
            default -> throw new IllegalArgumentException(dtype.toString());
        };
    }

    private static short bf16(float x) {
        int bits = Float.floatToRawIntBits(x);
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    private static short f16(float x) {
        // values are multiples of 1/256 below 8 in magnitude: normal F16 numbers, mantissa truncation is exact
        if (x == 0) {
            return 0;
        }
        int bits = Float.floatToRawIntBits(x);
        int sign = (bits >>> 16) & 0x8000;
        int exponent = ((bits >>> 23) & 0xFF) - 127 + 15;
        int mantissa = (bits >>> 13) & 0x3FF;
        return (short) (sign | exponent << 10 | mantissa);
    }

    Tensor tensor(String name) {
        return tensor(name, dtype);
    }

    Tensor tensor(String name, DType as) {
        float[] v = values.get(name);
        ByteBuffer b = ByteBuffer.allocate(v.length * as.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) {
            switch (as) {
                case F32 -> b.putFloat(x);
                case BF16 -> b.putShort(bf16(x));
                case F16 -> b.putShort(f16(x));
                case I8 -> b.put((byte) Math.round(x));
                default -> throw new IllegalArgumentException(as.toString());
            }
        }
        b.flip();
        return Tensor.of(name, as, shapes.get(name), b);
    }

    Map<String, Object> config() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("architectures", List.of(architecture));
        c.put("hidden_size", dim);
        c.put("num_hidden_layers", layers);
        c.put("num_attention_heads", heads);
        c.put("num_key_value_heads", kvHeads);
        c.put("head_dim", headDim);
        c.put("intermediate_size", ffn);
        c.put("rms_norm_eps", eps);
        c.put("rope_theta", theta);
        c.put("max_position_embeddings", maxPositions);
        c.put("tie_word_embeddings", tied);
        c.put("vocab_size", vocab);
        c.put("bos_token_id", 1);
        c.put("eos_token_id", List.of(256, 257));
        c.put("hidden_act", "silu");
        c.put("rope_scaling", null);
        c.put("torch_dtype", dtype == DType.BF16 ? "bfloat16" : dtype == DType.F16 ? "float16" : "float32");
        return c;
    }

    /** Writes config.json, the weights in {@code shards} files (1: model.safetensors) and a byte tokenizer. */
    Path write(Path dir, int shards) {
        return write(dir, shards, config(), Map.of());
    }

    /** As {@link #write(Path, int)} with the config and some tensors replaced. */
    Path write(Path dir, int shards, Map<String, Object> config, Map<String, Tensor> replaced) {
        try {
            java.nio.file.Files.createDirectories(dir);
            new ObjectMapper().writeValue(dir.resolve("config.json").toFile(), config);
            List<String> names = new ArrayList<>(values.keySet());
            Map<String, Tensor> all = new LinkedHashMap<>();
            for (String n : names) {
                all.put(n, replaced.getOrDefault(n, tensor(n)));
            }
            replaced.forEach(all::putIfAbsent);
            if (shards == 1) {
                SafeTensors.write(dir.resolve("model.safetensors"), all, Map.of("format", "pt"));
            } else {
                Map<String, String> weightMap = new TreeMap<>();
                List<String> keys = new ArrayList<>(all.keySet());
                for (int s = 0; s < shards; s++) {
                    String file = String.format("model-%05d-of-%05d.safetensors", s + 1, shards);
                    Map<String, Tensor> part = new LinkedHashMap<>();
                    for (int i = s; i < keys.size(); i += shards) {
                        part.put(keys.get(i), all.get(keys.get(i)));
                        weightMap.put(keys.get(i), file);
                    }
                    SafeTensors.write(dir.resolve(file), part, Map.of("format", "pt"));
                }
                new ObjectMapper().writeValue(dir.resolve("model.safetensors.index.json").toFile(),
                        Map.of("metadata", Map.of("total_size", 0), "weight_map", weightMap));
            }
            HfTokenizerFiles.writeByteTokenizer(dir, maxPositions);
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
