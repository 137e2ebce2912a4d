package dev.manyfold.runtime.onnx;

import ai.djl.ndarray.NDManager;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.decoder.InferenceSession;
import dev.manyfold.api.decoder.LanguageModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A LLaMA language model on ONNX Runtime: the graphs of a {@link GraphSource} (an export
 * directory, or a run exported on the fly), one ORT session per graph created on first use
 * with one intra-op thread and optimisation level ALL. Thread-safe like ORT sessions are;
 * each decode has its own {@link OrtInferenceSession} holding the KV cache as ORT tensors.
 */
public final class OrtLanguageModel implements LanguageModel, AutoCloseable {
    /** Where the graphs come from. */
    public interface GraphSource {
        /** The graph of {@code key} as a file or serialized bytes, or null when this source lacks it. */
        Object find(GraphKey key);

        /** What a missing graph would have been, for errors. */
        String describe(GraphKey key);
    }

    final OrtEnvironment env = OrtEnvironment.getEnvironment();
    private final GraphSource source;
    private final Map<GraphKey, OrtSession> sessions = new ConcurrentHashMap<>();
    private final int threads;
    final int vocab;
    final int dim;
    final int context;
    final int headDim;
    final int group;
    final int[] kvHeads;
    private final List<Integer> exits;
    private final int eos;
    private final Map<String, String> metadata;

    /** {@code metadata}: the {@code metadata_props} of the source's graphs. */
    public OrtLanguageModel(GraphSource source, Map<String, String> metadata, int threads) {
        this.source = source;
        this.metadata = Map.copyOf(metadata);
        this.threads = threads;
        String where = String.valueOf(metadata.getOrDefault(OnnxExport.META_SOURCE, "the ONNX model"));
        JsonNode config;
        try {
            config = new ObjectMapper().readTree(metadata.get(OnnxExport.META_CONFIG));
        } catch (Exception e) {
            throw new ConfigException(where, "metadata " + OnnxExport.META_CONFIG + " is missing or not JSON", "a Manyfold ONNX export");
        }
        this.vocab = config.path("vocab").asInt();
        this.dim = config.path("dim").asInt();
        this.context = config.path("context").asInt();
        this.headDim = config.path("head-dim").asInt();
        int layers = config.path("layers").asInt();
        int heads = config.path("heads").asInt();
        int kv = config.path("kv-heads").asInt();
        if (vocab < 1 || dim < 1 || context < 1 || headDim < 1 || layers < 1 || heads < 1 || kv < 1) {
            throw new ConfigException(where, "model config in metadata lacks vocab, dim, context, head-dim, layers, heads or kv-heads",
                    "a Manyfold ONNX export");
        }
        this.group = heads / kv;
        this.kvHeads = new int[layers];
        JsonNode layerHeads = config.path("layer-heads");
        for (int i = 0; i < layers; i++) {
            kvHeads[i] = (layerHeads.isArray() ? layerHeads.get(i).asInt() : heads) / group;
        }
        this.exits = Arrays.stream(metadata.getOrDefault(OnnxExport.META_EXITS, String.valueOf(layers)).split(","))
                .map(String::trim).map(Integer::valueOf).toList();
        this.eos = Integer.parseInt(metadata.getOrDefault(OnnxExport.META_EOS, "-1"));
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    @Override
    public int vocabularySize() {
        return vocab;
    }

    @Override
    public int contextLength() {
        return context;
    }

    @Override
    public int layers() {
        return kvHeads.length;
    }

    @Override
    public List<Integer> exits() {
        return exits;
    }

    @Override
    public OptionalInt eosToken() {
        return eos < 0 ? OptionalInt.empty() : OptionalInt.of(eos);
    }

    /** Hidden size d. */
    public int dim() {
        return dim;
    }

    @Override
    public InferenceSession open(NDManager manager) {
        return new OrtInferenceSession(this, manager);
    }

    /** True when the source has {@code key}'s graph (or can build it). */
    boolean has(GraphKey key) {
        return sessions.containsKey(key) || source.find(key) != null;
    }

    /** The session of {@code key}, created on first use; refuses a graph the source lacks. */
    OrtSession session(GraphKey key) {
        OrtSession s = sessions.get(key);
        if (s != null) {
            return s;
        }
        synchronized (this) {
            return sessions.computeIfAbsent(key, this::create);
        }
    }

    private OrtSession create(GraphKey key) {
        Object graph = source.find(key);
        if (graph == null) {
            throw new ConfigException(source.describe(key), "the graph for layers [" + key.from() + ", " + key.to() + ") is missing",
                    "an export directory written by manyfold export --format onnx");
        }
        try (OrtSession.SessionOptions o = options(threads)) {
            String profile = System.getProperty("manyfold.onnx.ort-profile");
            if (profile != null) { // ONNX Runtime's own per-node profile, one JSON file per graph
                o.enableProfiling(profile + "-" + key.fileName().replace(".onnx", ""));
            }
            return graph instanceof Path p ? env.createSession(p.toString(), o) : env.createSession((byte[]) graph, o);
        } catch (OrtException e) {
            throw new ConfigException(graph instanceof Path p ? p.toString() : source.describe(key),
                    "ONNX Runtime cannot load it: " + e.getMessage(), "a Manyfold ONNX export");
        }
    }

    static OrtSession.SessionOptions options(int threads) throws OrtException {
        OrtSession.SessionOptions o = new OrtSession.SessionOptions();
        o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
        o.setIntraOpNumThreads(threads);
        o.setInterOpNumThreads(1);
        if (threads > 1) {
            o.addConfigEntry("session.intra_op.allow_spinning", "0");
        }
        return o;
    }

    /** Number of graphs loaded so far (for statistics and tests). */
    public int loadedGraphs() {
        return sessions.size();
    }

    /** Graph keys loaded so far. */
    public List<GraphKey> loadedKeys() {
        return new ArrayList<>(sessions.keySet());
    }

    @Override
    public void close() {
        for (OrtSession s : sessions.values()) {
            try {
                s.close();
            } catch (OrtException e) {
                // closing: nothing to do
            }
        }
        sessions.clear();
    }

    /** A directory of graphs written by {@link OnnxExport}. */
    public static GraphSource directory(Path dir) {
        return new GraphSource() {
            @Override
            public Object find(GraphKey key) {
                Path f = dir.resolve(key.fileName());
                return Files.isRegularFile(f) ? f : null;
            }

            @Override
            public String describe(GraphKey key) {
                return dir.resolve(key.fileName()).toString();
            }
        };
    }
}
