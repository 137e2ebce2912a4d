package dev.manyfold.runtime.model;

import dev.manyfold.api.objective.Scalars;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.core.Embedding;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.decoder.InferenceSession;
import dev.manyfold.api.decoder.LanguageModel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * A LLaMA-style decoder: token embedding, pre-norm blocks of RMSNorm + multi-head attention
 * with RoPE and optional grouped KV heads + RMSNorm + SwiGLU FFN, and one final RMSNorm
 * plus LM head (tied to the embedding or not) that turns the hidden state after any number
 * of blocks into logits. Every exit uses the same norm and head objects.
 *
 * <p>Dimensions: {@code depth} (blocks), {@code heads} (query heads; KV heads follow the
 * group layout), {@code ffn} (intermediate units) and {@code embedding} (model dimension).
 * All are prefix slices of the shared tensors.
 */
public final class LlamaModel extends Model implements LayeredLanguageModel, BatchedDecoding {
    private final int vocab;
    private final int dim;
    private final int layers;
    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final int ffn;
    private final int context;
    private final boolean tied;
    private final float eps;
    private final int eos;
    private final NDArray cos;
    private final NDArray sin;
    private final NDArray causal;
    private volatile List<Integer> exits;
    private final java.util.Set<Integer> exitHeads;
    /** Query heads per layer (all equal to {@code heads} unless the config lists them). */
    private final int[] layerHeads;
    private final boolean qkvBias;

    /** Prefix of the per-exit head sites, {@code exit_heads.<depth>}. */
    public static final String EXIT_HEADS = "exit_heads.";

    /**
     * Structural configuration of a LLaMA model. {@code layerHeads}, when not empty, gives the
     * query heads of each layer (one entry per layer, each in {@code [1, heads]}; a model whose
     * heads were pruned layer by layer). It needs {@code kvHeads == heads} (no grouped KV), and
     * then every layer's KV heads equal its query heads. {@code qkvBias} adds biases
     * {@code layers.<i>.attn.{q,k,v}_proj.bias} to the query, key and value projections (Qwen2).
     */
    public record Config(int vocab, int dim, int layers, int heads, int kvHeads, int headDim, int ffn, int context, boolean tied,
            double ropeTheta, double normEps, int eos, List<Integer> exitHeads, List<Integer> layerHeads, boolean qkvBias) {
        public Config {
            exitHeads = List.copyOf(exitHeads);
            layerHeads = List.copyOf(layerHeads);
            if (!layerHeads.isEmpty()) {
                if (layerHeads.size() != layers) {
                    throw new IllegalArgumentException(layerHeads.size() + " per-layer head counts for " + layers + " layers");
                }
                if (kvHeads != heads) {
                    throw new IllegalArgumentException("per-layer head counts need kv-heads = heads (no grouped KV)");
                }
                for (int h : layerHeads) {
                    if (h < 1 || h > heads) {
                        throw new IllegalArgumentException("a layer's head count " + h + " is outside [1, " + heads + "]");
                    }
                }
            }
        }

        /** A configuration without query/key/value biases. */
        public Config(int vocab, int dim, int layers, int heads, int kvHeads, int headDim, int ffn, int context, boolean tied,
                double ropeTheta, double normEps, int eos, List<Integer> exitHeads, List<Integer> layerHeads) {
            this(vocab, dim, layers, heads, kvHeads, headDim, ffn, context, tied, ropeTheta, normEps, eos, exitHeads, layerHeads, false);
        }

        /** A configuration with the same heads in every layer. */
        public Config(int vocab, int dim, int layers, int heads, int kvHeads, int headDim, int ffn, int context, boolean tied,
                double ropeTheta, double normEps, int eos, List<Integer> exitHeads) {
            this(vocab, dim, layers, heads, kvHeads, headDim, ffn, context, tied, ropeTheta, normEps, eos, exitHeads, List.of());
        }

        /** A configuration without per-exit heads. */
        public Config(int vocab, int dim, int layers, int heads, int kvHeads, int headDim, int ffn, int context, boolean tied,
                double ropeTheta, double normEps, int eos) {
            this(vocab, dim, layers, heads, kvHeads, headDim, ffn, context, tied, ropeTheta, normEps, eos, List.of());
        }
    }

