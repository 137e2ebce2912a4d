package dev.manyfold.runtime.onnx;

import dev.manyfold.runtime.model.LlamaWeights;
import dev.manyfold.runtime.onnx.OnnxGraph.Attr;
import java.util.List;
import java.util.Map;

/**
 * Builds the ONNX graphs of a LLaMA model from its folded {@link LlamaWeights}, one per
 * {@link GraphKey}. Per layer the graph is about a dozen nodes: an RMSNorm node, one
 * projection for Q, K and V, ONNX Runtime's {@code GroupQueryAttention} (RoPE, the causal
 * mask, grouped-query attention and the KV cache update in one node), the output projection,
 * gate and up in one matmul, SiLU as {@code QuickGelu} with alpha 1.
 *
 * <p>The KV cache is pre-allocated: {@code past_key_i} and {@code past_value_i} are
 * {@code [1, kv_i, C, hd]} for a capacity {@code C} the caller picks (the context), and the
 * caller passes the same buffers as the pinned {@code present_key_i}/{@code present_value_i},
 * so a step writes only its own rows in place (ORT's shared past/present buffer). How many
 * positions are valid is an input: {@code seqlens_k} (int32 {@code [1]}, the position of the
 * last new token) and {@code total_sequence_length} (int32 scalar, that plus one). Cropping
 * the cache is therefore just passing a smaller length.
 *
 * <p>Inputs: {@code tokens} (int64 {@code [1, n]}) or {@code hidden} ({@code [1, n, d]}), and
 * for graphs with layers the lengths and the cache. Outputs: {@code logits}
 * {@code [1, n, V]}, {@code hidden_out} {@code [1, n, d]}, the presents.
 */
public final class LlamaGraphs {
    private final LlamaWeights w;
    private final Map<String, String> metadata;

