package dev.manyfold.plugin.ast;

import static dev.manyfold.api.Tensors.own;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.manyfold.api.adapter.AttachedAdapter;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * SLoRB on one site {@code W [out, in]} (AST §5): {@code delta = S·X} with
 * <pre>
 *   X [in/k, in]   X_ij = 1 if i·k ≤ j ≤ (i+1)·k − 1 else 0                       (Eq. 5)
 *   S [out, in/k]  S_ij = (1/k) Σ_{p=jk}^{(j+1)k−1} W0_ip · (1 − M0_ip)          (Eq. 6, mean init)
 * </pre>
 * where M0 is the initial N:M magnitude mask of W0, computed with the same code as the
 * {@code nm} strategy. S·X broadcasts S_ij over the k columns of group j, so at
 * initialisation every k-group sum of {@code M0⊙W0 + S·X} equals the dense sum. With zero
 * init S = 0. X is a fixed buffer unless {@code trainable-projection} makes it a parameter.
 */
public final class Slorb implements AttachedAdapter {
    private final String site;
    private final int rows;
    private final int cols;
    private final int k;
    private final NDArray s;
    private final NDArray x;
    private final Map<String, NDArray> parameters;

    private Slorb(String site, int rows, int cols, int k, NDArray s, NDArray x) {
        this.site = site;
        this.rows = rows;
        this.cols = cols;
        this.k = k;
        this.s = s;
        this.x = x;
        Map<String, NDArray> p = new LinkedHashMap<>();
        p.put("s", s);
        if (x != null) {
            p.put("x", x);
        }
        this.parameters = Collections.unmodifiableMap(p);
    }

    static Slorb attach(SlorbConfig config, String site, NDArray weight, NDManager manager) {
        requireNonNull(config, "config is null");
        requireNonNull(site, "site is null");
        requireNonNull(manager, "manager is null");
        if (weight.getShape().dimension() != 2) {
            throw new IllegalArgumentException("site " + site + " has a " + weight.getShape() + " weight, expected [out, in]");
        }
        int rows = Math.toIntExact(weight.getShape().get(0));
        int cols = Math.toIntExact(weight.getShape().get(1));
        config.checkShape(site, rows, cols);
        int k = config.k();
        int groups = cols / k;
        DataType type = weight.getDataType();
        float[] init = new float[rows * groups];
        if (config.meanInit()) {
            float[] w = dev.manyfold.api.Tensors.floats(weight);
            boolean[] keep = NmMasks.magnitude(w, rows, cols, config.n(), config.m());
            init = groupMeansOfPruned(w, keep, rows, cols, k);
        }
        NDArray s = manager.create(init, new Shape(rows, groups)).toType(type, false);
        NDArray x = null;
        if (config.trainableProjection()) {
            x = manager.create(projection(cols, k), new Shape(groups, cols)).toType(type, false);
        }
        return new Slorb(site, rows, cols, k, s, x);
    }

    /** Eq. 6: {@code S_ij = (1/k) Σ_{p ∈ group j} W_ip · (1 − M_ip)}, row-major {@code [rows, cols/k]}. */
    static float[] groupMeansOfPruned(float[] w, boolean[] keep, int rows, int cols, int k) {
        int groups = cols / k;
        float[] out = new float[rows * groups];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < groups; j++) {
                double sum = 0;
                for (int p = j * k; p < (j + 1) * k; p++) {
                    int idx = i * cols + p;
                    if (!keep[idx]) {
                        sum += w[idx];
                    }
                }
                out[i * groups + j] = (float) (sum / k);
            }
        }
        return out;
    }

    /** Eq. 5, row-major {@code [cols/k, cols]}. */
    static float[] projection(int cols, int k) {
        int groups = cols / k;
        float[] x = new float[groups * cols];
        for (int i = 0; i < groups; i++) {
            for (int j = i * k; j < (i + 1) * k; j++) {
                x[i * cols + j] = 1f;
            }
        }
        return x;
    }

    /** {@code s} and, with a trainable projection, {@code x}. */
    @Override
    public Map<String, NDArray> parameters() {
        return parameters;
    }

    /** {@code (S·X)[:rows, :cols]}. */
    @Override
    public NDArray delta(NDArray weight, int rows, int cols, NDManager manager) {
        NDArray full;
        if (x != null) {
            full = own(manager, s.matMul(x));
        } else {
            int groups = this.cols / k;
            NDArray expanded = own(manager, own(manager, s.expandDims(2)).broadcast(new Shape(this.rows, groups, k)));
            full = own(manager, expanded.reshape(this.rows, this.cols));
        }
        if (rows == this.rows && cols == this.cols) {
            return full;
        }
        return own(manager, full.get(new NDIndex(":{}, :{}", rows, cols)));
    }
    public String site() {
        return site;
    }

    public int k() {
        return k;
    }
}
