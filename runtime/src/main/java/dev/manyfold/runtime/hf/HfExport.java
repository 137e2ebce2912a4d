package dev.manyfold.runtime.hf;

import dev.manyfold.runtime.job.Run;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.checkpoint.DType;
import dev.manyfold.runtime.checkpoint.SafeTensors;
import dev.manyfold.runtime.checkpoint.Tensor;
import dev.manyfold.runtime.data.ByteTokenizer;
import dev.manyfold.runtime.data.HuggingFaceTokenizer;
import dev.manyfold.runtime.data.Tokenizer;
import dev.manyfold.runtime.model.LlamaModel;
import dev.manyfold.runtime.model.Model;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Writes a LLaMA (or one of its sub-models) as a Hugging Face directory: {@code config.json}
 * ({@code num_hidden_layers} = the exit's depth, heads and {@code intermediate_size} of the
 * chosen budgets; {@code Qwen2ForCausalLM} when the model has q/k/v biases, else
 * {@code LlamaForCausalLM}), {@code model.safetensors} in F32 with HF tensor names (masks
 * and adapters merged), {@code generation_config.json}, and the tokenizer files.
 *
 * <p>Heads pruned per layer (DSEE head pruning) cannot be described by one
 * {@code num_attention_heads}: such an export is refused, naming the smallest uniform shape
 * ({@code --sub-model heads=N}) that would be exported instead.
 */
public final class HfExport {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private HfExport() {}

    /** What was written. */
    public record Written(Path dir, HfConfig config, long parameters, long bytes, List<String> tokenizerFiles) {}

    /**
     * Writes {@code sub} of {@code model} into {@code dir} (created if needed; files there of
     * the same names are replaced).
     *
     * @param source the configuration the model was imported from, if any (its BOS/EOS ids,
     *     architecture name and {@code max_position_embeddings} are kept)
     * @param tokenizer the tokenizer the model was trained with, if any
     * @throws IllegalArgumentException when the model is not a LLaMA, or the sub-model has
     *     per-layer head counts
     */
    public static Written write(Model model, SubModel sub, Path dir, Optional<HfConfig> source, Optional<Tokenizer> tokenizer) {
        return write(model, sub, dir, source, tokenizer, DType.F32);
    }

