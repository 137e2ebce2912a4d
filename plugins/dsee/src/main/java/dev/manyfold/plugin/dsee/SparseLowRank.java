package dev.manyfold.plugin.dsee;

import dev.manyfold.api.objective.Scalars;
import dev.manyfold.api.Tensors;
import static dev.manyfold.api.Tensors.own;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.prune.PrunableAdapter;
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
 * base model at step 0.
 *
 * <h2>Pruning</h2>
 * Ω is a buffer ({@code omega}, int64 {@code [N]}) saved with checkpoints. After unstructured
 * pruning the delta is multiplied by the site's fixed mask ({@link #maskDelta}), so pruned
 * entries of {@code W0 + ΔW} are exactly zero. Structured head pruning ({@link #slice}) keeps U
 * (its input rows for the kept columns), keeps V's columns of the kept output rows, and keeps
 * the entries of S whose row and column are kept, re-indexed into the smaller weight.
 *
 * <p>LoRA is the same adapter with N = 0 (no {@code s} parameter).
 */
public final class SparseLowRank implements PrunableAdapter {
    /** The local name of the Ω buffer. */
    public static final String OMEGA = "omega";

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
    private volatile NDArray deltaMask;

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
        return attach(config, site, weight, manager, seed, message -> {});
    }

    /**
     * As {@link #attach(DseeConfig, String, NDArray, NDManager, long)}; with Ω from GreBsmo,
     * reports one line per site to {@code info}: the rank reached, λ, |S| and how many outer
     * iterations raised the residual (whether the safeguard fired, or how many rises it kept
     * when it is off).
     */
    static SparseLowRank attach(DseeConfig config, String site, NDArray weight, NDManager manager, long seed,
            java.util.function.Consumer<String> info) {
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
            float[] w0 = config.support() == Support.RANDOM ? new float[rows * cols] : Tensors.floats(weight);
            if (config.support() == Support.GREBSMO) {
                GreBsmo.Result result = GreBsmo.decompose(w0, rows, cols, config.grebsmo(), mix(base, 2));
                support = Support.fromDecomposition(result, config.sparse());
                info.accept(grebsmoLine(config, site, result));
            } else {
                support = config.support().select(w0, rows, cols, config.sparse(), mix(base, 2), config.grebsmo());
            }
            long[] flat = new long[support.length];
            for (int i = 0; i < flat.length; i++) {
                flat[i] = support[i];
            }
            indices = manager.create(flat);
            s = manager.zeros(new Shape(support.length), type);
        }
        return new SparseLowRank(site, rows, cols, config.scale(), u, v, s, indices, support);
    }
    /** The GreBsmo report of one site, e.g. {@code ... rank 16 after 4 iterations, λ 0.0311, |S| 40 nonzero; residual rose 1 time (safeguard fired)}. */
    static String grebsmoLine(DseeConfig config, String site, GreBsmo.Result r) {
        GreBsmo.Options o = config.grebsmo();
        String rises = o.safeguard() ? (r.rejected() ? "residual rose: safeguard fired" : "safeguard did not fire")
                : "residual rose in " + r.rises() + " iterations (safeguard off, kept)";
        return String.format(java.util.Locale.ROOT, "%s %s: GreBsmo rank %d after %d iterations, λ %.4g%s, |S| %d nonzero; %s",
                config.path(), site, r.rank(), r.iterations(), r.lambda(), o.absolute() ? " (absolute)" : "", r.cardinality(), rises);
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
        NDArray uu = cols == this.cols ? u : own(manager, u.get(new NDIndex(":{}, :", cols)));
        NDArray vv = rows == this.rows ? v : own(manager, v.get(new NDIndex(":, :{}", rows)));
        NDArray delta = own(manager, own(manager, uu.matMul(vv)).transpose());
        NDArray m = deltaMask;
        if (s != null) {
            NDArray dense = own(manager, manager.zeros(new Shape((long) this.rows * this.cols), s.getDataType()));
            NDArray scattered = own(manager, dense.put(indices, s));
            NDArray sparse = own(manager, scattered.reshape(this.rows, this.cols));
            if (rows != this.rows || cols != this.cols) {
                sparse = own(manager, sparse.get(new NDIndex(":{}, :{}", rows, cols)));
            }
            delta = own(manager, delta.add(sparse));
        }
        if (m != null) {
            NDArray mm = rows == this.rows && cols == this.cols ? m : own(manager, m.get(new NDIndex(":{}, :{}", rows, cols)));
            delta = own(manager, delta.mul(mm));
        }
        return own(manager, Scalars.times(delta, scale));
    }
    /** Ω's flat indices (int64 {@code [N]}) as {@value #OMEGA}; empty for LoRA. */
    @Override
    public Map<String, NDArray> buffers() {
        return indices == null ? Map.of() : Map.of(OMEGA, indices);
    }

    @Override
    public void maskDelta(NDArray mask) {
        if (mask != null && (mask.getShape().dimension() != 2 || mask.getShape().get(0) != rows || mask.getShape().get(1) != cols)) {
            throw new IllegalArgumentException("mask " + mask.getShape() + " does not fit site " + site + " [" + rows + ", " + cols + "]");
        }
        this.deltaMask = mask;
    }

    /** The mask the delta is restricted to, or null. */
    public NDArray deltaMask() {
        return deltaMask;
    }

    /**
     * U's rows of the kept columns, V's columns of the kept rows, and the entries of S (with
     * Ω re-indexed) whose row and column are both kept.
     */
    @Override
    public Map<String, NDArray> slice(int[] keptRows, int[] keptCols, NDManager manager) {
        int[] rowPos = positions(keptRows, rows, "row");
        int[] colPos = positions(keptCols, cols, "column");
        Map<String, NDArray> out = new LinkedHashMap<>();
        out.put("u", gather(u, keptCols, 0, manager));
        out.put("v", gather(v, keptRows, 1, manager));
        if (s != null) {
            float[] values = Tensors.floats(s);
            int kept = 0;
            long[] idx = new long[support.length];
            float[] val = new float[support.length];
            for (int i = 0; i < support.length; i++) {
                int r = rowPos[support[i] / cols];
                int c = colPos[support[i] % cols];
                if (r >= 0 && c >= 0) {
                    idx[kept] = (long) r * keptCols.length + c;
                    val[kept] = values[i];
                    kept++;
                }
            }
            out.put("s", manager.create(java.util.Arrays.copyOf(val, kept)).toType(s.getDataType(), false));
            out.put(OMEGA, manager.create(java.util.Arrays.copyOf(idx, kept)));
        }
        return out;
    }

    private static int[] positions(int[] kept, int size, String what) {
        int[] pos = new int[size];
        java.util.Arrays.fill(pos, -1);
        int previous = -1;
        for (int i = 0; i < kept.length; i++) {
            if (kept[i] <= previous || kept[i] >= size) {
                throw new IllegalArgumentException("kept " + what + "s must be ascending in [0, " + size + "), got "
                        + java.util.Arrays.toString(kept));
            }
            pos[kept[i]] = i;
            previous = kept[i];
        }
        return pos;
    }

    private static NDArray gather(NDArray a, int[] kept, int axis, NDManager manager) {
        long[] idx = new long[kept.length];
        for (int i = 0; i < kept.length; i++) {
            idx[i] = kept[i];
        }
        try (NDManager scratch = manager.newSubManager()) {
            NDArray index = scratch.create(idx);
            NDArray src = a.stopGradient();
            src.attach(scratch);
            NDArray picked = axis == 0 ? src.get(index) : src.transpose().get(index).transpose();
            NDArray copy = picked.duplicate();
            copy.attach(manager);
            return copy;
        }
    }

    /**
     * Rebuilds an adapter from saved tensors ({@code u}, {@code v} and, for DSEE, {@code s} and
     * {@value #OMEGA}); the values are copied into {@code manager}.
     */
    static SparseLowRank restore(DseeConfig config, String site, NDArray weight, Map<String, NDArray> saved, NDManager manager) {
        int rows = Math.toIntExact(weight.getShape().get(0));
        int cols = Math.toIntExact(weight.getShape().get(1));
        NDArray su = saved.get("u");
        NDArray sv = saved.get("v");
        String where = "saved adapter of site " + site + " [" + rows + ", " + cols + "]";
        if (su == null || sv == null || !su.getShape().equals(new Shape(cols, config.rank()))
                || !sv.getShape().equals(new Shape(config.rank(), rows))) {
            throw new ConfigException(config.path(), where + " has u " + (su == null ? "missing" : su.getShape()) + " and v "
                    + (sv == null ? "missing" : sv.getShape()), "u [in, rank] and v [rank, out] with rank " + config.rank());
        }
        DataType type = weight.getDataType();
        NDArray u = manager.zeros(su.getShape(), type);
        NDArray v = manager.zeros(sv.getShape(), type);
        NDArray s = null;
        NDArray indices = null;
        int[] support = new int[0];
        if (config.sparse() > 0) {
            NDArray ss = saved.get("s");
            NDArray so = saved.get(OMEGA);
            if (ss == null || so == null || ss.getShape().dimension() != 1 || !ss.getShape().equals(so.getShape())) {
                throw new ConfigException(config.path(), where + " needs s and " + OMEGA + " of one length",
                        "a checkpoint written with the same dsee settings");
            }
            long[] flat = so.toType(DataType.INT64, false).toLongArray();
            support = new int[flat.length];
            for (int i = 0; i < flat.length; i++) {
                if (flat[i] < 0 || flat[i] >= (long) rows * cols || (i > 0 && flat[i] <= flat[i - 1])) {
                    throw new ConfigException(config.path(), where + " has an invalid support index " + flat[i],
                            "ascending indices in [0, " + (long) rows * cols + ")");
                }
                support[i] = (int) flat[i];
            }
            indices = manager.create(flat);
            s = manager.zeros(ss.getShape(), type);
        }
        return new SparseLowRank(site, rows, cols, config.scale(), u, v, s, indices, support);
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
