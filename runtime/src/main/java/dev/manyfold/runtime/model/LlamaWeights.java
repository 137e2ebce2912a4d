package dev.manyfold.runtime.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.List;

/**
 * A {@link LlamaModel}'s inference weights as plain float arrays, composed and folded the way
 * {@link LlamaSession} folds them, for engines other than DJL (the ONNX export):
 * every site's effective weight (masks and adapters applied), Q/K/V plus their rotate-half
 * images in one matrix with the attention scale folded into Q, gate and up in one matrix,
 * and every matrix transposed to {@code [in, out]} so that a projection is {@code x · W}.
 */
public final class LlamaWeights {
    /**
     * One layer: {@code heads}/{@code kvHeads} honour per-layer pruning; {@code qkvBias}
     * ({@code [2·width]}, laid out like {@code qkv}'s columns) is null without q/k/v biases.
     */
    public record Layer(int heads, int kvHeads, float[] attnNorm, float[] qkv, float[] qkvBias, float[] out, float[] mlpNorm,
            float[] gateUp, float[] down) {
        /** Width of {@code [q | k | v]}: {@code (heads + 2·kvHeads)·headDim}. */
        public int width(int headDim) {
            return (heads + 2 * kvHeads) * headDim;
        }
    }

    public final int vocab;
    public final int dim;
    public final int heads;
    public final int kvHeads;
    public final int headDim;
    public final int ffn;
    public final int context;
    public final float eps;
    public final double ropeTheta;
    /** {@code [V, d]}. */
    public final float[] embed;
    /** {@code [d]}: the shared final norm's gain. */
    public final float[] norm;
    /** {@code [d, V]}: the shared LM head, transposed. */
    public final float[] head;
    public final List<Layer> layers;

    private LlamaWeights(LlamaModel m, NDManager tmp) {
        this.vocab = m.vocabularySize();
        this.dim = m.dim();
        this.heads = m.heads();
        this.kvHeads = m.kvHeads();
        this.headDim = m.headDim();
        this.ffn = m.ffn();
        this.context = m.contextLength();
        this.eps = m.normEps();
        this.ropeTheta = ((Number) m.config().getOrDefault("rope-theta", 10000.0)).doubleValue();
        ParameterStore p = m.parameters();
        this.embed = p.get("embed.weight").toFloatArray();
        this.norm = p.get("norm.weight").toFloatArray();
        this.head = transpose(weight(m, tmp, "lm_head", vocab, dim), vocab, dim);
        List<Integer> layerHeads = m.layerHeads();
        Layer[] built = new Layer[m.layers()];
        int group = heads / kvHeads;
        for (int i = 0; i < built.length; i++) {
            String l = TensorNames.layer(i);
            int h = layerHeads.get(i);
            int kvh = h / group;
            int qd = h * headDim;
            int kd = kvh * headDim;
            float[] wq = weight(m, tmp, l + ".attn.q_proj", qd, dim);
            float scale = (float) (1.0 / Math.sqrt(headDim));
            for (int j = 0; j < wq.length; j++) {
                wq[j] *= scale;
            }
            float[] wk = weight(m, tmp, l + ".attn.k_proj", kd, dim);
            float[] wv = weight(m, tmp, l + ".attn.v_proj", kd, dim);
            float[] rows = concat(wq, wk, wv, rotateHalf(wq, h, dim), rotateHalf(wk, kvh, dim), new float[kd * dim]);
            float[] qkv = transpose(rows, 2 * (qd + 2 * kd), dim);
            float[] bias = null;
            if (m.qkvBias()) {
                float[] bq = p.get(l + ".attn.q_proj.bias").toFloatArray();
                for (int j = 0; j < bq.length; j++) {
                    bq[j] *= scale;
                }
                float[] bk = p.get(l + ".attn.k_proj.bias").toFloatArray();
                bias = concat(bq, bk, p.get(l + ".attn.v_proj.bias").toFloatArray(), rotateHalf(bq, h, 1), rotateHalf(bk, kvh, 1),
                        new float[kd]);
            }
            float[] out = transpose(weight(m, tmp, l + ".attn.o_proj", dim, qd), dim, qd);
            float[] gu = transpose(concat(weight(m, tmp, l + ".mlp.gate_proj", ffn, dim), weight(m, tmp, l + ".mlp.up_proj", ffn, dim)),
                    2 * ffn, dim);
            float[] down = transpose(weight(m, tmp, l + ".mlp.down_proj", dim, ffn), dim, ffn);
            built[i] = new Layer(h, kvh, p.get(l + ".attn_norm.weight").toFloatArray(), qkv, bias, out,
                    p.get(l + ".mlp_norm.weight").toFloatArray(), gu, down);
        }
        this.layers = List.of(built);
    }

    /** Composes the model's weights (the model stays usable). */
    public static LlamaWeights of(LlamaModel model) {
        return Ops.withoutAutograd(model.parameters().manager(), () -> {
            try (NDManager tmp = model.parameters().manager().newSubManager()) {
                return new LlamaWeights(model, tmp);
            }
        });
    }

    /**
     * The RoPE table of a layer with {@code h} query and {@code kvh} KV heads:
     * {@code [context, 2, width]}, row 0 {@code [cos… cos… 1…]}, row 1 {@code [sin… sin… 0…]},
     * so that {@code sum_r (x·[W; rot(W)])[r] · table[pos, r]} is RoPE'd q and k, and v.
     */
    public float[] ropeTable(int h, int kvh) {
        int width = (h + 2 * kvh) * headDim;
        float[] t = new float[context * 2 * width];
        int half = headDim / 2;
        for (int pos = 0; pos < context; pos++) {
            int base = pos * 2 * width;
            for (int head = 0; head < h + kvh; head++) {
                for (int j = 0; j < headDim; j++) {
                    double freq = Math.pow(ropeTheta, -2.0 * (j % half) / headDim);
                    double a = pos * freq;
                    t[base + head * headDim + j] = (float) Math.cos(a);
                    t[base + width + head * headDim + j] = (float) Math.sin(a);
                }
            }
            for (int j = (h + kvh) * headDim; j < width; j++) {
                t[base + j] = 1f;
            }
        }
        return t;
    }

    private static float[] weight(LlamaModel m, NDManager tmp, String site, int rows, int cols) {
        NDArray w = m.site(site).effectiveWeight(tmp, rows, cols).stopGradient();
        return w.toFloatArray();
    }

    /** Rows permuted and negated per head so that {@code x·rot(W)ᵀ = rotate_half(x·Wᵀ)}. */
    private float[] rotateHalf(float[] w, int h, int in) {
        float[] r = new float[w.length];
        int half = headDim / 2;
        for (int head = 0; head < h; head++) {
            for (int j = 0; j < headDim; j++) {
                int src = head * headDim + (j < half ? j + half : j - half);
                int dst = head * headDim + j;
                float sign = j < half ? -1f : 1f;
                for (int c = 0; c < in; c++) {
                    r[dst * in + c] = sign * w[src * in + c];
                }
            }
        }
        return r;
    }

    private static float[] concat(float[]... parts) {
        int n = 0;
        for (float[] p : parts) {
            n += p.length;
        }
        float[] r = new float[n];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, r, at, p.length);
            at += p.length;
        }
        return r;
    }

    /** {@code [rows, cols]} → {@code [cols, rows]}. */
    static float[] transpose(float[] a, int rows, int cols) {
        float[] t = new float[a.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = a[r * cols + c];
            }
        }
        return t;
    }
}
