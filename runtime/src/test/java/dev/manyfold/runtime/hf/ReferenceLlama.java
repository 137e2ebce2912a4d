package dev.manyfold.runtime.hf;

/**
 * A LLaMA forward pass written out by hand in doubles over a {@link TinyHf}'s HF-named
 * weights, following {@code transformers}' modeling_llama / modeling_qwen2: RMSNorm, RoPE by
 * rotate-half (or, to show the test can tell them apart, by interleaved pairs), grouped KV
 * heads, causal softmax attention, SwiGLU, final norm and head.
 */
final class ReferenceLlama {
    private ReferenceLlama() {}

    /** Logits {@code [T][V]} of the token sequence. */
    static double[][] logits(TinyHf m, int[] tokens, boolean interleaved) {
        int t = tokens.length;
        double[][] x = new double[t][];
        for (int p = 0; p < t; p++) {
            x[p] = row(m.values.get("model.embed_tokens.weight"), tokens[p], m.dim);
        }
        int group = m.heads / m.kvHeads;
        for (int l = 0; l < m.layers; l++) {
            String pre = "model.layers." + l + ".";
            double[][] q = new double[t][];
            double[][] k = new double[t][];
            double[][] v = new double[t][];
            for (int p = 0; p < t; p++) {
                double[] a = norm(x[p], m.values.get(pre + "input_layernorm.weight"), m.eps);
                q[p] = rope(linear(m, pre + "self_attn.q_proj", a), m.heads, m.headDim, p, m.theta, interleaved);
                k[p] = rope(linear(m, pre + "self_attn.k_proj", a), m.kvHeads, m.headDim, p, m.theta, interleaved);
                v[p] = linear(m, pre + "self_attn.v_proj", a);
            }
            for (int p = 0; p < t; p++) {
                double[] o = new double[m.heads * m.headDim];
                for (int h = 0; h < m.heads; h++) {
                    int kv = h / group;
                    double[] scores = new double[p + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int s = 0; s <= p; s++) {
                        double dot = 0;
                        for (int j = 0; j < m.headDim; j++) {
                            dot += q[p][h * m.headDim + j] * k[s][kv * m.headDim + j];
                        }
                        scores[s] = dot / Math.sqrt(m.headDim);
                        max = Math.max(max, scores[s]);
                    }
                    double sum = 0;
                    for (int s = 0; s <= p; s++) {
                        scores[s] = Math.exp(scores[s] - max);
                        sum += scores[s];
                    }
                    for (int s = 0; s <= p; s++) {
                        for (int j = 0; j < m.headDim; j++) {
                            o[h * m.headDim + j] += scores[s] / sum * v[s][kv * m.headDim + j];
                        }
                    }
                }
                x[p] = add(x[p], linear(m, pre + "self_attn.o_proj", o));
                double[] h = norm(x[p], m.values.get(pre + "post_attention_layernorm.weight"), m.eps);
                double[] gate = linear(m, pre + "mlp.gate_proj", h);
                double[] up = linear(m, pre + "mlp.up_proj", h);
                for (int j = 0; j < gate.length; j++) {
                    gate[j] = gate[j] / (1 + Math.exp(-gate[j])) * up[j];
                }
                x[p] = add(x[p], linear(m, pre + "mlp.down_proj", gate));
            }
        }
        double[][] out = new double[t][];
        for (int p = 0; p < t; p++) {
            double[] h = norm(x[p], m.values.get("model.norm.weight"), m.eps);
            out[p] = matVec(m.values.get(m.tied ? "model.embed_tokens.weight" : "lm_head.weight"), m.vocab, m.dim, h);
        }
        return out;
    }

    private static double[] row(float[] w, int r, int cols) {
        double[] out = new double[cols];
        for (int j = 0; j < cols; j++) {
            out[j] = w[r * cols + j];
        }
        return out;
    }

    private static double[] norm(double[] x, float[] gain, double eps) {
        double ms = 0;
        for (double e : x) {
            ms += e * e;
        }
        double scale = 1 / Math.sqrt(ms / x.length + eps);
        double[] out = new double[x.length];
        for (int j = 0; j < x.length; j++) {
            out[j] = x[j] * scale * gain[j];
        }
        return out;
    }

    private static double[] linear(TinyHf m, String site, double[] x) {
        long[] shape = m.shapes.get(site + ".weight");
        double[] y = matVec(m.values.get(site + ".weight"), (int) shape[0], (int) shape[1], x);
        float[] bias = m.values.get(site + ".bias");
        if (bias != null) {
            for (int i = 0; i < y.length; i++) {
                y[i] += bias[i];
            }
        }
        return y;
    }

    private static double[] matVec(float[] w, int rows, int cols, double[] x) {
        double[] y = new double[rows];
        for (int i = 0; i < rows; i++) {
            double s = 0;
            for (int j = 0; j < cols; j++) {
                s += w[i * cols + j] * x[j];
            }
            y[i] = s;
        }
        return y;
    }

    private static double[] add(double[] a, double[] b) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i] + b[i];
        }
        return out;
    }

    /** Rotates each head's vector: pairs {@code (j, j + hd/2)} (rotate-half) or {@code (2j, 2j + 1)} (interleaved). */
    private static double[] rope(double[] x, int heads, int hd, int pos, double theta, boolean interleaved) {
        double[] out = x.clone();
        int half = hd / 2;
        for (int h = 0; h < heads; h++) {
            for (int j = 0; j < half; j++) {
                double angle = pos * Math.pow(theta, -2.0 * j / hd);
                int a = h * hd + (interleaved ? 2 * j : j);
                int b = h * hd + (interleaved ? 2 * j + 1 : j + half);
                out[a] = x[a] * Math.cos(angle) - x[b] * Math.sin(angle);
                out[b] = x[b] * Math.cos(angle) + x[a] * Math.sin(angle);
            }
        }
        return out;
    }
}