    public LlamaModel(ParameterStore p, Config c) {
        super("llama", p, configMap(c));
        this.vocab = c.vocab();
        this.dim = c.dim();
        this.layers = c.layers();
        this.heads = c.heads();
        this.kvHeads = c.kvHeads();
        this.headDim = c.headDim();
        this.ffn = c.ffn();
        this.context = c.context();
        this.tied = c.tied();
        this.eps = (float) c.normEps();
        this.eos = c.eos();
        this.exits = List.of(layers);
        this.qkvBias = c.qkvBias();
        this.layerHeads = new int[layers];
        for (int i = 0; i < layers; i++) {
            layerHeads[i] = c.layerHeads().isEmpty() ? heads : c.layerHeads().get(i);
        }
        double std = 0.02;
        double outStd = 0.02 / Math.sqrt(2.0 * layers);
        NDArray embed = p.normal("embed.weight", std, vocab, dim);
        for (int i = 0; i < layers; i++) {
            String l = TensorNames.layer(i);
            p.constant(l + ".attn_norm.weight", 1f, dim);
            int hq = layerHeads[i];
            int hkv = hq / (heads / kvHeads);
            addSite(l + ".attn.q_proj", p.normal(l + ".attn.q_proj.weight", std, hq * headDim, dim), bias(p, l + ".attn.q_proj", hq));
            addSite(l + ".attn.k_proj", p.normal(l + ".attn.k_proj.weight", std, hkv * headDim, dim), bias(p, l + ".attn.k_proj", hkv));
            addSite(l + ".attn.v_proj", p.normal(l + ".attn.v_proj.weight", std, hkv * headDim, dim), bias(p, l + ".attn.v_proj", hkv));
            addSite(l + ".attn.o_proj", p.normal(l + ".attn.o_proj.weight", outStd, dim, hq * headDim), null);
            p.constant(l + ".mlp_norm.weight", 1f, dim);
            addSite(l + ".mlp.gate_proj", p.normal(l + ".mlp.gate_proj.weight", std, ffn, dim), null);
            addSite(l + ".mlp.up_proj", p.normal(l + ".mlp.up_proj.weight", std, ffn, dim), null);
            addSite(l + ".mlp.down_proj", p.normal(l + ".mlp.down_proj.weight", outStd, dim, ffn), null);
        }
        p.constant("norm.weight", 1f, dim);
        addSite("lm_head", tied ? embed : p.normal("lm_head.weight", std, vocab, dim), null);
        // Optional separate heads for intermediate exits (the SFT+ICT baseline); the shared head stays for depth L.
        for (int n : c.exitHeads()) {
            addSite(EXIT_HEADS + n, p.normal(EXIT_HEADS + n + ".weight", std, vocab, dim), null);
        }
        this.exitHeads = java.util.Set.copyOf(c.exitHeads());
        // RoPE tables and the causal mask are constants, not parameters.
        NDManager m = parameterManager();
        if (p.isShapesOnly()) { // a model for checks: the tables' shapes without their values
            this.cos = m.zeros(new Shape(1)).broadcast(new Shape(context, headDim));
            this.sin = cos;
            this.causal = m.zeros(new Shape(1)).broadcast(new Shape(context, context));
            this.ropeQkvRows = new java.util.concurrent.atomic.AtomicReferenceArray<>(context);
            return;
        }
        float[] cosv = new float[context * headDim];
        float[] sinv = new float[context * headDim];
        int half = headDim / 2;
        for (int pos = 0; pos < context; pos++) {
            for (int j = 0; j < half; j++) {
                double freq = Math.pow(c.ropeTheta(), -2.0 * j / headDim);
                double a = pos * freq;
                cosv[pos * headDim + j] = (float) Math.cos(a);
                cosv[pos * headDim + j + half] = (float) Math.cos(a);
                sinv[pos * headDim + j] = (float) Math.sin(a);
                sinv[pos * headDim + j + half] = (float) Math.sin(a);
            }
        }
        this.cos = m.create(cosv, new Shape(context, headDim));
        this.sin = m.create(sinv, new Shape(context, headDim));
        float[] mask = new float[context * context];
        for (int i = 0; i < context; i++) {
            for (int j = i + 1; j < context; j++) {
                mask[i * context + j] = -1e9f;
            }
        }
        this.causal = m.create(mask, new Shape(context, context));
        this.ropeQkvRows = new java.util.concurrent.atomic.AtomicReferenceArray<>(context);
    }

