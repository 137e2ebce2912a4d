package dev.manyfold.runtime.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.manyfold.api.decoder.InferenceSession;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One decode on an {@link OrtLanguageModel}. The KV cache of each layer is pre-allocated for
 * the whole context in two direct buffers (keys and values, {@code [1, kv, context, hd]})
 * owned by the session; every graph reads them as its {@code past_*} inputs and writes its
 * {@code present_*} outputs, pinned, into the same buffers, so a step writes only its own rows
 * (ORT's {@code GroupQueryAttention} with a shared past/present buffer) and how many positions
 * are valid is an input. Nothing is allocated or copied per step, and a crop is free: it only
 * lowers the valid length. The fused calls ({@link #forward}, {@link #forwardKeeping},
 * {@link #runLogits}) are one graph run each; the NDArray calls copy hidden states between
 * DJL and ORT. A layer range without its own graph is run as a chain of per-layer graphs.
 */
final class OrtInferenceSession implements InferenceSession {
    /** A graph run's outputs other than the cache (which is written into this session's buffers); close to release them. */
    private static final class Outputs implements AutoCloseable {
        final OrtSession.Result result;

        Outputs(OrtSession.Result result) {
            this.result = result;
        }

        float[] floats(String name) {
            return copy(((OnnxTensor) result.get(name).orElseThrow(() -> new IllegalStateException("graph has no output " + name)))
                    .getFloatBuffer());
        }

        @Override
        public void close() {
            result.close();
        }
    }

    /**
     * {@code -Dmanyfold.onnx.profile=true}: the CPU time of the calling thread spent inside
     * {@code OrtSession.run} is summed and printed to stderr at exit, to split a decoder's CPU
     * per token between ONNX Runtime and the Java around it (docs/results.md).
     */
    private static final boolean PROFILE = Boolean.getBoolean("manyfold.onnx.profile");
    private static final java.lang.management.ThreadMXBean THREAD = java.lang.management.ManagementFactory.getThreadMXBean();
    private static final java.util.concurrent.atomic.LongAdder RUN_NANOS = new java.util.concurrent.atomic.LongAdder();
    private static final java.util.concurrent.atomic.LongAdder RUNS = new java.util.concurrent.atomic.LongAdder();
    /** Per graph file (and, for multi-position graphs, positions per call): {calls, CPU nanoseconds}. */
    private static final Map<String, long[]> BY_GRAPH = new java.util.concurrent.ConcurrentHashMap<>();

    static {
        if (PROFILE) {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                System.err.printf("onnx profile: %d session.run calls, %.1f ms CPU inside them%n", RUNS.sum(), RUN_NANOS.sum() / 1e6);
                new java.util.TreeMap<>(BY_GRAPH).forEach((graph, t) -> System.err.printf("  %s: %d calls, %.1f us CPU per call%n", graph,
                        t[0], t[1] / 1e3 / Math.max(1, t[0])));
            }));
        }
    }

    private final OrtLanguageModel m;
    private final int layers;
    /** The graphs' (padded) head size. */
    private final int hd;
    /** Per layer, the pre-allocated key and value buffers ({@code [1, kv, context, hd]}), or null before first use. */
    private final FloatBuffer[] keyBuffers;
    private final FloatBuffer[] valueBuffers;
    /** Per layer, {past key, past value, present key, present value}: tensors over the layer's two buffers. */
    private final OnnxTensor[][] cache;
    private final int[] cached;
    /** Per graph, its inputs and pinned outputs with this session's cache tensors bound, and the outputs ORT allocates. */
    private final Map<GraphKey, Binding> bindings = new HashMap<>();

    private record Binding(Map<String, OnnxTensor> inputs, Map<String, OnnxTensor> pinned, Set<String> requested) {}

    /** A draft graph's presents of steps after the first: {@code present_key_3_s2}. */
    private static final java.util.regex.Pattern DRAFT_PRESENT = java.util.regex.Pattern.compile("present_(key|value)_(\\d+)_s\\d+");
    /** Tensors over the cache buffers pinned as those presents; closed with the session. */
    private final List<OnnxTensor> stepPresents = new ArrayList<>();

    OrtInferenceSession(OrtLanguageModel model, NDManager manager) {
        this.m = model;
        this.layers = model.layers();
        this.hd = LlamaGraphs.paddedHeadDim(model.headDim);
        this.keyBuffers = new FloatBuffer[layers];
        this.valueBuffers = new FloatBuffer[layers];
        this.cache = new OnnxTensor[layers][];
        this.cached = new int[layers];
    }

    @Override
    public int cachedLength(int layer) {
        settle();
        return cached[layer];
    }

    @Override
    public NDArray embed(int[] tokens, int start, NDManager manager) {
        settle();
        checkPositions(start, tokens.length);
        try (Outputs o = exec(new GraphKey(0, 0, true, false, true, false), tokensTensor(tokens), start, tokens.length)) {
            return manager.create(o.floats("hidden_out"), new Shape(tokens.length, m.dim));
        }
    }

    @Override
    public NDArray run(NDArray hidden, int from, int to, int start, NDManager manager) {
        settle();
        int n = rows(hidden);
        checkPositions(start, n);
        if (from == to) {
            return hidden.duplicate();
        }
        float[] h = runHidden(hidden.toFloatArray(), n, from, to, start);
        return manager.create(h, new Shape(n, m.dim));
    }

    @Override
    public NDArray logits(NDArray hidden, NDManager manager) {
        settle();
        int n = rows(hidden);
        try (Outputs o = exec(new GraphKey(0, 0, false, true, false, false), hiddenTensor(hidden.toFloatArray(), n), 0, n)) {
            return manager.create(o.floats("logits"), new Shape(n, m.vocab));
        }
    }

    @Override
    public float[] forward(int[] tokens, int start, int to, NDManager manager) {
        settle();
        return forwardKeeping(tokens, start, to, true, manager, false).logits();
    }

    @Override
    public Forward forwardKeeping(int[] tokens, int start, int to, boolean logits, NDManager manager) {
        settle();
        return forwardKeeping(tokens, start, to, logits, manager, true);
    }

    private Forward forwardKeeping(int[] tokens, int start, int to, boolean logits, NDManager manager, boolean keep) {
        float[][] r = fused(tokens, start, to, logits, keep);
        return new Forward(keep ? manager.create(r[0], new Shape(tokens.length, m.dim)) : null, r[1]);
    }

    /** Embedding and layers {@code [0, to)} in one call when a fused graph exists: {hidden [n·d] or null, last logits [V] or null}. */
    private float[][] fused(int[] tokens, int start, int to, boolean logits, boolean keep) {
        int n = tokens.length;
        checkPositions(start, n);
        boolean step = n == 1;
        GraphKey key = first(new GraphKey(0, to, true, true, keep, step), new GraphKey(0, to, true, true, true, step),
                new GraphKey(0, to, true, true, keep, false), new GraphKey(0, to, true, true, true, false));
        if (key == null || to == 0) {
            // No fused graph: embedding, layer chain, head.
            float[] h;
            try (Outputs o = exec(new GraphKey(0, 0, true, false, true, false), tokensTensor(tokens), start, n)) {
                h = o.floats("hidden_out");
            }
            h = runHidden(h, n, 0, to, start);
            float[] last = java.util.Arrays.copyOfRange(h, (n - 1) * m.dim, n * m.dim);
            return new float[][] {keep ? h : null, logits ? headLogits(last, 1) : null};
        }
        try (Outputs o = exec(key, tokensTensor(tokens), start, n)) {
            float[] z = null;
            if (logits) {
                float[] all = o.floats("logits");
                z = n == 1 ? all : java.util.Arrays.copyOfRange(all, (n - 1) * m.vocab, n * m.vocab);
            }
            return new float[][] {keep ? o.floats("hidden_out") : null, z};
        }
    }

    @Override
    public Forward runForward(NDArray hidden, int from, int to, int start, boolean logits, NDManager manager) {
        settle();
        int n = rows(hidden);
        float[][] r = layers(hidden.toFloatArray(), n, from, to, start, logits);
        return new Forward(manager.create(r[0], new Shape(n, m.dim)), r[1]);
    }

    @Override
    public Floats forwardFloats(int[] tokens, int start, int to, boolean logits, NDManager manager) {
        settle();
        float[][] r = fused(tokens, start, to, logits, true);
        return new Floats(r[0], r[1]);
    }

    @Override
    public Floats runFloats(float[] hidden, int rows, int from, int to, int start, boolean logits, NDManager manager) {
        settle();
        if (rows < 1 || hidden.length != rows * m.dim) {
            throw new IllegalArgumentException(hidden.length + " floats are not " + rows + " hidden states of " + m.dim);
        }
        float[][] r = layers(hidden, rows, from, to, start, logits);
        return new Floats(r[0], r[1]);
    }

    /** Layers {@code [from, to)} over {@code hidden [n·d]} in one call when a graph exists: {hidden [n·d], last logits [V] or null}. */
    private float[][] layers(float[] hidden, int n, int from, int to, int start, boolean logits) {
        checkPositions(start, n);
        boolean step = n == 1;
        GraphKey key = from == to ? null : first(new GraphKey(from, to, false, logits, true, step), new GraphKey(from, to, false, true, true, step),
                new GraphKey(from, to, false, logits, true, false), new GraphKey(from, to, false, true, true, false));
        if (key == null) {
            float[] h = runHidden(hidden, n, from, to, start);
            float[] z = logits ? headLogits(java.util.Arrays.copyOfRange(h, (n - 1) * m.dim, n * m.dim), 1) : null;
            return new float[][] {h, z};
        }
        try (Outputs o = exec(key, hiddenTensor(hidden, n), start, n)) {
            float[] z = null;
            if (logits) {
                float[] all = o.floats("logits");
                z = n == 1 ? all : java.util.Arrays.copyOfRange(all, (n - 1) * m.vocab, n * m.vocab);
            }
            return new float[][] {o.floats("hidden_out"), z};
        }
    }

    @Override
    public float[] runLogits(NDArray hidden, int from, int to, int start, NDManager manager) {
        settle();
        int n = rows(hidden);
        return runLogits(hidden.toFloatArray(), n, from, to, start);
    }

    private float[] runLogits(float[] hidden, int n, int from, int to, int start) {
        checkPositions(start, n);
        GraphKey key = first(new GraphKey(from, to, false, true, false, n == 1), new GraphKey(from, to, false, true, false, false));
        if (key == null || from == to) {
            return headLogits(runHidden(hidden, n, from, to, start), n);
        }
        try (Outputs o = exec(key, hiddenTensor(hidden, n), start, n)) {
            return o.floats("logits");
        }
    }

    /**
     * A draft whose hidden states are kept as floats here and go to ORT once, for verification:
     * no NDArray per drafted token. A last drafted token whose logits are not wanted is not run
     * on its own: verification runs it through the draft layers in the same call (a
     * {@link GraphKey#tail()} graph), when the source has that graph. Any other use of the
     * session before {@code verify} runs the deferred token first.
     */
    @Override
    public Draft draft(int exit, NDManager manager) {
        settle();
        OrtDraft d = new OrtDraft(exit);
        open = d;
        return d;
    }

    /** The open draft, whose last token may still have to be run through the draft layers. */
    private OrtDraft open;

    /**
     * {@code -Dmanyfold.onnx.draft-graphs=false}: draft one call per token, as before the draft
     * graphs (for A/B measurements; the output is the same).
     */
    private static final boolean DRAFT_GRAPHS = !"false".equals(System.getProperty("manyfold.onnx.draft-graphs"));

    /** Steps per call of a greedy draft: the draft graphs built, so that adaptive K reuses a few graphs. */
    private static final int[] CHUNKS = {8, 6, 4, 3, 2};

    /**
     * The largest draft graph at {@code exit} the source has for {@code remaining} steps, or 1:
     * a single step (always with a draft confidence).
     */
    private int chunk(int exit, int remaining, double confidence) {
        if (!DRAFT_GRAPHS) {
            return 1;
        }
        if (confidence > 0) {
            // A draft confidence stops drafting at an unknown step, and every step of a chunk past it is wasted: measured on
            // deep-soft2 (draft 3, k 16, confidence 0.4, 2.5 drafts per round), chunks of 4 cost 1.25x greedy's speed-up
            // against 1.39x one call per draft (docs/results.md, "fewer calls per token").
            return 1;
        }
        int cap = remaining;
        for (int c : CHUNKS) {
            if (c <= cap && m.has(GraphKey.draft(exit, c))) {
                return c;
            }
        }
        return 1;
    }

    /** Runs a draft's deferred token (if any) so that the cache is what the plain SPI calls expect. */
    private void settle() {
        if (open != null) {
            open.settle();
        }
    }

    private final class OrtDraft implements Draft {
        private final int exit;
        private float[] kept = new float[8 * m.dim];
        private int size;
        private int start;
        /** A drafted token not yet run (its logits were not asked for), or -1. */
        private int deferred = -1;

        OrtDraft(int exit) {
            this.exit = exit;
        }

        @Override
        public float[] step(int token, int position, boolean logits) {
            settle();
            if (size == 0) {
                start = position;
            } else if (position != start + size) {
                throw new IllegalArgumentException("draft position " + position + " does not follow the kept positions "
                        + start + ".." + (start + size - 1));
            }
            if (!logits && size > 0 && m.has(new GraphKey(exit, layers, true, true, false, false))) {
                checkPositions(position, 1);
                if (token < 0 || token >= m.vocab) {
                    throw new IllegalArgumentException("token " + token + " is outside the vocabulary [0, " + m.vocab + ")");
                }
                deferred = token;
                size++;
                return null;
            }
            run(token, position, logits);
            return last;
        }

        private float[] last;

        private void run(int token, int position, boolean logits) {
            float[][] r = fused(new int[] {token}, position, exit, logits, true);
            if ((size + 1) * m.dim > kept.length) {
                kept = java.util.Arrays.copyOf(kept, 2 * kept.length);
            }
            System.arraycopy(r[0], 0, kept, size * m.dim, m.dim);
            size++;
            last = r[1];
        }

        /** Runs the deferred token through the draft layers like any drafted token. */
        void settle() {
            if (deferred >= 0) {
                int token = deferred;
                deferred = -1;
                size--;
                open = null; // fused() must not settle again
                run(token, start + size, false);
                open = this;
            }
        }

        @Override
        public int size() {
            return size;
        }

        /**
         * Drafts in chunks of {@link #chunk} steps, each one call of a draft graph
         * ({@link GraphKey#draft}; a single step where no chunk fits), then drops the positions
         * the step loop would not have run (their cache rows fall beyond the valid length, their
         * hidden states are not kept). With a draft confidence, or when positions are already
         * kept or the source lacks the graphs, the step loop.
         */
        @Override
        public int[] greedy(int token, int position, int count, double confidence, int stop) {
            if (size > 0 || count < 2 || position < 0 || position + count > m.context || chunk(exit, count, confidence) < 2) {
                return Draft.super.greedy(token, position, count, confidence, stop);
            }
            settle();
            start = position;
            int[] out = new int[count];
            int drafted = 0;
            int current = token;
            boolean stopped = false;
            while (drafted < count && !stopped) {
                int at = position + size;
                int chunk = chunk(exit, count - drafted, confidence);
                float[] logits;
                float[] hidden;
                if (chunk >= 2) {
                    try (Outputs o = exec(GraphKey.draft(exit, chunk), tokensTensor(new int[] {current}), at, chunk)) {
                        logits = o.floats("logits");
                        hidden = o.floats("hidden_out");
                    }
                } else {
                    chunk = 1;
                    float[][] r = fused(new int[] {current}, at, exit, true, true);
                    hidden = r[0];
                    logits = r[1];
                }
                int keep = chunk;
                for (int j = 0; j < chunk; j++) {
                    int t = Draft.draftToken(logits, j * m.vocab, m.vocab, confidence);
                    if (t >= 0) {
                        out[drafted++] = t;
                        current = t;
                    }
                    if (t < 0 || t == stop) {
                        keep = j + 1;
                        stopped = true;
                        break;
                    }
                }
                for (int i = 0; i < exit; i++) {
                    cached[i] = at + keep;
                }
                if ((size + keep) * m.dim > kept.length) {
                    kept = java.util.Arrays.copyOf(kept, 2 * (size + keep) * m.dim);
                }
                System.arraycopy(hidden, 0, kept, size * m.dim, keep * m.dim);
                size += keep;
            }
            return java.util.Arrays.copyOf(out, drafted);
        }

        @Override
        public float[] verify(int to) {
            if (size == 0) {
                throw new IllegalStateException("nothing drafted to verify");
            }
            float[] logits;
            if (deferred >= 0 && to == layers) {
                GraphKey key = new GraphKey(exit, layers, true, true, false, false);
                try (Outputs o = exec(key, tokensTensor(new int[] {deferred}), hiddenTensor(java.util.Arrays.copyOf(kept, (size - 1) * m.dim), size - 1),
                        start, size)) {
                    logits = o.floats("logits");
                }
                deferred = -1;
            } else {
                settle();
                logits = runLogits(java.util.Arrays.copyOf(kept, size * m.dim), size, exit, to, start);
            }
            size = 0;
            open = null;
            return logits;
        }
    }

    /** Logits {@code [n·V]} of every position of {@code tokens} at exit {@code to}, from an empty cache (teacher-forced evaluation). */
    float[] prefillLogits(int[] tokens, int to) {
        checkPositions(0, tokens.length);
        try (Outputs o = exec(new GraphKey(0, to, true, true, false, false), tokensTensor(tokens), 0, tokens.length)) {
            return o.floats("logits");
        }
    }

    private float[] headLogits(float[] hidden, int n) {
        try (Outputs o = exec(new GraphKey(0, 0, false, true, false, false), hiddenTensor(hidden, n), 0, n)) {
            return o.floats("logits");
        }
    }

    /** Layers {@code [from, to)} over {@code h [n, d]}: their own graph if the source has it, else a chain of per-layer graphs. */
    private float[] runHidden(float[] h, int n, int from, int to, int start) {
        if (from == to) {
            return h;
        }
        // A graph with logits also returns the hidden states (an export's early-exit segments): one call rather than a chain.
        GraphKey key = first(new GraphKey(from, to, false, false, true, n == 1), new GraphKey(from, to, false, false, true, false),
                new GraphKey(from, to, false, true, true, n == 1), new GraphKey(from, to, false, true, true, false));
        if (key == null && to - from > 1) {
            for (int i = from; i < to; i++) {
                h = runHidden(h, n, i, i + 1, start);
            }
            return h;
        }
        if (key == null) {
            key = new GraphKey(from, to, false, false, true, false); // missing: session() names the file
        }
        try (Outputs o = exec(key, hiddenTensor(h, n), start, n)) {
            return o.floats("hidden_out");
        }
    }

    private GraphKey first(GraphKey... candidates) {
        for (GraphKey k : candidates) {
            if (m.has(k)) {
                return k;
            }
        }
        return null;
    }

    /**
     * Runs {@code key}'s graph; the input tensor is closed here. Each of its layers reads and
     * writes its cache in place in this session's buffers (past and present are the same
     * memory); {@code seqlens_k} and {@code total_sequence_length} say which positions are valid.
     */
    private Outputs exec(GraphKey key, OnnxTensor input, int start, int n) {
        return key.tokens() ? exec(key, input, null, start, n) : exec(key, null, input, start, n);
    }

    /**
     * As {@link #exec(GraphKey, OnnxTensor, int, int)} with the {@code tokens} and/or
     * {@code hidden} input (a {@link GraphKey#tail()} graph takes both: {@code n - 1} hidden
     * states and one token, whose draft layers already cache {@code start + n - 1} positions).
     */
    private Outputs exec(GraphKey key, OnnxTensor tokens, OnnxTensor hidden, int start, int n) {
        OrtSession session = m.session(key);
        List<OnnxTensor> made = new ArrayList<>(4);
        if (tokens != null) {
            made.add(tokens);
        }
        if (hidden != null) {
            made.add(hidden);
        }
        try {
            Binding b = bind(key, session);
            if (tokens != null) {
                b.inputs().put("tokens", tokens);
            }
            if (hidden != null) {
                b.inputs().put("hidden", hidden);
            }
            if (key.tail()) {
                for (int i = 0; i < key.from(); i++) {
                    if (cached[i] != start + n - 1) {
                        throw new IllegalStateException("layer " + i + " caches " + cached[i] + " positions, expected " + (start + n - 1));
                    }
                }
            }
            if (key.hasLayers()) {
                for (int i = key.from(); i < key.to(); i++) {
                    if (cached[i] != start) {
                        throw new IllegalStateException("layer " + i + " caches " + cached[i] + " positions, expected " + start);
                    }
                }
                if (seqlensTensor == null) {
                    seqlensTensor = OnnxTensor.createTensor(m.env, seqlensBuffer, new long[] {1});
                    totalTensor = OnnxTensor.createTensor(m.env, totalBuffer, new long[0]);
                }
                // A draft graph takes its first step's position; the graph adds each later step's offset.
                int last = key.drafts() > 0 ? start : start + n - 1;
                seqlensBuffer.put(0, last);
                totalBuffer.put(0, last + 1);
                b.inputs().put("seqlens_k", seqlensTensor);
                b.inputs().put("total_sequence_length", totalTensor);
            }
            long t0 = PROFILE ? THREAD.getCurrentThreadCpuTime() : 0;
            OrtSession.Result r = session.run(b.inputs(), b.requested(), b.pinned());
            if (PROFILE) {
                long spent = THREAD.getCurrentThreadCpuTime() - t0;
                RUN_NANOS.add(spent);
                RUNS.increment();
                long[] t = BY_GRAPH.computeIfAbsent(key.fileName() + (key.step() ? "" : " n=" + n), g -> new long[2]);
                synchronized (t) {
                    t[0]++;
                    t[1] += spent;
                }
            }
            for (int i = key.tail() ? 0 : key.from(); i < key.to(); i++) {
                cached[i] = start + n;
            }
            writes++;
            return new Outputs(r);
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime failed on " + key.fileName() + ": " + e.getMessage(), e);
        } finally {
            for (OnnxTensor t : made) {
                t.close();
            }
        }
    }

    /** {@code key}'s inputs and pinned outputs with this session's cache tensors, built once per graph. */
    private Binding bind(GraphKey key, OrtSession session) throws OrtException {
        Binding b = bindings.get(key);
        if (b == null) {
            Map<String, OnnxTensor> in = new HashMap<>();
            Map<String, OnnxTensor> pinned = new HashMap<>();
            for (int i = key.tail() ? 0 : key.from(); i < key.to(); i++) {
                OnnxTensor[] c = cacheTensors(i);
                in.put("past_key_" + i, c[0]);
                in.put("past_value_" + i, c[1]);
                pinned.put("present_key_" + i, c[2]);
                pinned.put("present_value_" + i, c[3]);
            }
            Set<String> requested = new LinkedHashSet<>(session.getOutputNames());
            for (String out : session.getOutputNames()) {
                // A draft graph's later steps: more presents over the same buffers (see LlamaGraphs#buildDraft).
                java.util.regex.Matcher step = DRAFT_PRESENT.matcher(out);
                if (step.matches()) {
                    int layer = Integer.parseInt(step.group(2));
                    cacheTensors(layer);
                    FloatBuffer buffer = step.group(1).equals("key") ? keyBuffers[layer] : valueBuffers[layer];
                    OnnxTensor t = OnnxTensor.createTensor(m.env, buffer, new long[] {1, m.kvHeads[layer], m.context, hd});
                    stepPresents.add(t);
                    pinned.put(out, t);
                }
            }
            requested.removeAll(pinned.keySet());
            b = new Binding(in, pinned, requested);
            bindings.put(key, b);
        }
        return b;
    }

    /** Layer {@code layer}'s cache tensors {past key, past value, present key, present value}, allocated on first use (zero-copy over direct buffers). */
    private OnnxTensor[] cacheTensors(int layer) throws OrtException {
        if (cache[layer] == null) {
            int floats = m.kvHeads[layer] * m.context * hd;
            keyBuffers[layer] = direct(floats);
            valueBuffers[layer] = direct(floats);
            long[] shape = {1, m.kvHeads[layer], m.context, hd};
            cache[layer] = new OnnxTensor[] {OnnxTensor.createTensor(m.env, keyBuffers[layer], shape),
                    OnnxTensor.createTensor(m.env, valueBuffers[layer], shape), OnnxTensor.createTensor(m.env, keyBuffers[layer], shape),
                    OnnxTensor.createTensor(m.env, valueBuffers[layer], shape)};
        }
        return cache[layer];
    }

    /**
     * Before a batched step ({@link OrtLanguageModel#forwardBatch}) of {@code token} at
     * {@code start} through layers {@code [0, to)}: settles a draft, checks the position, the
     * token and that each of those layers caches exactly {@code start} positions, and
     * allocates their buffers.
     */
    void beforeBatchStep(int token, int start, int to) {
        settle();
        checkPositions(start, 1);
        if (token < 0 || token >= m.vocab) {
            throw new IllegalArgumentException("token " + token + " is outside the vocabulary [0, " + m.vocab + ")");
        }
        try {
            for (int i = 0; i < to; i++) {
                if (cached[i] != start) {
                    throw new IllegalStateException("layer " + i + " caches " + cached[i] + " positions, expected " + start);
                }
                cacheTensors(i);
            }
        } catch (OrtException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Layer {@code layer}'s key ({@code value} false) or value buffer, {@code [1, kv, context, hd]}. */
    FloatBuffer cacheBuffer(int layer, boolean value) {
        return value ? valueBuffers[layer] : keyBuffers[layer];
    }

    /** After a batched step wrote position {@code start} of layers {@code [0, to)} into this session's buffers. */
    void afterBatchStep(int start, int to) {
        for (int i = 0; i < to; i++) {
            cached[i] = start + 1;
        }
    }

    /** Graph runs that wrote this session's cache: a batch buffer's copy of it is stale when this moved. */
    int writes;
    /**
     * Where {@link OrtLanguageModel#forwardBatch} last kept a copy of this session's cache: the
     * batch buffer's row (-1: none), per layer how many positions it holds, and {@link #writes}
     * then. Used under the model's monitor.
     */
    int batchRow = -1;
    int[] batchHeld;
    int batchWrites;

    /** The model this session decodes on. */
    OrtLanguageModel model() {
        return m;
    }

    private static FloatBuffer direct(int floats) {
        return ByteBuffer.allocateDirect(floats * Float.BYTES).order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    /** Direct buffers behind the input tensors, reused by every call (tensors over direct buffers are zero-copy). */
    private LongBuffer tokenBuffer = ByteBuffer.allocateDirect(8 * Long.BYTES).order(ByteOrder.nativeOrder()).asLongBuffer();
    private FloatBuffer hiddenBuffer = direct(8 * 128);
    /** {@code seqlens_k} and {@code total_sequence_length}: tensors created once over direct buffers written before each run. */
    private final IntBuffer seqlensBuffer = ByteBuffer.allocateDirect(Integer.BYTES).order(ByteOrder.nativeOrder()).asIntBuffer();
    private final IntBuffer totalBuffer = ByteBuffer.allocateDirect(Integer.BYTES).order(ByteOrder.nativeOrder()).asIntBuffer();
    private OnnxTensor seqlensTensor;
    private OnnxTensor totalTensor;

    private OnnxTensor tokensTensor(int[] tokens) {
        if (tokenBuffer.capacity() < tokens.length) {
            tokenBuffer = ByteBuffer.allocateDirect(2 * tokens.length * Long.BYTES).order(ByteOrder.nativeOrder()).asLongBuffer();
        }
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= m.vocab) {
                throw new IllegalArgumentException("token " + tokens[i] + " is outside the vocabulary [0, " + m.vocab + ")");
            }
            tokenBuffer.put(i, tokens[i]);
        }
        try {
            return OnnxTensor.createTensor(m.env, tokenBuffer.duplicate().position(0).limit(tokens.length).slice(), new long[] {1, tokens.length});
        } catch (OrtException e) {
            throw new IllegalStateException(e);
        }
    }

    private OnnxTensor hiddenTensor(float[] h, int n) {
        if (hiddenBuffer.capacity() < h.length) {
            hiddenBuffer = direct(2 * h.length);
        }
        hiddenBuffer.put(0, h, 0, h.length);
        try {
            return OnnxTensor.createTensor(m.env, hiddenBuffer.duplicate().position(0).limit(h.length).slice(), new long[] {1, n, m.dim});
        } catch (OrtException e) {
            throw new IllegalStateException(e);
        }
    }

    private int rows(NDArray hidden) {
        Shape s = hidden.getShape();
        if (s.dimension() != 2 || s.get(1) != m.dim) {
            throw new IllegalArgumentException("hidden states of shape " + s + " are not [n, " + m.dim + "]");
        }
        return (int) s.get(0);
    }

    /**
     * An independent copy of this session: its own cache buffers holding this session's cache
     * (one copy of the valid positions); both sessions continue independently from here.
     */
    @Override
    public OrtInferenceSession fork() {
        settle();
        OrtInferenceSession f = new OrtInferenceSession(m, null);
        try {
            for (int i = 0; i < layers; i++) {
                if (cached[i] > 0) {
                    f.cacheTensors(i);
                    int rows = cached[i] * hd;
                    for (int h = 0; h < m.kvHeads[i]; h++) {
                        int at = h * m.context * hd;
                        f.keyBuffers[i].put(at, keyBuffers[i], at, rows);
                        f.valueBuffers[i].put(at, valueBuffers[i], at, rows);
                    }
                }
                f.cached[i] = cached[i];
            }
        } catch (OrtException e) {
            f.close();
            throw new IllegalStateException(e);
        }
        return f;
    }

    @Override
    public boolean canFork() {
        return true;
    }

    @Override
    public void crop(int length) {
        settle();
        for (int i = 0; i < layers; i++) {
            crop(i, length);
        }
    }

    /** Keeps the first {@code length} positions: the cache is pre-allocated, so only the valid length changes. */
    @Override
    public void crop(int layer, int length) {
        settle();
        cached[layer] = Math.min(cached[layer], Math.max(0, length));
    }

    private static float[] copy(FloatBuffer b) {
        float[] a = new float[b.remaining()];
        b.get(a);
        return a;
    }

    private void checkPositions(int start, int n) {
        if (n < 1 || start < 0 || start + n > m.context) {
            throw new IllegalArgumentException("positions " + start + ".." + (start + n - 1) + " are outside the context of "
                    + m.context + " tokens");
        }
    }

    @Override
    public void close() {
        open = null;
        for (int i = 0; i < layers; i++) {
            if (cache[i] != null) {
                for (OnnxTensor t : cache[i]) {
                    t.close();
                }
                cache[i] = null;
            }
            keyBuffers[i] = null;
            valueBuffers[i] = null;
            cached[i] = 0;
        }
        bindings.clear();
        stepPresents.forEach(OnnxTensor::close);
        stepPresents.clear();
        if (seqlensTensor != null) {
            seqlensTensor.close();
            totalTensor.close();
            seqlensTensor = null;
            totalTensor = null;
        }
    }
}
