package dev.manyfold.runtime.onnx;

import dev.manyfold.runtime.model.LlamaWeights;
import dev.manyfold.runtime.onnx.OnnxGraph.Attr;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds the ONNX graphs of a LLaMA model from its folded {@link LlamaWeights}, one per
 * {@link GraphKey}. Per layer the step graph is about 25 nodes: one RMSNorm node, one
 * projection for Q, K, V and their rotate-half images, RoPE as a multiply by a gathered
 * {@code [cos; sin]} row and a sum, the KV cache appended by {@code Concat} in the layouts
 * matmul wants (keys {@code [kv, hd, S]}, values {@code [kv, S, hd]}), grouped-query
 * attention without repeating K/V, gate and up in one matmul.
 *
 * <p>Inputs: {@code tokens} (int64 {@code [n]}) or {@code hidden} ({@code [n, d]});
 * {@code positions} (int64 {@code [n]}); for non-step graphs {@code mask}
 * ({@code [group·n, S]}, additive, rows repeated per query head in a KV group);
 * {@code past_key_i} {@code [kv_i, hd, P]} and {@code past_value_i} {@code [kv_i, P, hd]}
 * per layer. Outputs: {@code logits} {@code [n, V]}, {@code hidden_out} {@code [n, d]},
 * {@code present_key_i}, {@code present_value_i}.
 */