    /** A zero-initialised bias {@code <site>.bias [heads·headDim]} when the model has q/k/v biases, else null. */
    private NDArray bias(ParameterStore p, String site, int siteHeads) {
        return qkvBias ? p.constant(site + ".bias", 0f, (long) siteHeads * headDim) : null;
    }

    /** Whether the query, key and value projections have biases ({@code <site>.bias}, Qwen2). */
    public boolean qkvBias() {
        return qkvBias;
    }

    private static Map<String, Object> configMap(Config c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("family", "llama");
        m.put("vocab", c.vocab());
        m.put("dim", c.dim());
        m.put("layers", c.layers());
        m.put("heads", c.heads());
        m.put("kv-heads", c.kvHeads());
        m.put("head-dim", c.headDim());
        m.put("ffn", c.ffn());
        m.put("context", c.context());
        m.put("tied", c.tied());
        m.put("rope-theta", c.ropeTheta());
        m.put("norm-eps", c.normEps());
        m.put("eos", c.eos());
        if (!c.exitHeads().isEmpty()) {
            m.put("exit-heads", c.exitHeads());
        }
        if (!c.layerHeads().isEmpty()) {
            m.put("layer-heads", c.layerHeads());
        }
        if (c.qkvBias()) {
            m.put("qkv-bias", true);
        }
        return m;
    }

    /** Declares which depths are trained exits (for decoders); the full depth is always one. */
    @Override
    public void setExits(List<Integer> trainedExits) {
        List<Integer> e = new ArrayList<>(new java.util.TreeSet<>(trainedExits));
        if (!e.contains(layers)) {
            e.add(layers);
        }
        this.exits = List.copyOf(e);
    }

    @Override
    public Map<String, Integer> dimensions() {
        return Map.of(DEPTH, layers, "heads", heads, "ffn", ffn, "embedding", dim);
    }

    @Override
    protected Map<String, Integer> sizes() {
        return Map.of("vocab", vocab, "dim", dim, "heads", heads, "kv-heads", kvHeads, "head-dim", headDim, "ffn", ffn,
                "context", context, "layers", layers, "layer-heads-min", java.util.Arrays.stream(layerHeads).min().orElse(heads));
    }

    @Override
    protected void checkStructure(SubModel subModel, String path) {
        int h = subModel.budgetOr("heads", heads);
        int group = heads / kvHeads;
        if (h % group != 0) {
            throw new ConfigException(path, "heads budget " + h + " breaks the grouped-KV layout (" + group + " query heads per KV head)",
                    "multiples of " + group);
        }
    }

    /** One sub-model's slice sizes ({@code heads} is a cap; a layer uses {@link #heads(Slice, int)}). */
    private record Slice(int depth, int heads, int kvHeads, int ffn, int dim) {}

    /** Query heads layer {@code i} runs in a slice: its own count, capped by the heads budget. */
    private int heads(Slice s, int i) {
        return Math.min(s.heads, layerHeads[i]);
    }

    /** Query heads of each layer of the full model (all equal unless heads were pruned per layer). */
    public List<Integer> layerHeads() {
        return java.util.Arrays.stream(layerHeads).boxed().toList();
    }

    /** Width of one attention head. */
    public int headDim() {
        return headDim;
    }

    /** KV heads of the full model's widest layer (equal to {@link #heads()} unless grouped). */
    public int kvHeads() {
        return kvHeads;
    }

    /** Query heads of the full model's widest layer. */
    public int heads() {
        return heads;
    }

    private Slice slice(SubModel s) {
        int h = s.budgetOr("heads", heads);
        return new Slice(s.budgetOr(DEPTH, layers), h, h / (heads / kvHeads), s.budgetOr("ffn", ffn), s.budgetOr("embedding", dim));
    }

    @Override
    public NDArray forward(NDArray input, SubModel subModel) {
        return forwardExits(input, subModel, List.of(subModel.budgetOr(DEPTH, layers))).get(0);
    }