    /**
     * As {@link #write(Model, SubModel, Path, Optional, Optional)}, the weights stored as
     * {@code dtype}: F32 (exact) or BF16 (rounded to nearest even; half the size, as most Hub
     * checkpoints are stored).
     */
    public static Written write(Model model, SubModel sub, Path dir, Optional<HfConfig> source, Optional<Tokenizer> tokenizer,
            DType dtype) {
        requireNonNull(dir, "dir is null");
        if (dtype != DType.F32 && dtype != DType.BF16) {
            throw new IllegalArgumentException("--dtype: " + dtype + " is not supported for --format hf; accepted: f32, bf16");
        }
        if (!(model instanceof LlamaModel llama)) {
            throw new IllegalArgumentException("--format hf exports LLaMA models; this run's model is " + model.family());
        }
        model.check(sub, "--sub-model");
        try (NDManager manager = model.parameters().manager().newSubManager()) {
            Model.Exported exported = model.export(sub, manager);
            Map<String, Object> c = exported.config();
            if (c.containsKey("layer-heads")) {
                int smallest = ((List<?>) c.get("layer-heads")).stream().mapToInt(h -> ((Number) h).intValue()).min().orElse(1);
                throw new IllegalArgumentException("--format hf: this model's layers have different head counts " + c.get("layer-heads")
                        + " (heads pruned per layer), which a Hugging Face config.json cannot describe; export the smallest uniform"
                        + " shape with --sub-model heads=" + smallest + (sub.isFull() ? "" : "," + sub.toString().replace("{", "")
                                .replace("}", "").replace(" ", "")));
            }
            boolean bias = Boolean.TRUE.equals(c.get("qkv-bias"));
            int context = num(c, "context");
            int eos = num(c, "eos");
            String architecture = bias ? HfConfig.QWEN2 : source.map(HfConfig::architecture).filter(a -> !a.equals(HfConfig.QWEN2))
                    .orElse(HfConfig.LLAMA);
            HfConfig config = new HfConfig(architecture, num(c, "vocab"), num(c, "dim"), num(c, "layers"), num(c, "heads"), num(c, "kv-heads"),
                    num(c, "head-dim"), num(c, "ffn"), source.map(s -> Math.max(s.maxPositions(), context)).orElse(context),
                    Boolean.TRUE.equals(c.get("tied")), ((Number) c.get("rope-theta")).doubleValue(),
                    ((Number) c.get("norm-eps")).doubleValue(), bias, source.map(HfConfig::bos).orElse(-1),
                    source.map(HfConfig::eos).filter(e -> !e.isEmpty()).orElse(eos < 0 ? List.of() : List.of(eos)));
            Files.createDirectories(dir);
            Map<String, Tensor> tensors = new TreeMap<>();
            exported.tensors().forEach((name, array) -> {
                String hf = HfNames.toHf(name);
                tensors.put(hf, dtype == DType.BF16 ? bf16(hf, array) : lazy(hf, array));
            });
            SafeTensors.write(dir.resolve(HfWeights.SINGLE), tensors, Map.of("format", "pt"));
            Map<String, Object> json = config.toJson();
            json.put("torch_dtype", dtype == DType.BF16 ? "bfloat16" : "float32");
            JSON.writeValue(dir.resolve(HfConfig.FILE).toFile(), json);
            Map<String, Object> generation = new LinkedHashMap<>();
            generation.put("_from_model_config", true);
            if (config.bos() >= 0) {
                generation.put("bos_token_id", config.bos());
            }
            if (!config.eos().isEmpty()) {
                generation.put("eos_token_id", config.eos().size() == 1 ? config.eos().get(0) : config.eos());
            }
            JSON.writeValue(dir.resolve("generation_config.json").toFile(), generation);
            List<String> tokenizerFiles = new ArrayList<>();
            if (tokenizer.isPresent() && tokenizer.get() instanceof HuggingFaceTokenizer hf) {
                tokenizerFiles.addAll(HfTokenizerFiles.copy(hf.file(), dir));
            } else if (tokenizer.isPresent() && tokenizer.get() instanceof ByteTokenizer) {
                HfTokenizerFiles.writeByteTokenizer(dir, context);
                tokenizerFiles.addAll(List.of("tokenizer.json", "tokenizer_config.json"));
            }
            long bytes = Files.size(dir.resolve(HfWeights.SINGLE));
            return new Written(dir, config, llama.parameterCount(sub), bytes, tokenizerFiles);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + dir, e);
        }
    }

    /** An F32 tensor whose bytes are taken from {@code array} only when the file is written. */
    static Tensor lazy(String name, NDArray array) {
        return Tensor.lazy(name, DType.F32, array.getShape().getShape(), () -> Tensor.of(name, array).data());
    }

    /** A BF16 tensor rounded (to nearest, ties to even) from an F32 array when the file is written. */
    static Tensor bf16(String name, NDArray array) {
        return Tensor.lazy(name, DType.BF16, array.getShape().getShape(), () -> {
            java.nio.FloatBuffer in = Tensor.of(name, array).data().asFloatBuffer();
            java.nio.ByteBuffer out = java.nio.ByteBuffer.allocate(in.remaining() * 2).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            while (in.hasRemaining()) {
                float x = in.get();
                int bits = Float.floatToRawIntBits(x);
                out.putShort((short) (Float.isNaN(x) ? (bits >>> 16) | 0x40 : (bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16));
            }
            return out.flip();
        });
    }

    private static int num(Map<String, Object> c, String key) {
        return ((Number) c.get(key)).intValue();
    }

    /**
     * {@code export RUN --format hf -o DIR}: writes {@code sub} of a loaded run and prints what
     * was written. A run imported with {@code model: { from: DIR }} keeps that directory's
     * BOS/EOS ids, architecture name and {@code max_position_embeddings}.
     */
    public static int run(dev.manyfold.runtime.job.Run p, SubModel sub, Path dir, String dtype, java.io.PrintWriter out) {
        DType type = switch (dtype) {
            case "f32" -> DType.F32;
            case "bf16" -> DType.BF16;
            default -> throw new IllegalArgumentException("--dtype: unknown \"" + dtype + "\"; accepted: f32, bf16");
        };
        dev.manyfold.api.Settings model = p.recipe().section("model");
        Optional<HfConfig> source = HfImport.imports(model) && Files.isDirectory(HfImport.directory(model))
                ? Optional.of(HfConfig.read(HfImport.directory(model))) : Optional.empty();
        Written w = write(p.model(), sub, dir, source, p.data().tokenizer(), type);
        out.printf("exported %s as a Hugging Face %s: %d layers, %d heads (%d KV), intermediate_size %d, %,d parameters, %,d bytes -> %s%n",
                sub, w.config().architecture(), w.config().layers(), w.config().heads(), w.config().kvHeads(), w.config().ffn(),
                w.parameters(), w.bytes(), dir);
        out.printf("  files: config.json, generation_config.json, model.safetensors%s%n",
                w.tokenizerFiles().isEmpty() ? " (no tokenizer: the run has none)" : ", " + String.join(", ", w.tokenizerFiles()));
        return 0;
    }
}
