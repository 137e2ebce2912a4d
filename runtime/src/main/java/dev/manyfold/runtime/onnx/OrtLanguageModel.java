package dev.manyfold.runtime.onnx;

import ai.djl.ndarray.NDManager;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.decoder.InferenceSession;
import dev.manyfold.api.decoder.LanguageModel;
import dev.manyfold.runtime.model.BatchedDecoding;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
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
 * with the given intra-op threads ({@link Engines#threads(long, Integer)}) and optimisation level ALL. Thread-safe like ORT sessions are;
 * each decode has its own {@link OrtInferenceSession} holding the KV cache as ORT tensors.
 */
public final class OrtLanguageModel implements LanguageModel, BatchedDecoding, AutoCloseable {
    /** Where the graphs come from. */
    public interface GraphSource {
        /** The graph of {@code key} as a file or serialized bytes, or null when this source lacks it. */
        Object find(GraphKey key);

        /** What a missing graph would have been, for errors. */
        String describe(GraphKey key);

        /**
         * The batched decode-step graph to exit {@code to} ({@link LlamaGraphs#buildBatchStep}) as a
         * file or bytes, or null when this source has none (then the model cannot batch).
         */
        default Object findBatchStep(int to) {
            return null;
        }
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

    /** ONNX Runtime's intra-op threads per graph session (with 2 or more, spinning is off). */
    public int threads() {
        return threads;
    }

    /** How many intra-op threads and why (set by {@link Engines}), e.g. for bench output. */
    String threadsNote;

    /** {@link #threads()} with the reason for that count, e.g. {@code 1 intra-op thread (default for 6.6 MB ...)}. */
    public String threadsNote() {
        return threadsNote != null ? threadsNote : threads + " intra-op thread" + (threads == 1 ? "" : "s");
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
        for (OrtSession s : batchSessions.values()) {
            try {
                s.close();
            } catch (OrtException e) {
                // closing: nothing to do
            }
        }
        batchSessions.clear();
    }

    /** The batched step graphs by exit, created on first use. */
    private final Map<Integer, OrtSession> batchSessions = new ConcurrentHashMap<>();
    private volatile Boolean canBatch;
    /** Per layer, the keys and values of a batched step's rows ({@code [B, kv, capacity, hd]}), grown on demand; used under this object's monitor. */
    private FloatBuffer[] batchKeys;
    private FloatBuffer[] batchValues;

    /** True when the source has the batched decode-step graph of the full model (or can build it). */
    @Override
    public boolean canBatch() {
        if (canBatch == null) {
            canBatch = batchSessions.containsKey(layers()) || source.findBatchStep(layers()) != null;
        }
        return canBatch;
    }

    /** A lone session's step is its own step graph, which costs the same on its own thread. */
    @Override
    public boolean loneStepOnCallerThread() {
        return true;
    }

    @Override
    public boolean batchable(InferenceSession session) {
        return session instanceof OrtInferenceSession s && s.model() == this && canBatch();
    }

    /**
     * One decode step of each session as one run of the batched step graph to exit {@code to}
     * (a single row takes the session's own step graph instead). The batch buffer holds, per
     * layer, one row {@code [kv, context, hd]} per session: a session keeps its row from step
     * to step, so a row's cache is copied in from the session's buffers only when the session
     * is new to the batch, moved rows, or ran a graph of its own since (then only the positions
     * the row lacks, or all of them). The graph appends each row's new key and value at the
     * row's own position ({@code seqlens_k}); those are copied back to the session, whose
     * buffers stay its cache.
     */
    @Override
    public synchronized float[][] forwardBatch(List<? extends InferenceSession> sessions, int[] tokens, int[] starts, int to,
            NDManager manager) {
        int n = sessions.size();
        if (n < 1 || tokens.length != n || starts.length != n) {
            throw new IllegalArgumentException(n + " sessions, " + tokens.length + " tokens and " + starts.length + " positions do not match");
        }
        if (to < 1 || to > layers()) {
            throw new IllegalArgumentException("exit " + to + " is outside the model's layers [1, " + layers() + "]");
        }
        OrtInferenceSession[] rows = new OrtInferenceSession[n];
        int positions = 0;
        for (int r = 0; r < n; r++) {
            if (!batchable(sessions.get(r))) {
                throw new IllegalArgumentException("row " + r + ": the session cannot take part in a batched step of this model");
            }
            rows[r] = (OrtInferenceSession) sessions.get(r);
            for (int q = 0; q < r; q++) {
                if (rows[q] == rows[r]) {
                    throw new IllegalArgumentException("rows " + q + " and " + r + " are the same session");
                }
            }
            if (n > 1) {
                rows[r].beforeBatchStep(tokens[r], starts[r], to);
            }
            positions = Math.max(positions, starts[r] + 1);
        }
        if (n == 1) { // alone: the session's own (unbatched) step
            return new float[][] {rows[0].forward(new int[] {tokens[0]}, starts[0], to, manager)};
        }
        int[] slot = placeRows(rows);
        int hd = LlamaGraphs.paddedHeadDim(headDim);
        OrtSession graph = batchSession(to);
        List<OnnxTensor> made = new ArrayList<>();
        try {
            Map<String, OnnxTensor> in = new java.util.HashMap<>();
            Map<String, OnnxTensor> pinned = new java.util.HashMap<>();
            LongBuffer t = ByteBuffer.allocateDirect(n * Long.BYTES).order(ByteOrder.nativeOrder()).asLongBuffer();
            IntBuffer lengths = ByteBuffer.allocateDirect(n * Integer.BYTES).order(ByteOrder.nativeOrder()).asIntBuffer();
            for (int r = 0; r < n; r++) {
                t.put(slot[r], tokens[r]);
                lengths.put(slot[r], starts[r]);
            }
            IntBuffer total = ByteBuffer.allocateDirect(Integer.BYTES).order(ByteOrder.nativeOrder()).asIntBuffer().put(0, positions);
            in.put("tokens", track(made, OnnxTensor.createTensor(env, t, new long[] {n, 1})));
            in.put("seqlens_k", track(made, OnnxTensor.createTensor(env, lengths, new long[] {n})));
            in.put("total_sequence_length", track(made, OnnxTensor.createTensor(env, total, new long[0])));
            for (int i = 0; i < to; i++) {
                int kv = kvHeads[i];
                int row = kv * context * hd;
                if (batchKeys[i] == null || batchKeys[i].capacity() < n * row) {
                    FloatBuffer k = direct(Math.max(n, 2 * rowOwners.length) * row);
                    FloatBuffer v = direct(Math.max(n, 2 * rowOwners.length) * row);
                    if (batchKeys[i] != null) {
                        k.put(0, batchKeys[i], 0, batchKeys[i].capacity());
                        v.put(0, batchValues[i], 0, batchValues[i].capacity());
                    }
                    batchKeys[i] = k;
                    batchValues[i] = v;
                }
                for (int r = 0; r < n; r++) {
                    int held = rows[r].batchHeld[i];
                    if (held < starts[r]) { // copy the positions the row lacks
                        for (int h = 0; h < kv; h++) {
                            int from = h * context * hd + held * hd;
                            int at = slot[r] * row + h * context * hd + held * hd;
                            batchKeys[i].put(at, rows[r].cacheBuffer(i, false), from, (starts[r] - held) * hd);
                            batchValues[i].put(at, rows[r].cacheBuffer(i, true), from, (starts[r] - held) * hd);
                        }
                    }
                }
                long[] shape = {n, kv, context, hd};
                FloatBuffer k = batchKeys[i].duplicate().position(0).limit(n * row).slice();
                FloatBuffer v = batchValues[i].duplicate().position(0).limit(n * row).slice();
                in.put("past_key_" + i, track(made, OnnxTensor.createTensor(env, k, shape)));
                in.put("past_value_" + i, track(made, OnnxTensor.createTensor(env, v, shape)));
                pinned.put("present_key_" + i, track(made, OnnxTensor.createTensor(env, k, shape)));
                pinned.put("present_value_" + i, track(made, OnnxTensor.createTensor(env, v, shape)));
            }
            float[][] logits = new float[n][vocab];
            try (OrtSession.Result result = graph.run(in, java.util.Set.of("logits"), pinned)) {
                FloatBuffer out = ((OnnxTensor) result.get("logits").orElseThrow()).getFloatBuffer();
                for (int r = 0; r < n; r++) {
                    out.get(slot[r] * vocab, logits[r]);
                }
            }
            for (int i = 0; i < to; i++) {
                int kv = kvHeads[i];
                for (int r = 0; r < n; r++) {
                    for (int h = 0; h < kv; h++) {
                        int into = h * context * hd + starts[r] * hd;
                        int at = slot[r] * kv * context * hd + into;
                        rows[r].cacheBuffer(i, false).put(into, batchKeys[i], at, hd);
                        rows[r].cacheBuffer(i, true).put(into, batchValues[i], at, hd);
                    }
                    rows[r].batchHeld[i] = starts[r] + 1;
                }
            }
            for (int r = 0; r < n; r++) {
                rows[r].afterBatchStep(starts[r], to);
                rows[r].batchWrites = rows[r].writes;
            }
            return logits;
        } catch (OrtException e) {
            for (OrtInferenceSession s : rows) {
                s.batchRow = -1; // the buffer's rows are unknown now
            }
            throw new IllegalStateException("ONNX Runtime failed on " + LlamaGraphs.batchStepFileName(to) + ": " + e.getMessage(), e);
        } finally {
            made.forEach(OnnxTensor::close);
        }
    }

    /** The session each row of the batch buffer holds a copy of (or null). */
    private OrtInferenceSession[] rowOwners = new OrtInferenceSession[0];

    /**
     * Assigns each session a row of the batch buffer in {@code [0, n)}: the row it already holds
     * when that is below {@code n}, otherwise a free one (whose holdings are then forgotten).
     * A session whose cache changed since its row was filled, or that is new to its row, holds
     * nothing in it.
     */
    private int[] placeRows(OrtInferenceSession[] rows) {
        int n = rows.length;
        if (batchKeys == null) {
            batchKeys = new FloatBuffer[layers()];
            batchValues = new FloatBuffer[layers()];
        }
        if (rowOwners.length < n) {
            rowOwners = Arrays.copyOf(rowOwners, n);
        }
        int[] slot = new int[n];
        boolean[] taken = new boolean[n];
        for (int r = 0; r < n; r++) {
            OrtInferenceSession s = rows[r];
            if (s.batchHeld == null) {
                s.batchHeld = new int[layers()];
            }
            boolean kept = s.batchRow >= 0 && s.batchRow < n && rowOwners[s.batchRow] == s && !taken[s.batchRow];
            slot[r] = kept ? s.batchRow : -1;
            if (kept) {
                taken[s.batchRow] = true;
                if (s.batchWrites != s.writes) {
                    Arrays.fill(s.batchHeld, 0);
                }
            }
        }
        int free = 0;
        for (int r = 0; r < n; r++) {
            if (slot[r] < 0) {
                while (taken[free]) {
                    free++;
                }
                taken[free] = true;
                slot[r] = free;
                OrtInferenceSession previous = rowOwners[free];
                if (previous != null && previous != rows[r]) {
                    previous.batchRow = -1;
                }
                rowOwners[free] = rows[r];
                rows[r].batchRow = free;
                Arrays.fill(rows[r].batchHeld, 0);
            }
        }
        return slot;
    }

    private static OnnxTensor track(List<OnnxTensor> made, OnnxTensor t) {
        made.add(t);
        return t;
    }

    private static FloatBuffer direct(int floats) {
        return ByteBuffer.allocateDirect(floats * Float.BYTES).order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    /** The batched step graph's session to exit {@code to}, created on first use. */
    private OrtSession batchSession(int to) {
        OrtSession s = batchSessions.get(to);
        if (s != null) {
            return s;
        }
        Object graph = source.findBatchStep(to);
        if (graph == null) {
            throw new IllegalStateException("the source has no batched step graph " + LlamaGraphs.batchStepFileName(to));
        }
        try (OrtSession.SessionOptions o = options(threads)) {
            s = graph instanceof Path p ? env.createSession(p.toString(), o) : env.createSession((byte[]) graph, o);
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime cannot load " + LlamaGraphs.batchStepFileName(to) + ": " + e.getMessage(), e);
        }
        batchSessions.put(to, s);
        return s;
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

            @Override
            public Object findBatchStep(int to) {
                Path f = dir.resolve(LlamaGraphs.batchStepFileName(to));
                return Files.isRegularFile(f) ? f : null;
            }
        };
    }
}