    @Override
    public List<NDArray> forwardExits(NDArray tokens, SubModel subModel, List<Integer> exitDepths) {
        Slice s = slice(subModel);
        List<NDArray> hidden = trunk(tokens, s, exitDepths);
        boolean ownHeads = exitDepths.stream().anyMatch(e -> exitHeads.contains(e) && e < layers);
        if (hidden.size() == 1 || ownHeads) {
            List<NDArray> out = new ArrayList<>();
            for (int i = 0; i < hidden.size(); i++) {
                int e = exitDepths.get(i);
                out.add(exitHeads.contains(e) && e < layers ? head(hidden.get(i), s.dim, EXIT_HEADS + e) : head(hidden.get(i), s.dim));
            }
            return out;
        }
        // The shared norm and head once over all exits stacked on the batch axis: one large
        // matmul instead of one per exit (same FLOPs, far fewer ops).
        long b = tokens.getShape().get(0);
        NDArray logits = head(NDArrays.concat(new NDList(hidden), 0), s.dim);
        List<NDArray> out = new ArrayList<>();
        for (int i = 0; i < hidden.size(); i++) {
            out.add(logits.get(new NDIndex("{}:{}", i * b, (i + 1) * b)));
        }
        return out;
    }

    /** Hidden states after {@code depth} blocks, {@code [batch, seq, dim]} (no head). */
    public NDArray hidden(NDArray tokens, SubModel subModel) {
        Slice s = slice(subModel);
        return trunk(tokens, s, List.of(s.depth)).get(0);
    }

    /** One causal pass of the blocks up to the deepest of {@code depths}; the hidden state at each depth. */
    private List<NDArray> trunk(NDArray tokens, Slice s, List<Integer> depths) {
        NDManager m = tokens.getManager();
        int seq = (int) tokens.getShape().get(1);
        if (seq > context) {
            throw new IllegalArgumentException("sequence length " + seq + " exceeds the context " + context);
        }
        NDArray x = embed(m, tokens, s.dim);
        NDArray mask = Ops.own(m, causal.get(new NDIndex(":{}, :{}", seq, seq)));
        NDArray c = Ops.own(m, cos.get(new NDIndex(":{}", seq)));
        NDArray sn = Ops.own(m, sin.get(new NDIndex(":{}", seq)));
        List<NDArray> hidden = new ArrayList<>();
        int next = 0;
        int deepest = depths.get(depths.size() - 1);
        for (int i = 0; i < deepest; i++) {
            x = block(i, x, s, mask, c, sn, null);
            if (next < depths.size() && depths.get(next) == i + 1) {
                hidden.add(x);
                next++;
            }
        }
        return hidden;
    }

    private NDArray embed(NDManager m, NDArray tokens, int d) {
        NDArray w = Ops.prefix(m, parameters().get("embed.weight"), vocab, d);
        NDArray ids = tokens.getDataType() == DataType.INT64 ? tokens : tokens.toType(DataType.INT64, false);
        return Embedding.embedding(ids, w, SparseFormat.DENSE).singletonOrThrow();
    }

    /** The shared final norm + LM head: hidden {@code [..., d]} → logits {@code [..., V]}. */
    public NDArray head(NDArray hidden, int d) {
        return head(hidden, d, "lm_head");
    }

    private NDArray head(NDArray hidden, int d, String headSite) {
        NDManager m = hidden.getManager();
        NDArray g = Ops.prefix(m, parameters().get("norm.weight"), d);
        return site(headSite).apply(Ops.rmsNorm(hidden, g, eps), vocab, d);
    }

    /** Depths that have their own head (empty unless the model was built with exit-heads). */
    public java.util.Set<Integer> exitHeads() {
        return exitHeads;
    }

