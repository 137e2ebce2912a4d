package dev.manyfold.runtime.hf;

import dev.manyfold.runtime.model.TensorNames;
import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.manyfold.runtime.checkpoint.Checkpoint;
import dev.manyfold.runtime.checkpoint.CheckpointException;
import dev.manyfold.runtime.checkpoint.DType;
import dev.manyfold.runtime.checkpoint.SafeTensors;
import dev.manyfold.runtime.checkpoint.Tensor;
import dev.manyfold.runtime.model.LlamaModel;
import dev.manyfold.runtime.model.Model;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The weights of a Hugging Face model directory: {@code model.safetensors}, or the shards
 * listed by {@code model.safetensors.index.json}'s {@code weight_map}. Shards are memory-mapped
 * and nothing is copied until {@link #loadInto} converts one tensor at a time (F32, F16 and
 * BF16 widened to F32 in Java from the mapped bytes into one reused direct buffer, then copied
 * into the parameter; DJL never sees a BF16 array), so loading needs the F32 model plus one
 * F32 copy of its largest tensor.
 */
public final class HfWeights {
    /** The single-file weights. */
    public static final String SINGLE = "model.safetensors";
    /** The shard index. */
    public static final String INDEX = "model.safetensors.index.json";
    /** Element types accepted on import. */
    public static final Set<DType> DTYPES = Set.of(DType.F32, DType.F16, DType.BF16);

    /** A tensor and the file it lives in. */
    private record Located(Tensor tensor, Path file) {}

    private final Path dir;
    private final Map<String, Located> tensors;

    private HfWeights(Path dir, Map<String, Located> tensors) {
        this.dir = dir;
        this.tensors = tensors;
    }

    /**
     * Whether {@code path} looks like a Hugging Face model directory: it holds {@code config.json},
     * {@value #SINGLE} or {@value #INDEX} (a run directory holds none of them).
     */
    public static boolean isModelDirectory(Path path) {
        return Files.isDirectory(path) && (Files.isRegularFile(path.resolve(HfConfig.FILE)) || Files.isRegularFile(path.resolve(SINGLE))
                || Files.isRegularFile(path.resolve(INDEX)));
    }

