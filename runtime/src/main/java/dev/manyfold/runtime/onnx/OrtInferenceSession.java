package dev.manyfold.runtime.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.manyfold.api.decoder.InferenceSession;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One decode on an {@link OrtLanguageModel}. The KV cache stays in ORT tensors: each graph's
 * {@code present_*} outputs are the next call's {@code past_*} inputs, so nothing is copied
 * between steps. The fused calls ({@link #forward}, {@link #forwardKeeping},
 * {@link #runLogits}) are one graph run each; the NDArray calls copy hidden states between
 * DJL and ORT. A layer range without its own graph is run as a chain of per-layer graphs.
 */
final class OrtInferenceSession implements InferenceSession {
    /** An ORT result (or a tensor we made) shared by the cache slots that point into it. */
    private static final class Held {
        private final AutoCloseable resource;
        private int refs;

        Held(AutoCloseable resource, int refs) {
            this.resource = resource;
            this.refs = refs;
        }

        void release() {
            if (--refs == 0) {
                try {
                    resource.close();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
        }
    }

    /** A graph run's outputs; close to release them (the cache keeps its own reference). */
    private final class Outputs implements AutoCloseable {
        final OrtSession.Result result;
        final Held held;

        Outputs(OrtSession.Result result, Held held) {
            this.result = result;
            this.held = held;
        }

        float[] floats(String name) {
            return copy(((OnnxTensor) result.get(name).orElseThrow(() -> new IllegalStateException("graph has no output " + name)))
                    .getFloatBuffer());
        }

        @Override
        public void close() {
            held.release();
        }
    }

    private final OrtLanguageModel m;
    private final int layers;
    private final OnnxTensor[] keys;
    private final OnnxTensor[] values;
    private final Held[] owners;
    private final int[] cached;

    OrtInferenceSession(OrtLanguageModel model, NDManager manager) {
        this.m = model;
        this.layers = model.layers();
        this.keys = new OnnxTensor[layers];
        this.values = new OnnxTensor[layers];
        this.owners = new Held[layers];
        this.cached = new int[layers];
    }

    @Override
    public int cachedLength(int layer) {
        return cached[layer];
    }

    @Override
    public NDArray embed(int[] tokens, int start, NDManager manager) {
        checkPositions(start, tokens.length);
        try (Outputs o = exec(new GraphKey(0, 0, true, false, true, false), tokensTensor(tokens), start, tokens.length)) {
            return manager.create(o.floats("hidden_out"), new Shape(tokens.length, m.dim));
        }
    }

    @Override
    public NDArray run(NDArray hidden, int from, int to, int start, NDManager manager) {
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
        int n = rows(hidden);
        try (Outputs o = exec(new GraphKey(0, 0, false, true, false, false), hiddenTensor(hidden.toFloatArray(), n), 0, n)) {
            return manager.create(o.floats("logits"), new Shape(n, m.vocab));
        }
    }

    @Override
    public float[] forward(int[] tokens, int start, int to, NDManager manager) {
        return forwardKeeping(tokens, start, to, true, manager, false).logits();
    }

    @Override
    public Forward forwardKeeping(int[] tokens, int start, int to, boolean logits, NDManager manager) {
        return forwardKeeping(tokens, start, to, logits, manager, true);
    }

    private Forward forwardKeeping(int[] tokens, int start, int to, boolean logits, NDManager manager, boolean keep) {
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
            float[] z = logits ? headLogits(last, 1) : null;
            return new Forward(keep ? manager.create(h, new Shape(n, m.dim)) : null, z);
        }
        try (Outputs o = exec(key, tokensTensor(tokens), start, n)) {
            float[] z = null;
            if (logits) {
                float[] all = o.floats("logits");
                z = n == 1 ? all : java.util.Arrays.copyOfRange(all, (n - 1) * m.vocab, n * m.vocab);
            }
            return new Forward(keep ? manager.create(o.floats("hidden_out"), new Shape(n, m.dim)) : null, z);
        }
    }

    @Override
    public Forward runForward(NDArray hidden, int from, int to, int start, boolean logits, NDManager manager) {
        int n = rows(hidden);
        checkPositions(start, n);
        boolean step = n == 1;
        GraphKey key = from == to ? null : first(new GraphKey(from, to, false, logits, true, step), new GraphKey(from, to, false, true, true, step),
                new GraphKey(from, to, false, logits, true, false), new GraphKey(from, to, false, true, true, false));
        if (key == null) {
            float[] h = runHidden(hidden.toFloatArray(), n, from, to, start);
            float[] z = logits ? headLogits(java.util.Arrays.copyOfRange(h, (n - 1) * m.dim, n * m.dim), 1) : null;
            return new Forward(manager.create(h, new Shape(n, m.dim)), z);
        }
        try (Outputs o = exec(key, hiddenTensor(hidden.toFloatArray(), n), start, n)) {
            float[] z = null;
            if (logits) {
                float[] all = o.floats("logits");
                z = n == 1 ? all : java.util.Arrays.copyOfRange(all, (n - 1) * m.vocab, n * m.vocab);
            }
            return new Forward(manager.create(o.floats("hidden_out"), new Shape(n, m.dim)), z);
        }
    }

    @Override
    public float[] runLogits(NDArray hidden, int from, int to, int start, NDManager manager) {
        int n = rows(hidden);
        checkPositions(start, n);
        GraphKey key = first(new GraphKey(from, to, false, true, false, n == 1), new GraphKey(from, to, false, true, false, false));
        if (key == null || from == to) {
            return headLogits(runHidden(hidden.toFloatArray(), n, from, to, start), n);
        }
        try (Outputs o = exec(key, hiddenTensor(hidden.toFloatArray(), n), start, n)) {
            return o.floats("logits");
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
        GraphKey key = first(new GraphKey(from, to, false, false, true, n == 1), new GraphKey(from, to, false, false, true, false));
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

    /** Runs {@code key}'s graph; the input tensor is closed here. Its presents replace the cache of its layers. */
    private Outputs exec(GraphKey key, OnnxTensor input, int start, int n) {
        OrtSession session = m.session(key);
        List<OnnxTensor> made = new ArrayList<>();
        made.add(input);
        try {
            Map<String, OnnxTensor> in = new HashMap<>();
            in.put(key.tokens() ? "tokens" : "hidden", input);
            if (key.hasLayers()) {
                long[] positions = new long[n];
                for (int i = 0; i < n; i++) {
                    positions[i] = start + i;
                }
                OnnxTensor p = OnnxTensor.createTensor(m.env, LongBuffer.wrap(positions), new long[] {n});
                made.add(p);
                in.put("positions", p);
                if (!key.step()) {
                    OnnxTensor mask = mask(start, n);
                    made.add(mask);
                    in.put("mask", mask);
                }
                for (int i = key.from(); i < key.to(); i++) {
                    if (cached[i] != start) {
                        throw new IllegalStateException("layer " + i + " caches " + cached[i] + " positions, expected " + start);
                    }
                    if (keys[i] == null) {
                        OnnxTensor k = m.empty(i, true);
                        OnnxTensor v = m.empty(i, false);
                        made.add(k);
                        made.add(v);
                        in.put("past_key_" + i, k);
                        in.put("past_value_" + i, v);
                    } else {
                        in.put("past_key_" + i, keys[i]);
                        in.put("past_value_" + i, values[i]);
                    }
                }
            }
            OrtSession.Result r = session.run(in);
            Held held = new Held(r, 1 + 2 * (key.to() - key.from()));
            for (int i = key.from(); i < key.to(); i++) {
                OnnxTensor k = (OnnxTensor) r.get("present_key_" + i).orElseThrow();
                OnnxTensor v = (OnnxTensor) r.get("present_value_" + i).orElseThrow();
                set(i, k, v, held, start + n);
            }
            return new Outputs(r, held);
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime failed on " + key.fileName() + ": " + e.getMessage(), e);
        } finally {
            for (OnnxTensor t : made) {
                t.close();
            }
        }
    }

    private void set(int layer, OnnxTensor k, OnnxTensor v, Held held, int length) {
        if (owners[layer] != null) {
            owners[layer].release();
            owners[layer].release();
        }
        keys[layer] = k;
        values[layer] = v;
        owners[layer] = held;
        cached[layer] = length;
    }

    /** Additive causal mask {@code [group·n, start + n]}: query row {@code g·n + i} sees keys {@code <= start + i}. */
    private OnnxTensor mask(int start, int n) throws OrtException {
        int total = start + n;
        float[] mask = new float[m.group * n * total];
        for (int g = 0; g < m.group; g++) {
            for (int i = 0; i < n; i++) {
                int row = (g * n + i) * total;
                for (int j = start + i + 1; j < total; j++) {
                    mask[row + j] = -1e9f;
                }
            }
        }
        return OnnxTensor.createTensor(m.env, FloatBuffer.wrap(mask), new long[] {(long) m.group * n, total});
    }

    private OnnxTensor tokensTensor(int[] tokens) {
        long[] ids = new long[tokens.length];
        for (int i = 0; i < ids.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= m.vocab) {
                throw new IllegalArgumentException("token " + tokens[i] + " is outside the vocabulary [0, " + m.vocab + ")");
            }
            ids[i] = tokens[i];
        }
        try {
            return OnnxTensor.createTensor(m.env, LongBuffer.wrap(ids), new long[] {ids.length});
        } catch (OrtException e) {
            throw new IllegalStateException(e);
        }
    }

    private OnnxTensor hiddenTensor(float[] h, int n) {
        try {
            return OnnxTensor.createTensor(m.env, FloatBuffer.wrap(h), new long[] {n, m.dim});
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
     * A copy of this session sharing its cache: ORT never writes into a cache tensor (each step
     * returns new {@code present_*} tensors and a crop makes new ones), so both sessions keep
     * the same tensors, counted once more, and diverge from here. Ready for the SPI's
     * {@code fork()} (branch spi).
     */
    public OrtInferenceSession fork() {
        OrtInferenceSession f = new OrtInferenceSession(m, null);
        for (int i = 0; i < layers; i++) {
            if (owners[i] != null) {
                owners[i].refs += 2;
                f.owners[i] = owners[i];
                f.keys[i] = keys[i];
                f.values[i] = values[i];
            }
            f.cached[i] = cached[i];
        }
        return f;
    }

    @Override
    public void crop(int length) {
        for (int i = 0; i < layers; i++) {
            crop(i, length);
        }
    }

    @Override
    public void crop(int layer, int length) {
        if (cached[layer] <= length) {
            return;
        }
        Held old = owners[layer];
        if (length == 0) {
            keys[layer] = null;
            values[layer] = null;
            owners[layer] = null;
            cached[layer] = 0;
        } else {
            int kv = m.kvHeads[layer];
            int hd = m.headDim;
            int s = cached[layer];
            // One copy out of ORT, then only the kept rows (absolute bulk gets, no intermediate array).
            FloatBuffer k = keys[layer].getFloatBuffer();
            FloatBuffer v = values[layer].getFloatBuffer();
            float[] kc = new float[kv * hd * length];
            float[] vc = new float[kv * length * hd];
            for (int r = 0; r < kv * hd; r++) {
                k.get(r * s, kc, r * length, length);
            }
            for (int h = 0; h < kv; h++) {
                v.get(h * s * hd, vc, h * length * hd, length * hd);
            }
            try {
                OnnxTensor kt = OnnxTensor.createTensor(m.env, FloatBuffer.wrap(kc), new long[] {kv, hd, length});
                OnnxTensor vt = OnnxTensor.createTensor(m.env, FloatBuffer.wrap(vc), new long[] {kv, length, hd});
                owners[layer] = null;
                Held mine = new Held(() -> {
                    kt.close();
                    vt.close();
                }, 2);
                keys[layer] = kt;
                values[layer] = vt;
                owners[layer] = mine;
                cached[layer] = length;
            } catch (OrtException e) {
                throw new IllegalStateException(e);
            }
        }
        if (old != null) {
            old.release();
            old.release();
        }
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
        for (int i = 0; i < layers; i++) {
            if (owners[i] != null) {
                owners[i].release();
                owners[i].release();
                owners[i] = null;
                keys[i] = null;
                values[i] = null;
            }
        }
    }
}
