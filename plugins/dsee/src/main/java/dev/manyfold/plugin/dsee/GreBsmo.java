package dev.manyfold.plugin.dsee;

import static java.util.Objects.requireNonNull;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * GreBsmo (Zhou &amp; Tao 2013, greedy bilateral smoothing) as run by the DSEE authors to
 * choose the sparse support Ω: decompose a pre-trained weight {@code W ≈ U·V + S} with a
 * low-rank {@code U·V} and a hard-thresholded sparse {@code S}, growing the rank greedily.
 *
 * <pre>
 * U ← randn(m, 1); V ← randn(1, n)                         (seeded)
 * for t = 1..T:
 *     S ← 0
 *     repeat K times:
 *         U ← Q of QR((W − S)·Vᵀ)          thin QR, numerically dependent columns dropped
 *         V ← Uᵀ·(W − S)
 *         S ← W − U·V;  S[|S| &lt; λ] ← 0
 *     E ← W − U·V − S;  record ‖E‖_F
 *     stop when the rank has reached the cap
 *     V ← append the first Δr rows of R from QR(E)             (greedy rank increase)
 * </pre>
 *
 * Interpretation for small models (the spec's [D] items), documented here because the
 * paper gives no algorithm box:
 * <ul>
 *   <li>The rank is capped below {@code min(m, n)}: by default at {@code ⌊min(m, n) / 2⌋}
 *       (the reference's T = 100, Δr = 5 on BERT's 768 × 768 stops near rank 500, about
 *       two thirds; a cap near full rank would let U·V absorb all of W and leave S empty).
 *       An explicit {@code maxRank} is still clamped to {@code min(m, n) − 1}. Iterations end
 *       once the cap is reached (more would only repeat the refinement at the same rank).
 *   <li>The hard threshold is relative: {@code λ = threshold · rms(W)}, default
 *       {@code threshold = 1}. (The authors' absolute {@code λ = 0.01} on BERT weights,
 *       rms ≈ 0.04, is {@code threshold ≈ 0.25}; at small scale with the rank capped at half,
 *       that keeps most entries in S and lets the residual creep up between ranks, while
 *       {@code λ = rms} leaves a genuinely sparse S, about 1% of the entries.)
 *   <li>Only the first Δr rows of R are needed from {@code QR(E)}; they equal
 *       {@code Qᵀ·E} for the orthonormal basis {@code Q} of E's first Δr columns
 *       (Gram–Schmidt), which is what is computed, without factorising all of E.
 *   <li>Monotone safeguard: {@code ‖W − U·V − S‖_F} must not increase as the rank grows.
 *       Hard thresholding does not guarantee it (an entry that drops below λ moves from S
 *       back into the residual), so an iteration whose residual exceeds the previous one is
 *       rejected: the previous decomposition is kept and the solver stops (Zhou's GreGoDec
 *       reference code likewise reverts a step whose error grows). An iteration that does not
 *       decrease the residual (beyond rounding) also ends the solve, as converged.
 *       {@link Result#residuals()} is therefore strictly decreasing; {@link Result#rejected()}
 *       says whether the safeguard fired on a genuine increase. {@link Options#authors()}
 *       turns it off (the authors' code keeps every iteration) and takes λ = 0.01 absolute;
 *       {@link Result#rises()} then counts the iterations whose residual rose.
 * </ul>
 *
 * Runs in double precision on plain arrays; the result depends only on W, the options and
 * the seed. Matrices are row-major {@code [rows, cols]}; the decomposition of Wᵀ is the
 * transpose of that of W (up to the random start), so the site's {@code [out, in]}
 * orientation is used as is.
 */
public final class GreBsmo {
    /** Relative change (of the first residual) below which two residuals count as equal. */
    private static final double CONVERGED = 1e-12;

    private GreBsmo() {}

    /** Solver settings. */
    public static final class Options {
        private final int rankStep;
        private final int iterations;
        private final int inner;
        private final double threshold;
        private final int maxRank;
        private final boolean absolute;
        private final boolean safeguard;

        /**
         * @param rankStep Δr, rows added to V per outer iteration (≥ 1; 5 in the spec)
         * @param iterations T, outer iterations (≥ 1; 100 in the spec)
         * @param inner K, inner iterations (≥ 1; 2 in the spec)
         * @param threshold λ relative to rms(W) (≥ 0; default 1)
         * @param maxRank rank cap (clamped to {@code min(m, n) − 1}); 0 means {@code ⌊min(m, n) / 2⌋}
         */
        public Options(int rankStep, int iterations, int inner, double threshold, int maxRank) {
            this(rankStep, iterations, inner, threshold, maxRank, false, true);
        }

        /**
         * @param rankStep Δr, rows added to V per outer iteration (≥ 1; 5 in the spec)
         * @param iterations T, outer iterations (≥ 1; 100 in the spec)
         * @param inner K, inner iterations (≥ 1; 2 in the spec)
         * @param threshold λ: relative to rms(W), or absolute when {@code absolute} (≥ 0)
         * @param maxRank rank cap (clamped to {@code min(m, n) − 1}); 0 means {@code ⌊min(m, n) / 2⌋}
         * @param absolute whether {@code threshold} is the absolute λ (the authors' 0.01) rather than a multiple of rms(W)
         * @param safeguard whether an iteration whose residual rises is rejected and ends the solve (this plugin's
         *     default); without it every iteration is kept, as in the authors' code, and the last decomposition is used
         */
        public Options(int rankStep, int iterations, int inner, double threshold, int maxRank, boolean absolute, boolean safeguard) {
            if (rankStep < 1 || iterations < 1 || inner < 1 || !(threshold >= 0) || maxRank < 0) {
                throw new IllegalArgumentException("invalid GreBsmo options: rankStep " + rankStep + ", iterations " + iterations
                        + ", inner " + inner + ", threshold " + threshold + ", maxRank " + maxRank);
            }
            this.rankStep = rankStep;
            this.iterations = iterations;
            this.inner = inner;
            this.threshold = threshold;
            this.maxRank = maxRank;
            this.absolute = absolute;
            this.safeguard = safeguard;
        }

        /** The authors' settings: Δr = 5, T = 100, K = 2, absolute λ = 0.01, no safeguard (rank capped as in {@link #defaults()}). */
        public static Options authors() {
            return new Options(5, 100, 2, 0.01, 0, true, false);
        }

        /** Whether {@link #threshold()} is the absolute λ. */
        public boolean absolute() {
            return absolute;
        }

        /** Whether a rising residual is rejected (ending the solve) instead of kept. */
        public boolean safeguard() {
            return safeguard;
        }

        /** Δr = 5, T = 100, K = 2 as in the reference; λ = rms(W) and the rank capped at ⌊min(m, n) / 2⌋. */
        public static Options defaults() {
            return new Options(5, 100, 2, 1.0, 0);
        }

        public int rankStep() {
            return rankStep;
        }

        public int iterations() {
            return iterations;
        }

        public int inner() {
            return inner;
        }

        public double threshold() {
            return threshold;
        }

        public int maxRank() {
            return maxRank;
        }

        /** The rank cap for a {@code [rows, cols]} matrix: at least 1, below {@code min(rows, cols)} when that is above 1. */
        public int rankCap(int rows, int cols) {
            int hard = Math.max(1, Math.min(rows, cols) - 1);
            return maxRank == 0 ? Math.max(1, Math.min(rows, cols) / 2) : Math.min(maxRank, hard);
        }
    }

    /** The decomposition and its history. */
    public static final class Result {
        private final int rows;
        private final int cols;
        private final double[] sparse;
        private final double[] lowRankResidual;
        private final int rank;
        private final double lambda;
        private final double[] residuals;
        private final int[] ranks;
        private final boolean rejected;
        private final int rises;

        Result(int rows, int cols, double[] sparse, double[] lowRankResidual, int rank, double lambda, double[] residuals,
                int[] ranks, boolean rejected, int rises) {
            this.rows = rows;
            this.cols = cols;
            this.sparse = sparse;
            this.lowRankResidual = lowRankResidual;
            this.rank = rank;
            this.lambda = lambda;
            this.residuals = residuals;
            this.ranks = ranks;
            this.rejected = rejected;
            this.rises = rises;
        }

        /**
         * How many outer iterations ended with a residual above the previous one: with the
         * safeguard 0 or 1 (the one it rejected, {@link #rejected()}); without it, every rise
         * the solve kept.
         */
        public int rises() {
            return rises;
        }

        /** Outer iterations kept (the length of {@link #residuals()}). */
        public int iterations() {
            return residuals.length;
        }

        public int rows() {
            return rows;
        }

        public int cols() {
            return cols;
        }

        /** S, row-major {@code [rows, cols]} (a copy). */
        public double[] sparse() {
            return sparse.clone();
        }

        /** {@code W − U·V}, row-major (a copy): the part S was thresholded from. */
        public double[] lowRankResidual() {
            return lowRankResidual.clone();
        }

        /** The final rank of U·V. */
        public int rank() {
            return rank;
        }

        /** The absolute hard threshold used. */
        public double lambda() {
            return lambda;
        }

        /** ‖W − U·V − S‖_F after each accepted outer iteration; non-increasing with the safeguard. */
        public double[] residuals() {
            return residuals.clone();
        }

        /** The rank of U·V at each entry of {@link #residuals()}. */
        public int[] ranks() {
            return ranks.clone();
        }

        /** Whether the monotone safeguard rejected an iteration (and ended the solve). */
        public boolean rejected() {
            return rejected;
        }

        /** Number of nonzero entries of S. */
        public int cardinality() {
            int c = 0;
            for (double v : sparse) {
                if (v != 0) {
                    c++;
                }
            }
            return c;
        }
    }

    /**
     * Decomposes {@code w}.
     *
     * @param w row-major {@code [rows, cols]}, not modified
     * @param seed seeds the random start
     */
    public static Result decompose(float[] w, int rows, int cols, Options options, long seed) {
        requireNonNull(w, "w is null");
        requireNonNull(options, "options is null");
        if (rows < 1 || cols < 1 || w.length != (long) rows * cols) {
            throw new IllegalArgumentException("weight has " + w.length + " values, not [" + rows + ", " + cols + "]");
        }
        int m = rows;
        int n = cols;
        double[] a = new double[m * n];
        double sumSq = 0;
        for (int i = 0; i < a.length; i++) {
            a[i] = w[i];
            sumSq += a[i] * a[i];
        }
        double lambda = options.absolute() ? options.threshold() : options.threshold() * Math.sqrt(sumSq / a.length);
        int cap = options.rankCap(m, n);
        SplittableRandom random = new SplittableRandom(seed);
        double[][] v = new double[1][n];
        for (int j = 0; j < n; j++) {
            v[0][j] = random.nextGaussian();
        }
        // U ← randn(m, 1) is overwritten by the first U update before use; drawn to keep the
        // random stream as in the reference.
        for (int i = 0; i < m; i++) {
            random.nextGaussian();
        }

        double[][] bestU = null;
        double[][] bestV = null;
        double[] bestS = null;
        double[] history = new double[options.iterations()];
        int[] rankHistory = new int[options.iterations()];
        int recorded = 0;
        boolean rejected = false;
        int rises = 0;
        double[] s = new double[m * n];
        for (int t = 0; t < options.iterations(); t++) {
            Arrays.fill(s, 0.0);
            double[][] u = null;
            for (int k = 0; k < options.inner(); k++) {
                double[] target = minus(a, s);
                u = orthonormalColumns(timesTransposed(target, m, n, v), m);
                v = transposeTimes(u, target, m, n);
                double[] lowRank = product(u, v, m, n);
                for (int i = 0; i < s.length; i++) {
                    double r = a[i] - lowRank[i];
                    s[i] = Math.abs(r) < lambda ? 0.0 : r;
                }
            }
            double[] e = residual(a, u, v, s, m, n);
            double norm = frobenius(e);
            boolean rose = recorded > 0 && norm > history[recorded - 1] + CONVERGED * history[0];
            if (rose) {
                rises++;
            }
            if (options.safeguard() && recorded > 0 && norm >= history[recorded - 1] - CONVERGED * history[0]) {
                // No longer decreasing: either converged (equal up to rounding) or a genuine increase.
                rejected = rose;
                break;
            }
            history[recorded] = norm;
            rankHistory[recorded] = u.length;
            recorded++;
            bestU = u;
            bestV = v;
            bestS = s.clone();
            if (u.length >= cap || norm == 0) {
                break;
            }
            double[][] added = leadingRows(e, m, n, Math.min(options.rankStep(), cap - u.length));
            if (added.length == 0) {
                break;
            }
            double[][] grown = Arrays.copyOf(v, v.length + added.length);
            System.arraycopy(added, 0, grown, v.length, added.length);
            v = grown;
        }
        double[] lowRank = product(bestU, bestV, bestU.length == 0 ? 0 : m, n);
        double[] lowRankResidual = new double[m * n];
        for (int i = 0; i < lowRankResidual.length; i++) {
            lowRankResidual[i] = a[i] - (lowRank.length == 0 ? 0 : lowRank[i]);
        }
        return new Result(m, n, bestS, lowRankResidual, bestU.length, lambda, Arrays.copyOf(history, recorded),
                Arrays.copyOf(rankHistory, recorded), rejected, rises);
    }

    // ---- dense helpers (row-major; U is stored as r columns of length m) -------------------

    private static double[] minus(double[] a, double[] b) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i] - b[i];
        }
        return out;
    }

    /** {@code A·Vᵀ} as r columns of length m, for A {@code [m, n]} and V {@code r × n}. */
    private static double[][] timesTransposed(double[] a, int m, int n, double[][] v) {
        double[][] out = new double[v.length][m];
        for (int c = 0; c < v.length; c++) {
            double[] vc = v[c];
            double[] oc = out[c];
            for (int i = 0; i < m; i++) {
                double sum = 0;
                int base = i * n;
                for (int j = 0; j < n; j++) {
                    sum += a[base + j] * vc[j];
                }
                oc[i] = sum;
            }
        }
        return out;
    }

    /** {@code Uᵀ·A} as r rows of length n. */
    private static double[][] transposeTimes(double[][] u, double[] a, int m, int n) {
        double[][] out = new double[u.length][n];
        for (int c = 0; c < u.length; c++) {
            double[] uc = u[c];
            double[] oc = out[c];
            for (int i = 0; i < m; i++) {
                double f = uc[i];
                if (f == 0) {
                    continue;
                }
                int base = i * n;
                for (int j = 0; j < n; j++) {
                    oc[j] += f * a[base + j];
                }
            }
        }
        return out;
    }

    /** {@code U·V} row-major {@code [m, n]}. */
    private static double[] product(double[][] u, double[][] v, int m, int n) {
        double[] out = new double[m * n];
        for (int c = 0; c < u.length; c++) {
            double[] uc = u[c];
            double[] vc = v[c];
            for (int i = 0; i < m; i++) {
                double f = uc[i];
                if (f == 0) {
                    continue;
                }
                int base = i * n;
                for (int j = 0; j < n; j++) {
                    out[base + j] += f * vc[j];
                }
            }
        }
        return out;
    }

    private static double[] residual(double[] a, double[][] u, double[][] v, double[] s, int m, int n) {
        double[] lowRank = product(u, v, m, n);
        double[] e = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            e[i] = a[i] - lowRank[i] - s[i];
        }
        return e;
    }

    private static double frobenius(double[] x) {
        double sum = 0;
        for (double d : x) {
            sum += d * d;
        }
        return Math.sqrt(sum);
    }

    /**
     * The Q of a thin QR of the given columns (modified Gram–Schmidt, twice for stability);
     * columns that are numerically dependent on the previous ones are dropped.
     */
    static double[][] orthonormalColumns(double[][] columns, int m) {
        double scale = 0;
        for (double[] c : columns) {
            scale = Math.max(scale, norm(c));
        }
        double tolerance = Math.max(scale, Double.MIN_NORMAL) * 1e-10 * Math.max(m, columns.length);
        double[][] q = new double[columns.length][];
        int kept = 0;
        for (double[] column : columns) {
            double[] x = column.clone();
            for (int pass = 0; pass < 2; pass++) {
                for (int p = 0; p < kept; p++) {
                    double dot = 0;
                    for (int i = 0; i < m; i++) {
                        dot += q[p][i] * x[i];
                    }
                    for (int i = 0; i < m; i++) {
                        x[i] -= dot * q[p][i];
                    }
                }
            }
            double nx = norm(x);
            if (nx <= tolerance) {
                continue;
            }
            for (int i = 0; i < m; i++) {
                x[i] /= nx;
            }
            q[kept++] = x;
        }
        return Arrays.copyOf(q, kept);
    }

    /** The first {@code count} rows of R from {@code QR(E)}: {@code Qᵀ·E} for the basis of E's first columns. */
    private static double[][] leadingRows(double[] e, int m, int n, int count) {
        double[][] columns = new double[Math.min(count, n)][m];
        for (int c = 0; c < columns.length; c++) {
            for (int i = 0; i < m; i++) {
                columns[c][i] = e[i * n + c];
            }
        }
        return transposeTimes(orthonormalColumns(columns, m), e, m, n);
    }

    private static double norm(double[] x) {
        double sum = 0;
        for (double d : x) {
            sum += d * d;
        }
        return Math.sqrt(sum);
    }
}