    /**
     * Opens the weights of {@code dir}: the headers are validated, the data is not read.
     *
     * @throws CheckpointException naming the file (and key) when there are no weights, the
     *     index is not valid or names a missing shard, or a shard lacks a tensor its index names
     */
    public static HfWeights open(Path dir) {
        Path index = dir.resolve(INDEX);
        Path single = dir.resolve(SINGLE);
        Map<String, Located> tensors = new TreeMap<>();
        if (Files.isRegularFile(index)) {
            JsonNode map;
            try {
                map = new ObjectMapper().readTree(index.toFile()).get("weight_map");
            } catch (IOException e) {
                throw new CheckpointException(index + ": not valid JSON: " + e.getMessage(), e);
            }
            if (map == null || !map.isObject()) {
                throw new CheckpointException(index + ": key weight_map: missing or not an object of tensor name -> shard file");
            }
            Map<String, Checkpoint> shards = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> e : map.properties()) {
                String shardName = e.getValue().asText();
                Path shard = dir.resolve(shardName).normalize();
                if (!e.getValue().isTextual() || !shard.startsWith(dir.normalize()) || !Files.isRegularFile(shard)) {
                    throw new CheckpointException(index + ": key weight_map." + e.getKey() + ": shard " + e.getValue()
                            + " does not exist in " + dir);
                }
                Checkpoint c = shards.computeIfAbsent(shardName, n -> SafeTensors.read(shard));
                Tensor t = c.tensors().get(e.getKey());
                if (t == null) {
                    throw new CheckpointException(shard + ": no tensor " + e.getKey() + ", which " + index.getFileName()
                            + " places in this shard");
                }
                tensors.put(e.getKey(), new Located(t, shard));
            }
        } else if (Files.isRegularFile(single)) {
            SafeTensors.read(single).tensors().forEach((n, t) -> tensors.put(n, new Located(t, single)));
        } else {
            throw new CheckpointException(dir + ": no " + SINGLE + " and no " + INDEX + "; a Hugging Face model directory holds its"
                    + " weights in one of them");
        }
        return new HfWeights(dir, tensors);
    }

    /** The tensor names, sorted. */
    public Set<String> names() {
        return tensors.keySet();
    }

    /** The tensor called {@code hfName} as stored (its dtype and bytes unchanged). */
    public Tensor tensor(String hfName) {
        Located l = tensors.get(hfName);
        if (l == null) {
            throw new CheckpointException(dir + ": no tensor " + hfName);
        }
        return l.tensor();
    }

    /**
     * Assigns every base tensor of {@code model} (a LLaMA built from this directory's
     * {@link HfConfig}) from the weights, one tensor at a time; per-exit heads start as copies
     * of the shared head. Every stored tensor must be used (a tied model may carry an unused
     * {@code lm_head.weight}).
     *
     * @return the number of tensors assigned
     * @throws CheckpointException naming the file and the tensor when one is missing, has the
     *     wrong shape or an unsupported dtype, or has no counterpart in the model
     */
    public int loadInto(Model model) {
        if (!(model instanceof LlamaModel llama)) {
            throw new IllegalArgumentException("a Hugging Face causal LM loads into a llama model, not " + model.family());
        }
        Set<String> used = new java.util.HashSet<>();
        int assigned = 0;
        for (Map.Entry<String, NDArray> e : model.parameters().all().entrySet()) {
            String name = e.getKey();
            if (TensorNames.isAdapter(name) || TensorNames.isMask(name)) {
                continue;
            }
            String hf = name.startsWith(LlamaModel.EXIT_HEADS) ? (tensors.containsKey("lm_head.weight") && !llama.config().get("tied")
                    .equals(true) ? "lm_head.weight" : "model.embed_tokens.weight") : HfNames.toHf(name);
            Located l = tensors.get(hf);
            if (l == null) {
                throw new CheckpointException(dir + ": no tensor " + hf + " (Manyfold's " + name + ", shape "
                        + Arrays.toString(e.getValue().getShape().getShape()) + ") in " + describeFiles());
            }
            used.add(hf);
            long[] want = e.getValue().getShape().getShape();
            if (!Arrays.equals(want, l.tensor().shape())) {
                throw new CheckpointException(l.file() + ": tensor " + hf + " has shape " + Arrays.toString(l.tensor().shape())
                        + " but config.json implies " + Arrays.toString(want));
            }
            if (!DTYPES.contains(l.tensor().dtype())) {
                throw new CheckpointException(l.file() + ": tensor " + hf + " has dtype " + l.tensor().dtype()
                        + ", which is not supported; accepted: F32, F16, BF16");
            }
            model.parameters().assign(name, widen(l.tensor(), buffer(l.tensor().elementCount())));
            assigned++;
        }
        for (Map.Entry<String, Located> e : tensors.entrySet()) {
            String hf = e.getKey();
            if (used.contains(hf) || HfNames.ignorable(hf) || (hf.equals("lm_head.weight") && llama.config().get("tied").equals(true))) {
                continue;
            }
            throw new CheckpointException(e.getValue().file() + ": tensor " + hf + " " + e.getValue().tensor().dtype() + " "
                    + Arrays.toString(e.getValue().tensor().shape()) + " has no counterpart in Manyfold's LLaMA ("
                    + HfNames.toManyfold(hf).map(n -> "would be " + n + ", which this configuration does not have")
                            .orElse("unknown tensor name") + ")");
        }
        return assigned;
    }

    private java.nio.ByteBuffer scratch;

    /** One direct buffer of at least {@code elements} floats, reused for every tensor (grown when needed). */
    private java.nio.FloatBuffer buffer(long elements) {
        if (scratch == null || scratch.capacity() < elements * 4) {
            scratch = java.nio.ByteBuffer.allocateDirect(Math.toIntExact(elements * 4)).order(java.nio.ByteOrder.nativeOrder());
        }
        java.nio.FloatBuffer f = scratch.asFloatBuffer();
        f.limit(Math.toIntExact(elements));
        return f;
    }

    /** The tensor's F32, F16 or BF16 elements as floats in {@code out} (exact widening), flipped for reading. */
    static java.nio.FloatBuffer widen(Tensor tensor, java.nio.FloatBuffer out) {
        java.nio.ByteBuffer in = tensor.data();
        int n = Math.toIntExact(tensor.elementCount());
        switch (tensor.dtype()) {
            case F32 -> {
                for (int i = 0; i < n; i++) {
                    out.put(i, in.getFloat(4 * i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    out.put(i, Float.intBitsToFloat((in.getShort(2 * i) & 0xFFFF) << 16));
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    out.put(i, halfToFloat(in.getShort(2 * i)));
                }
            }
            default -> throw new IllegalArgumentException(tensor.dtype().toString());
        }
        out.position(0).limit(n);
        return out;
    }

    /** IEEE 754 binary16 to binary32, exactly (subnormals, infinities and NaN included). */
    static float halfToFloat(short h) {
        int sign = (h & 0x8000) << 16;
        int exponent = (h >>> 10) & 0x1F;
        int mantissa = h & 0x3FF;
        if (exponent == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F800000 | mantissa << 13);
        }
        if (exponent == 0) {
            if (mantissa == 0) {
                return Float.intBitsToFloat(sign);
            }
            float value = mantissa * 0x1p-24f; // subnormal: mantissa · 2^-24
            return sign == 0 ? value : -value;
        }
        return Float.intBitsToFloat(sign | (exponent + 127 - 15) << 23 | mantissa << 13);
    }

    private String describeFiles() {
        List<Path> files = tensors.values().stream().map(Located::file).distinct().sorted().toList();
        return files.size() == 1 ? files.get(0).toString() : files.size() + " shards of " + dir.resolve(INDEX);
    }
}