    public LlamaGraphs(LlamaWeights weights, Map<String, String> metadata) {
        this.w = weights;
        this.metadata = metadata;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    public LlamaWeights weights() {
        return w;
    }

    /** The serialized model of {@code key}. */
    public byte[] build(GraphKey key) {
        int layers = w.layers.size();
        if (key.to() > layers) {
            throw new IllegalArgumentException("layers [" + key.from() + ", " + key.to() + ") exceed the model's " + layers + " layers");
        }
        if (key.drafts() > 0) {
            return buildDraft(key);
        }
        OnnxGraph g = new OnnxGraph("manyfold_llama_" + key.fileName().replace(".onnx", ""));
        Object n = key.step() ? (Object) 1L : "n";
        int d = w.dim;
        int hd = paddedHeadDim(w.headDim);
        String x;
        if (key.tail()) {
            // Draft tail + verification: the last drafted token through the draft layers [0, from),
            // appended to the drafted positions' hidden states, all of them through [from, to).
            String last = embed(g, g.input("tokens", OnnxGraph.INT64, 1L, 1L));
            Lengths lengths = lengths(g, 1L);
            last = layers(g, last, 0, key.from(), lengths, 1L);
            x = g.op("Concat", List.of(Attr.of("axis", 1L)), g.input("hidden", OnnxGraph.FLOAT, 1L, "drafted", d), last);
            x = layers(g, x, key.from(), key.to(), lengths, 1L);
        } else {
            x = key.tokens() ? embed(g, g.input("tokens", OnnxGraph.INT64, 1L, n)) : g.input("hidden", OnnxGraph.FLOAT, 1L, n, d);
            if (key.hasLayers()) {
                x = layers(g, x, key.from(), key.to(), lengths(g, 1L), 1L);
            }
        }
        if (key.hidden()) {
            g.opTo("hidden_out", "Identity", List.of(), x);
            g.output("hidden_out", OnnxGraph.FLOAT, 1L, n, d);
        }
        if (key.logits()) {
            g.opTo("logits", "MatMul", List.of(), norm(g, x, "norm", w.norm), g.weight("head", w.head, d, w.vocab));
            g.output("logits", OnnxGraph.FLOAT, 1L, n, w.vocab);
        }
        Map<String, String> meta = new java.util.LinkedHashMap<>(metadata);
        meta.put(OnnxExport.META_GRAPH, key.fileName());
        meta.put(OnnxExport.META_LAYERS, key.from() + "-" + key.to());
        return g.toModel(meta);
    }

    /** File name of {@link #buildBatchStep}'s graph in a cache or export directory, e.g. {@code batch_0_8_logits_step.onnx}. */
    public static String batchStepFileName(int to) {
        return "batch_0_" + to + "_logits_step.onnx";
    }

    /**
     * The batched decode step to exit {@code to}: one token for each of {@code batch} rows, each
     * row at its own position over its own cache. Inputs {@code tokens} (int64
     * {@code [batch, 1]}), {@code seqlens_k} (int32 {@code [batch]}, each row's position),
     * {@code total_sequence_length} (the largest plus one) and per layer the caches
     * {@code [batch, kv, capacity, hd]} (pinned presents over the same memory, as in
     * {@link #build}); output {@code logits} {@code [batch, 1, V]}.
     */
    public byte[] buildBatchStep(int to) {
        if (to < 1 || to > w.layers.size()) {
            throw new IllegalArgumentException("exit " + to + " is outside the model's layers [1, " + w.layers.size() + "]");
        }
        OnnxGraph g = new OnnxGraph("manyfold_llama_batch_0_" + to);
        String x = embed(g, g.input("tokens", OnnxGraph.INT64, "batch", 1L));
        x = layers(g, x, 0, to, lengths(g, "batch"), "batch");
        g.opTo("logits", "MatMul", List.of(), norm(g, x, "norm", w.norm), g.weight("head", w.head, w.dim, w.vocab));
        g.output("logits", OnnxGraph.FLOAT, "batch", 1L, w.vocab);
        Map<String, String> meta = new java.util.LinkedHashMap<>(metadata);
        meta.put(OnnxExport.META_GRAPH, batchStepFileName(to));
        meta.put(OnnxExport.META_LAYERS, "0-" + to);
        return g.toModel(meta);
    }

    /**
     * {@code k = key.drafts()} greedy decode steps through layers {@code [0, e)} (exit
     * {@code e = key.to()}) unrolled in one graph: step {@code i} embeds its token (the input
     * {@code tokens [1, 1]} for step 0, else the argmax of step {@code i − 1}'s logits), runs the
     * layers at position {@code seqlens_k + i} and applies the norm and head. Outputs
     * {@code logits [1, k, V]} and {@code hidden_out [1, k, d]} of every step. Every step's
     * attention reads the caches {@code past_*_j} and writes its rows in place: step 0's
     * presents are {@code present_*_j}, step {@code i}'s {@code present_*_j_s<i>}, and the caller
     * pins them all over the same buffers (ORT then runs each {@code GroupQueryAttention} with a
     * shared past/present buffer; each step reads after the previous one wrote, since its token
     * depends on it).
     */
    private byte[] buildDraft(GraphKey key) {
        int k = key.drafts();
        int e = key.to();
        OnnxGraph g = new OnnxGraph("manyfold_llama_" + key.fileName().replace(".onnx", ""));
        String token = g.input("tokens", OnnxGraph.INT64, 1L, 1L);
        Lengths base = lengths(g, 1L);
        String[] hidden = new String[k];
        String[] logits = new String[k];
        for (int i = 0; i < k; i++) {
            Lengths at = i == 0 ? base : new Lengths(g.op("Add", base.seqlens(), g.ints("plus_" + i + "_1", i, 1L)),
                    g.op("Add", base.total(), g.ints("plus_" + i, i)), base.cos(), base.sin());
            String x = layers(g, embed(g, token), 0, e, at, 1L, i == 0 ? "" : "_s" + i);
            hidden[i] = x;
            logits[i] = g.op("MatMul", norm(g, x, "norm", w.norm), g.weight("head", w.head, w.dim, w.vocab));
            if (i + 1 < k) {
                token = g.op("ArgMax", List.of(Attr.of("axis", -1L), Attr.of("keepdims", 0L)), logits[i]);
            }
        }
        g.opTo("hidden_out", k == 1 ? "Identity" : "Concat", k == 1 ? List.of() : List.of(Attr.of("axis", 1L)), hidden);
        g.output("hidden_out", OnnxGraph.FLOAT, 1L, (long) k, w.dim);
        g.opTo("logits", k == 1 ? "Identity" : "Concat", k == 1 ? List.of() : List.of(Attr.of("axis", 1L)), logits);
        g.output("logits", OnnxGraph.FLOAT, 1L, (long) k, w.vocab);
        Map<String, String> meta = new java.util.LinkedHashMap<>(metadata);
        meta.put(OnnxExport.META_GRAPH, key.fileName());
        meta.put(OnnxExport.META_LAYERS, "0-" + e);
        return g.toModel(meta);
    }

    /** The inputs saying which cache positions are valid, and RoPE's tables. */
    private record Lengths(String seqlens, String total, String cos, String sin) {}

    /** {@code batch}: the batch dimension, {@code 1L} or a symbolic name. */
    private Lengths lengths(OnnxGraph g, Object batch) {
        int hd = paddedHeadDim(w.headDim);
        return new Lengths(g.input("seqlens_k", OnnxGraph.INT32, batch), g.input("total_sequence_length", OnnxGraph.INT32),
                g.weight("rope_cos", rope(true), w.context, hd / 2), g.weight("rope_sin", rope(false), w.context, hd / 2));
    }

    private String embed(OnnxGraph g, String tokens) {
        return g.op("Gather", List.of(Attr.of("axis", 0L)), g.weight("embed", w.embed, w.vocab, w.dim), tokens);
    }

    /** Layers {@code [from, to)} over {@code x [1, n, d]}, each reading and writing its cache in place. */
    private String layers(OnnxGraph g, String x, int from, int to, Lengths lengths, Object batch) {
        return layers(g, x, from, to, lengths, batch, "");
    }

    /**
     * As {@link #layers(OnnxGraph, String, int, int, Lengths, Object)}; a non-empty
     * {@code presentSuffix} (a later step of a draft graph) reuses the already declared
     * {@code past_*} inputs and names its presents {@code present_*_i<suffix>}.
     */
    private String layers(OnnxGraph g, String x, int from, int to, Lengths lengths, Object batch, String presentSuffix) {
        int d = w.dim;
        int hd = paddedHeadDim(w.headDim);
        for (int i = from; i < to; i++) {
            LlamaWeights.Layer layer = w.layers.get(i);
            int h = layer.heads();
            int kvh = layer.kvHeads();
            int width = layer.width(w.headDim);
            String pk = "past_key_" + i;
            String pv = "past_value_" + i;
            if (presentSuffix.isEmpty()) {
                g.input(pk, OnnxGraph.FLOAT, batch, (long) kvh, "capacity", (long) hd);
                g.input(pv, OnnxGraph.FLOAT, batch, (long) kvh, "capacity", (long) hd);
            }
            String a = norm(g, x, "attn_norm_" + i, layer.attnNorm());
            int heads = h + 2 * kvh;
            String qkv = g.op("MatMul", a, g.weight("qkv_" + i, padColumns(layer.qkv(), d, 2 * width, heads), d, (long) heads * hd));
            if (layer.qkvBias() != null) { // Qwen2's q/k/v biases, laid out like the projection's columns
                qkv = g.op("Add", qkv, g.weight("qkv_bias_" + i, padColumns(layer.qkvBias(), 1, 2 * width, heads), (long) heads * hd));
            }
            // The query weights are pre-scaled by 1/sqrt(hd) in LlamaWeights: scale 1 here.
            String presentKey = "present_key_" + i + presentSuffix;
            String presentValue = "present_value_" + i + presentSuffix;
            String[] att = g.msOps("GroupQueryAttention", new String[] {null, presentKey, presentValue},
                    List.of(Attr.of("num_heads", (long) h), Attr.of("kv_num_heads", (long) kvh), Attr.of("scale", 1f),
                            Attr.of("do_rotary", 1L), Attr.of("rotary_interleaved", 0L)),
                    qkv, "", "", pk, pv, lengths.seqlens(), lengths.total(), lengths.cos(), lengths.sin());
            g.output(presentKey, OnnxGraph.FLOAT, batch, (long) kvh, "capacity", (long) hd);
            g.output(presentValue, OnnxGraph.FLOAT, batch, (long) kvh, "capacity", (long) hd);
            x = g.op("Add", x, g.op("MatMul", att[0], g.weight("out_" + i, padRows(layer.out(), h), (long) h * hd, d)));
            String m = norm(g, x, "mlp_norm_" + i, layer.mlpNorm());
            String[] gu = g.ops("Split", 2, List.of(Attr.of("axis", -1L)), g.op("MatMul", m, g.weight("gate_up_" + i, layer.gateUp(), d,
                    2L * w.ffn)), g.longs("split_ffn", w.ffn, w.ffn));
            String act = g.op("Mul", g.msOps("QuickGelu", new String[1], List.of(Attr.of("alpha", 1f)), gu[0])[0], gu[1]);
            x = g.op("Add", x, g.op("MatMul", act, g.weight("down_" + i, layer.down(), w.ffn, d)));
        }
        return x;
    }

    /**
     * The head size of the exported graphs: ORT's {@code GroupQueryAttention} takes multiples
     * of 16 only, so smaller heads are padded with zeros. Each head's two rotate-half halves
     * go to the two halves of the padded head, so RoPE pairs the same columns; zero columns of
     * Q and K add nothing to a score, zero columns of V give zero outputs, which meet zero
     * rows of the output projection.
     */
    public static int paddedHeadDim(int headDim) {
        return (headDim + 15) / 16 * 16;
    }

    /** Where column {@code j} of a head goes in the padded head. */
    private int padded(int j) {
        int half = w.headDim / 2;
        return j < half ? j : j - half + paddedHeadDim(w.headDim) / 2;
    }

    /**
     * The first {@code heads·hd} of the {@code cols} columns of a {@code [rows, cols]} matrix
     * (the folded projection: Q pre-scaled, K, V, without their rotate-half images), each
     * head's columns placed as {@link #padded}.
     */
    private float[] padColumns(float[] folded, int rows, int cols, int heads) {
        int hd = w.headDim;
        int hp = paddedHeadDim(hd);
        float[] out = new float[rows * heads * hp];
        for (int r = 0; r < rows; r++) {
            for (int h = 0; h < heads; h++) {
                for (int j = 0; j < hd; j++) {
                    out[r * heads * hp + h * hp + padded(j)] = folded[r * cols + h * hd + j];
                }
            }
        }
        return out;
    }

    /** The {@code [h·hd, d]} output projection with each head's rows placed as {@link #padded}. */
    private float[] padRows(float[] out, int heads) {
        int hd = w.headDim;
        int hp = paddedHeadDim(hd);
        if (hp == hd) {
            return out;
        }
        float[] p = new float[heads * hp * w.dim];
        for (int h = 0; h < heads; h++) {
            for (int j = 0; j < hd; j++) {
                System.arraycopy(out, (h * hd + j) * w.dim, p, (h * hp + padded(j)) * w.dim, w.dim);
            }
        }
        return p;
    }

    /** RoPE's {@code [context, hp/2]} cos or sin table (rotate-half pairing as {@link LlamaWeights#ropeTable}; padding: cos 1, sin 0). */
    private float[] rope(boolean cos) {
        int half = w.headDim / 2;
        int hp = paddedHeadDim(w.headDim) / 2;
        float[] t = new float[w.context * hp];
        for (int pos = 0; pos < w.context; pos++) {
            for (int j = 0; j < hp; j++) {
                double a = j < half ? pos * Math.pow(w.ropeTheta, -2.0 * j / w.headDim) : 0;
                t[pos * hp + j] = (float) (cos ? Math.cos(a) : Math.sin(a));
            }
        }
        return t;
    }

    /** RMSNorm as ORT's one-node {@code SimplifiedLayerNormalization} (default domain). */
    private String norm(OnnxGraph g, String x, String name, float[] gain) {
        return g.op("SimplifiedLayerNormalization", List.of(Attr.of("axis", -1L), Attr.of("epsilon", w.eps)), x,
                g.weight(name, gain, gain.length));
    }
}
