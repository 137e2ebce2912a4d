package dev.manyfold.plugin.dsee;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.adapter.AttachedAdapter;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A DSEE adapter on one site: {@code ΔW = (α/r)·(U·V + P_Ω(S))} on a frozen W0.
 *
 * <h2>Orientation</h2>
 * The spec writes the layer as {@code h = x·W0 + (α/r)(x·U·V + x·P_Ω(S))} with
 * {@code x [*, in]}, so its {@code W0} is {@code [in, out]}, {@code U} the input-side factor
 * and {@code V} the output-side one. A Manyfold site computes {@code y = x·Wᵀ} with
 * {@code W [out, in]}, so the spec's update in site orientation is the transpose:
 * <pre>
 *   u  [in, r]    U, the input-side factor, U ~ N(0, init-std²)
 *   v  [r, out]   V, the output-side factor, V = 0
 *   s  [N]        the values of S on Ω, S = 0
 *   delta [out, in] = (α/r) · ((U·V)ᵀ + P_Ω(S))
 * </pre>
 * Ω is a set of flat row-major positions of the {@code [out, in]} weight
 * ({@code row · in + col}), chosen from W0 at attach time and fixed; P_Ω(S) scatters the N
 * values into a zero {@code [out, in]} array, so S has no dense storage and no gradient
 * outside Ω. With V = 0 and S = 0 the delta is exactly zero, so the adapted model equals the
 * base model at step 0. (Structured head pruning, not implemented yet, is to remove a head's
 * columns of V and its rows of S, and keep U.)
 *
 * <p>LoRA is the same adapter with N = 0 (no {@code s} parameter).
 */
public final class SparseLowRank implements AttachedAdapter {
    private final String site;
    private final int rows;
    private final int cols;
    private final double scale;
    private final NDArray u;
    private final NDArray v;
    private final NDArray s;
    private final NDArray indices;
    private final int[] support;
    private final Map<String, NDArray> parameters;

    private SparseLowRank(String site, int rows, int cols, double scale, NDArray u, NDArray v, NDArray s, NDArray indices,
            int[] support) {
        this.site = site;
        this.rows = rows;
        this.cols = cols;
        this.scale = scale;
        this.u = u;
        this.v = v;
        this.s = s;
        this.indices = indices;
        this.support = support;
        Map<String, NDArray> p = new LinkedHashMap<>();
        p.put("u", u);
        p.put("v", v);
        if (s != null) {
            p.put("s", s);
        }
        this.parameters = Collections.unmodifiableMap(p);
    }

    /**
     * Attaches to a site: chooses Ω from {@code weight} and creates U, V and S in
     * {@code manager}.
     *
     * @param weight W0 {@code [out, in]}, read only
     * @param seed the host's per-site seed; the config's seed offset is mixed in
     * @throws ConfigException when the rank or N does not fit this site
     */
    static SparseLowRank attach(DseeConfig config, String site, NDArray weight, NDManager manager, long seed) {
        requireNonNull(config, "config is null");
        requireNonNull(site, "site is null");
        requireNonNull(weight, "weight is null");
        requireNonNull(manager, "manager is null");
        if (weight.getShape().dimension() != 2) {
            throw new IllegalArgumentException("site " + site + " has a " + weight.getShape() + " weight, expected [out, in]");
        }
        int rows = Math.toIntExact(weight.getShape().get(0));
        int cols = Math.toIntExact(weight.getShape().get(1));
        config.checkShape(site, rows, cols);
        long base = seed + config.seedOffset() * 0x9E3779B97F4A7C15L;
        int r = config.rank();
        DataType type = weight.getDataType();

        SplittableRandom random = new SplittableRandom(mix(base, 1));
        float[] init = new float[cols * r];
        for (int i = 0; i < init.length; i++) {
            init[i] = (float) (random.nextGaussian() * config.initStd());
        }
        NDArray u = manager.create(init, new Shape(cols, r)).toType(type, false);
        NDArray v = manager.zeros(new Shape(r, rows), type);
        NDArray s = null;
        NDArray indices = null;
        int[] support = new int[0];
        if (config.sparse() > 0) {
            float[] w0 = config.support() == Support.RANDOM ? new float[rows * cols] : floats(weight);
            support = config.support().select(w0, rows, cols, config.sparse(), mix(base, 2), config.grebsmo());
            long[] flat = new long[support.length];
            for (int i = 0; i < flat.length; i++) {
                flat[i] = support[i];
            }
            indices = manager.create(flat);
            s = manager.zeros(new Shape(support.length), type);
        }
        return new SparseLowRank(site, rows, cols, config.scale(), u, v, s, indices, support);
    }

    private static float[] floats(NDArray weight) {
        if (weight.getDataType() == DataType.FLOAT32) {
            return weight.toFloatArray();
        }
        try (NDManager scratch = weight.getManager().newSubManager()) {
            NDArray converted = weight.toType(DataType.FLOAT32, true);
            converted.attach(scratch);
            return converted.toFloatArray();
        }
    }

    static long mix(long seed, long stream) {
        long z = seed + stream * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** {@code u}, {@code v} and (when N &gt; 0) {@code s}. */
    @Override
    public Map<String, NDArray> parameters() {
        return parameters;
    }

    @Override
    public NDArray delta(NDArray weight, int rows, int cols, NDManager manager) {
        if (rows < 1 || cols < 1 || rows > this.rows || cols > this.cols) {
            throw new IllegalArgumentException("site " + site + " is [" + this.rows + ", " + this.cols + "], cannot give a ["
                    + rows + ", " + cols + "] delta");
        }
        NDArray uu = cols == this.cols ? u : own(manager, u.get(new NDIndex(":{}, :", cols)));
        NDArray vv = rows == this.rows ? v : own(manager, v.get(new NDIndex(":, :{}", rows)));
        NDArray delta = own(manager, own(manager, uu.matMul(vv)).transpose());
        if (s != null) {
            NDArray dense = own(manager, manager.zeros(new Shape((long) this.rows * this.cols), s.getDataType()));
            NDArray scattered = own(manager, dense.put(indices, s));
            NDArray sparse = own(manager, scattered.reshape(this.rows, this.cols));
            if (rows != this.rows || cols != this.cols) {
                sparse = own(manager, sparse.get(new NDIndex(":{}, :{}", rows, cols)));
            }
            delta = own(manager, delta.add(sparse));
        }
        return own(manager, delta.mul(scale));
    }

    private static NDArray own(NDManager manager, NDArray array) {
        array.attach(manager);
        return array;
    }

    /** The site's dotted name. */
    public String site() {
        return site;
    }

    /** out. */
    public int rows() {
        return rows;
    }

    /** in. */
    public int cols() {
        return cols;
    }

    /** r. */
    public int rank() {
        return Math.toIntExact(u.getShape().get(1));
    }

    /** α / r. */
    public double scale() {
        return scale;
    }

    /** U {@code [in, r]}, the trainable parameter itself. */
    public NDArray u() {
        return u;
    }

    /** V {@code [r, out]}, the trainable parameter itself. */
    public NDArray v() {
        return v;
    }

    /** The N values of S on Ω, the trainable parameter itself; null for LoRA. */
    public NDArray s() {
        return s;
    }

    /** Ω as flat row-major indices into {@code [out, in]}, ascending (a copy). */
    public int[] support() {
        return support.clone();
    }
}