    /**
     * One block over {@code x [B, T, d]}. With a cache ({@code pastK}, {@code pastV} of
     * shape {@code [B, kv, S, hd]}, possibly null when S = 0) the new keys/values are
     * appended; {@code kv[0..1]} receive the updated caches.
     */
    private NDArray block(int i, NDArray x, Slice s, NDArray mask, NDArray c, NDArray sn, NDArray[] kv) {
        NDManager m = x.getManager();
        String l = TensorNames.layer(i);
        long b = x.getShape().get(0);
        long t = x.getShape().get(1);
        int hq = heads(s, i);
        int hkv = hq / (heads / kvHeads);
        int qd = hq * headDim;
        int kd = hkv * headDim;
        NDArray a = Ops.rmsNorm(x, Ops.prefix(m, parameters().get(l + ".attn_norm.weight"), s.dim), eps);
        NDArray q = site(l + ".attn.q_proj").apply(a, qd, s.dim).reshape(b, t, hq, headDim).transpose(0, 2, 1, 3);
        NDArray k = site(l + ".attn.k_proj").apply(a, kd, s.dim).reshape(b, t, hkv, headDim).transpose(0, 2, 1, 3);
        NDArray v = site(l + ".attn.v_proj").apply(a, kd, s.dim).reshape(b, t, hkv, headDim).transpose(0, 2, 1, 3);
        q = rope(q, c, sn);
        k = rope(k, c, sn);
        if (kv != null) {
            if (kv[0] != null) {
                k = kv[0].concat(k, 2);
                v = kv[1].concat(v, 2);
            }
            kv[0] = k;
            kv[1] = v;
        }
        long total = k.getShape().get(2);
        int group = hq / hkv;
        if (group > 1) {
            k = k.expandDims(2).broadcast(b, hkv, group, total, headDim).reshape(b, hq, total, headDim);
            v = v.expandDims(2).broadcast(b, hkv, group, total, headDim).reshape(b, hq, total, headDim);
        }
        NDArray scores = Scalars.times(q.matMul(k.transpose(0, 1, 3, 2)), 1.0 / Math.sqrt(headDim));
        if (mask != null) {
            scores = scores.add(mask);
        }
        NDArray o = scores.softmax(-1).matMul(v).transpose(0, 2, 1, 3).reshape(b, t, qd);
        x = x.add(site(l + ".attn.o_proj").apply(o, s.dim, qd));
        NDArray h = Ops.rmsNorm(x, Ops.prefix(m, parameters().get(l + ".mlp_norm.weight"), s.dim), eps);
        NDArray gate = Ops.silu(site(l + ".mlp.gate_proj").apply(h, s.ffn, s.dim));
        NDArray up = site(l + ".mlp.up_proj").apply(h, s.ffn, s.dim);
        return x.add(site(l + ".mlp.down_proj").apply(gate.mul(up), s.dim, s.ffn));
    }

    /** Rotary embedding over {@code x [B, H, T, hd]} with tables {@code [T, hd]}. */
    private NDArray rope(NDArray x, NDArray c, NDArray sn) {
        int half = headDim / 2;
        NDArray x1 = x.get(new NDIndex("..., :{}", half));
        NDArray x2 = x.get(new NDIndex("..., {}:", half));
        NDArray rotated = x2.neg().concat(x1, -1);
        return x.mul(c).add(rotated.mul(sn));
    }

    // ---- accounting -----------------------------------------------------------------------

    @Override
    public long parameterCount(SubModel subModel) {
        Slice s = slice(subModel);
        long d = s.dim;
        long layersTotal = 0;
        for (int i = 0; i < s.depth; i++) {
            long hq = heads(s, i);
            long hkv = hq / (heads / kvHeads);
            layersTotal += 2 * d + d * hq * headDim + 2 * d * hkv * headDim + hq * headDim * d + 3 * d * s.ffn
                    + (qkvBias ? (hq + 2 * hkv) * headDim : 0);
        }
        return vocab * d + layersTotal + d + (tied ? 0 : vocab * d);
    }

    @Override
    public long flops(SubModel subModel) {
        Slice s = slice(subModel);
        long d = s.dim;
        long layersTotal = 0;
        for (int i = 0; i < s.depth; i++) {
            long hq = heads(s, i);
            long hkv = hq / (heads / kvHeads);
            layersTotal += d * hq * headDim + 2 * d * hkv * headDim + hq * headDim * d + 3 * d * s.ffn;
        }
        return 2 * (layersTotal + vocab * d);
    }