public final class LlamaGraphs {
    private final LlamaWeights w;
    private final Map<String, String> metadata;
    private final Map<String, float[]> ropeTables = new HashMap<>();

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
        OnnxGraph g = new OnnxGraph("manyfold_llama_" + key.fileName().replace(".onnx", ""));
        Object n = key.step() ? (Object) 1L : "n";
        int d = w.dim;
        int hd = w.headDim;
        String x = key.tokens() ? g.op("Gather", List.of(Attr.of("axis", 0L)), g.weight("embed", w.embed, w.vocab, d),
                g.input("tokens", OnnxGraph.INT64, n)) : g.input("hidden", OnnxGraph.FLOAT, n, d);
        if (key.hasLayers()) {
            String positions = g.input("positions", OnnxGraph.INT64, n);
            String mask = key.step() ? null : g.input("mask", OnnxGraph.FLOAT, "gn", "total");
            Map<String, String> tables = new HashMap<>();
            for (int i = key.from(); i < key.to(); i++) {
                LlamaWeights.Layer layer = w.layers.get(i);
                int h = layer.heads();
                int kvh = layer.kvHeads();
                int group = h / kvh;
                int width = layer.width(hd);
                String tableName = "rope_" + h + "_" + kvh;
                String table = tables.computeIfAbsent(tableName, t -> g.op("Gather", List.of(Attr.of("axis", 0L)),
                        g.weight(t, ropeTables.computeIfAbsent(t, u -> w.ropeTable(h, kvh)), w.context, 2, width), positions));
                String pk = g.input("past_key_" + i, OnnxGraph.FLOAT, (long) kvh, (long) hd, "past");
                String pv = g.input("past_value_" + i, OnnxGraph.FLOAT, (long) kvh, "past", (long) hd);
                String a = norm(g, x, "attn_norm_" + i, layer.attnNorm());
                String proj = g.op("MatMul", a, g.weight("qkv_" + i, layer.qkv(), d, 2L * width));
                if (layer.qkvBias() != null) { // Qwen2's q/k/v biases, laid out like the projection's columns
                    proj = g.op("Add", proj, g.weight("qkv_bias_" + i, layer.qkvBias(), 2L * width));
                }
                String roped = g.op("ReduceSum", List.of(Attr.of("keepdims", 0L)),
                        g.op("Mul", g.op("Reshape", proj, g.longs("shape_n2w_" + width, -1, 2, width)), table), g.longs("axis1", 1));
                String[] qkv = g.ops("Split", 3, List.of(Attr.of("axis", 1L)), roped,
                        g.longs("split_" + h + "_" + kvh, (long) h * hd, (long) kvh * hd, (long) kvh * hd));
                String q;
                String k;
                String v;
                if (key.step()) {
                    q = g.op("Reshape", qkv[0], g.longs("shape_q1_" + h, kvh, group, hd));
                    k = g.op("Reshape", qkv[1], g.longs("shape_k1_" + kvh, kvh, hd, 1));
                    v = g.op("Reshape", qkv[2], g.longs("shape_v1_" + kvh, kvh, 1, hd));
                } else {
                    q = g.op("Reshape", g.op("Transpose", List.of(Attr.ints("perm", 1, 0, 2)),
                            g.op("Reshape", qkv[0], g.longs("shape_nh_" + h, -1, h, hd))), g.longs("shape_qg_" + kvh, kvh, -1, hd));
                    String kvShape = g.longs("shape_nkv_" + kvh, -1, kvh, hd);
                    k = g.op("Transpose", List.of(Attr.ints("perm", 1, 2, 0)), g.op("Reshape", qkv[1], kvShape));
                    v = g.op("Transpose", List.of(Attr.ints("perm", 1, 0, 2)), g.op("Reshape", qkv[2], kvShape));
                }
                String keys = g.opTo("present_key_" + i, "Concat", List.of(Attr.of("axis", 2L)), pk, k);
                String values = g.opTo("present_value_" + i, "Concat", List.of(Attr.of("axis", 1L)), pv, v);
                g.output(keys, OnnxGraph.FLOAT, (long) kvh, (long) hd, "total");
                g.output(values, OnnxGraph.FLOAT, (long) kvh, "total", (long) hd);
                String scores = g.op("MatMul", q, keys);
                if (mask != null) {
                    scores = g.op("Add", scores, mask);
                }
                String o = g.op("MatMul", g.op("Softmax", List.of(Attr.of("axis", -1L)), scores), values);
                if (key.step()) {
                    o = g.op("Reshape", o, g.longs("shape_o1_" + h, 1, (long) h * hd));
                } else {
                    o = g.op("Reshape", g.op("Transpose", List.of(Attr.ints("perm", 1, 0, 2)),
                            g.op("Reshape", o, g.longs("shape_hn_" + h, h, -1, hd))), g.longs("shape_no_" + h, -1, (long) h * hd));
                }
                x = g.op("Add", x, g.op("MatMul", o, g.weight("out_" + i, layer.out(), (long) h * hd, d)));
                String m = norm(g, x, "mlp_norm_" + i, layer.mlpNorm());
                String[] gu = g.ops("Split", 2, List.of(Attr.of("axis", 1L)), g.op("MatMul", m, g.weight("gate_up_" + i, layer.gateUp(), d,
                        2L * w.ffn)), g.longs("split_ffn", w.ffn, w.ffn));
                String act = g.op("Mul", g.op("Mul", gu[0], g.op("Sigmoid", gu[0])), gu[1]);
                x = g.op("Add", x, g.op("MatMul", act, g.weight("down_" + i, layer.down(), w.ffn, d)));
            }
        }
        if (key.hidden()) {
            g.opTo("hidden_out", "Identity", List.of(), x);
            g.output("hidden_out", OnnxGraph.FLOAT, n, d);
        }
        if (key.logits()) {
            g.opTo("logits", "MatMul", List.of(), norm(g, x, "norm", w.norm), g.weight("head", w.head, d, w.vocab));
            g.output("logits", OnnxGraph.FLOAT, n, w.vocab);
        }
        Map<String, String> meta = new java.util.LinkedHashMap<>(metadata);
        meta.put(OnnxExport.META_GRAPH, key.fileName());
        meta.put(OnnxExport.META_LAYERS, key.from() + "-" + key.to());
        return g.toModel(meta);
    }

    /** RMSNorm as ORT's one-node {@code SimplifiedLayerNormalization} (default domain). */
    private String norm(OnnxGraph g, String x, String name, float[] gain) {
        return g.op("SimplifiedLayerNormalization", List.of(Attr.of("axis", -1L), Attr.of("epsilon", w.eps)), x,
                g.weight(name, gain, gain.length));
    }
}