    @Override
    public Exported export(SubModel subModel, NDManager manager) {
        check(subModel, "sub-model");
        Slice s = slice(subModel);
        Map<String, NDArray> t = new LinkedHashMap<>();
        t.put("embed.weight", exportPrefix(manager, "embed.weight", vocab, s.dim));
        List<Integer> exportedHeads = new ArrayList<>();
        for (int i = 0; i < s.depth; i++) {
            String l = TensorNames.layer(i);
            int hq = heads(s, i);
            exportedHeads.add(hq);
            int qd = hq * headDim;
            int kd = hq / (heads / kvHeads) * headDim;
            t.put(l + ".attn_norm.weight", exportPrefix(manager, l + ".attn_norm.weight", s.dim));
            t.put(l + ".attn.q_proj.weight", exportSite(manager, l + ".attn.q_proj", qd, s.dim));
            t.put(l + ".attn.k_proj.weight", exportSite(manager, l + ".attn.k_proj", kd, s.dim));
            t.put(l + ".attn.v_proj.weight", exportSite(manager, l + ".attn.v_proj", kd, s.dim));
            if (qkvBias) {
                t.put(l + ".attn.q_proj.bias", exportPrefix(manager, l + ".attn.q_proj.bias", qd));
                t.put(l + ".attn.k_proj.bias", exportPrefix(manager, l + ".attn.k_proj.bias", kd));
                t.put(l + ".attn.v_proj.bias", exportPrefix(manager, l + ".attn.v_proj.bias", kd));
            }
            t.put(l + ".attn.o_proj.weight", exportSite(manager, l + ".attn.o_proj", s.dim, qd));
            t.put(l + ".mlp_norm.weight", exportPrefix(manager, l + ".mlp_norm.weight", s.dim));
            t.put(l + ".mlp.gate_proj.weight", exportSite(manager, l + ".mlp.gate_proj", s.ffn, s.dim));
            t.put(l + ".mlp.up_proj.weight", exportSite(manager, l + ".mlp.up_proj", s.ffn, s.dim));
            t.put(l + ".mlp.down_proj.weight", exportSite(manager, l + ".mlp.down_proj", s.dim, s.ffn));
        }
        t.put("norm.weight", exportPrefix(manager, "norm.weight", s.dim));
        boolean ownHead = exitHeads.contains(s.depth) && s.depth < layers;
        if (ownHead && tied) {
            throw new IllegalArgumentException("depth " + s.depth + " has its own exit head but the model ties its head to the embedding;"
                    + " a plain tied model cannot carry it");
        }
        if (!tied) {
            t.put("lm_head.weight", exportSite(manager, ownHead ? EXIT_HEADS + s.depth : "lm_head", vocab, s.dim));
        }
        Map<String, Object> config = configWith("dim", s.dim, "layers", s.depth, "heads", s.heads, "kv-heads", s.kvHeads, "ffn", s.ffn);
        config.remove("exit-heads");
        config.remove("layer-heads");
        if (exportedHeads.stream().anyMatch(h -> h != s.heads)) {
            config.put("layer-heads", exportedHeads);
        }
        return new Exported(config, t);
    }

    // ---- LanguageModel ----------------------------------------------------------------------

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
        return layers;
    }

    @Override
    public List<Integer> exits() {
        return exits;
    }

    @Override
    public OptionalInt eosToken() {
        return eos < 0 ? OptionalInt.empty() : OptionalInt.of(eos);
    }

    @Override
    public int dim() {
        return dim;
    }

    @Override
    public java.util.Optional<LayeredLanguageModel> languageModel() {
        return java.util.Optional.of(this);
    }

    @Override
    public void checkData(ModelFactory.DataShape data, java.util.Optional<java.nio.file.Path> importedFrom) {
        if (importedFrom.isEmpty()) {
            if (data.context() > context) {
                throw new dev.manyfold.api.ConfigException("model.context", "the model's context of " + context + " is shorter than "
                        + "data.context " + data.context(), "at least " + data.context() + " (or leave it out: data.context decides)");
            }
            return;
        }
        java.nio.file.Path config = importedFrom.get().resolve("config.json");
        if (data.context() > context) {
            throw new dev.manyfold.api.ConfigException("data.context", data.context() + " positions exceed the model's context "
                    + context + " (max_position_embeddings of " + config + ", capped by model.context)", "at most " + context);
        }
        if (data.vocab() > vocab) {
            throw new dev.manyfold.api.ConfigException("data.tokenizer", "the tokenizer has " + data.vocab() + " ids but " + config
                    + " has vocab_size " + vocab, "the model's own tokenizer.json (the default for model.from)");
        }
    }

    /** A per-exit head absent from a checkpoint starts as the shared head (or the tied embedding). */
    @Override
    public List<String> initialisedFrom(String tensor) {
        return tensor.startsWith(EXIT_HEADS) ? List.of("lm_head.weight", "embed.weight") : List.of();
    }

    @Override
    public java.util.Optional<dev.manyfold.api.prune.AttentionLayout> attentionLayout() {
        List<dev.manyfold.api.prune.AttentionLayout.Layer> out = new ArrayList<>();
        List<Integer> perLayer = layerHeads();
        int group = heads / kvHeads;
        for (int i = 0; i < perLayer.size(); i++) {
            out.add(new dev.manyfold.api.prune.AttentionLayout.Layer(TensorNames.attention(i, "q_proj"), TensorNames.attention(i, "k_proj"),
                    TensorNames.attention(i, "v_proj"), TensorNames.attention(i, "o_proj"), perLayer.get(i), perLayer.get(i) / group));
        }
        return java.util.Optional.of(new dev.manyfold.api.prune.AttentionLayout(out, headDim()));
    }

    /** The composed inference weights of the current model state, shared by sessions; null before the first open. */
    private LlamaSession.Weights inference;

    /**
     * Opens a session. The composed weights are built at the first open and shared by later
     * sessions until the model's weights, masks or adapters change (then rebuilt once).
     */
    @Override
    public InferenceSession open(NDManager manager) {
        LlamaSession.Weights weights = inferenceWeights();
        return new LlamaSession(this, weights, manager.newSubManager());
    }

    /** The shared composed weights, acquired for one session (release on close). */
    private synchronized LlamaSession.Weights inferenceWeights() {
        long version = weightsVersion();
        if (inference == null || inference.version != version || !inference.acquire()) {
            if (inference != null) {
                inference.supersede();
            }
            inference = new LlamaSession.Weights(this, version);
            inference.acquire();
        }
        return inference;
    }

    @Override
    public boolean batchable(InferenceSession session) {
        return session instanceof LlamaSession s && s.batchableWith(this);
    }

    @Override
    public float[][] forwardBatch(List<? extends InferenceSession> sessions, int[] tokens, int[] starts, int to, NDManager manager) {
        if (sessions.isEmpty() || tokens.length != sessions.size() || starts.length != sessions.size()) {
            throw new IllegalArgumentException("a batched step needs one token and one position per session: " + sessions.size()
                    + " sessions, " + tokens.length + " tokens, " + starts.length + " positions");
        }
        if (to < 1 || to > layers()) {
            throw new IllegalArgumentException("exit " + to + " is outside 1.." + layers());
        }
        List<LlamaSession> rows = new ArrayList<>(sessions.size());
        for (InferenceSession s : sessions) {
            if (!batchable(s)) {
                throw new IllegalArgumentException("session " + s + " cannot be batched with this model's sessions");
            }
            rows.add((LlamaSession) s);
        }
        return LlamaSession.forwardBatch(rows, tokens, starts, to, manager);
    }

    // ---- for LlamaSession (inference) ---------------------------------------------------------

    int ffn() {
        return ffn;
    }

    float normEps() {
        return eps;
    }

    private NDArray ropeQkv;
    private final java.util.concurrent.atomic.AtomicReferenceArray<NDArray> ropeQkvRows;

    /**
     * RoPE table for the inference projection {@code [q k v | rot(q) rot(k) 0]}:
     * {@code [context, 2, (heads + 2·kvHeads) · headDim]}, row 0 {@code [cos cos 1]}, row 1
     * {@code [sin sin 0]} per position. A constant, made once.
     */
    synchronized NDArray ropeQkv() {
        if (ropeQkv == null) {
            try (NDManager tmp = parameterManager().newSubManager()) {
                NDArray c = Ops.own(tmp, cos.duplicate());
                NDArray s = Ops.own(tmp, sin.duplicate());
                Shape v = new Shape(context, (long) kvHeads * headDim);
                NDArray cs = NDArrays.concat(new NDList(c.tile(new long[] {1, heads}), c.tile(new long[] {1, kvHeads}), tmp.ones(v)), 1);
                NDArray sn = NDArrays.concat(new NDList(s.tile(new long[] {1, heads}), s.tile(new long[] {1, kvHeads}), tmp.zeros(v)), 1);
                NDArray table = NDArrays.stack(new NDList(cs, sn), 1);
                table.attach(parameterManager());
                ropeQkv = table;
            }
        }
        return ropeQkv;
    }

    /** Row {@code position} of {@link #ropeQkv()}, {@code [1, 2, ...]}, made once per position. */
    NDArray ropeQkvRow(int position) {
        NDArray row = ropeQkvRows.get(position);
        if (row == null) {
            row = ropeQkv().get(new NDIndex("{}:{}", position, position + 1));
            if (!ropeQkvRows.compareAndSet(position, null, row)) {
                row.close();
                row = ropeQkvRows.get(position);
            }
        }
        return row;
    }

    /** Additive causal mask {@code [context, context]}. */
    NDArray causalMask() {
        return causal;
    }
}
