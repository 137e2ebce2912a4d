package dev.manyfold.runtime.eval;

import static java.util.Objects.requireNonNull;

import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Paired differences over seeds: {@code d_i = a_i − b_i} for seed i, their mean, standard error
 * and a two-sided 95% interval (Student t with {@code n − 1} degrees of freedom), plus a
 * seeded percentile bootstrap of the mean. An ordering "a above b" is claimed only when the
 * whole interval lies above zero ({@link #above()}); with one seed nothing is claimed.
 *
 * <p>Immutable; the inputs are copied.
 */
public final class Paired {
    /** Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom. */
    private static final double[] T975 = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201,
            2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052,
            2.048, 2.045, 2.042};

    private final double[] differences;
    private final double mean;
    private final double standardError;

    private Paired(double[] differences) {
        this.differences = differences;
        int n = differences.length;
        this.mean = Arrays.stream(differences).average().orElseThrow();
        double ss = 0;
        for (double d : differences) {
            ss += (d - mean) * (d - mean);
        }
        this.standardError = n < 2 ? Double.NaN : Math.sqrt(ss / (n - 1) / n);
    }

    /**
     * The paired differences {@code a[i] − b[i]}.
     *
     * @throws IllegalArgumentException when the arrays differ in length, are empty or hold a non-finite value
     */
    public static Paired of(double[] a, double[] b) {
        requireNonNull(a, "a is null");
        requireNonNull(b, "b is null");
        if (a.length != b.length || a.length == 0) {
            throw new IllegalArgumentException("paired samples need the same non-zero length, got " + a.length + " and " + b.length);
        }
        double[] d = new double[a.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = a[i] - b[i];
            if (!Double.isFinite(d[i])) {
                throw new IllegalArgumentException("pair " + i + " is not finite: " + a[i] + " - " + b[i]);
            }
        }
        return new Paired(d);
    }

    /** Already-paired differences (e.g. one per seed). */
    public static Paired ofDifferences(double... differences) {
        return of(differences.clone(), new double[differences.length]);
    }

    /** Number of pairs. */
    public int n() {
        return differences.length;
    }

    /** A copy of the differences, in input order. */
    public double[] differences() {
        return differences.clone();
    }

    /** Mean difference. */
    public double mean() {
        return mean;
    }

    /** Standard error of the mean difference; NaN with one pair. */
    public double standardError() {
        return standardError;
    }

    /** Half-width of the 95% t interval; NaN with one pair. */
    public double halfWidth() {
        int df = n() - 1;
        if (df < 1) {
            return Double.NaN;
        }
        double t = df <= T975.length ? T975[df - 1] : 1.96;
        return t * standardError;
    }

    /** Lower end of the 95% t interval. */
    public double low() {
        return mean - halfWidth();
    }

    /** Upper end of the 95% t interval. */
    public double high() {
        return mean + halfWidth();
    }

    /** True when the 95% interval lies strictly above zero (a above b, beyond seed noise). */
    public boolean above() {
        return n() > 1 && low() > 0;
    }

    /** True when the 95% interval lies strictly below zero. */
    public boolean below() {
        return n() > 1 && high() < 0;
    }

    /** True when the 95% interval contains zero (no ordering is claimed). */
    public boolean inconclusive() {
        return !above() && !below();
    }

    /**
     * A seeded percentile bootstrap interval of the mean: {@code [q(α/2), q(1 − α/2)]} over
     * {@code resamples} resamples with replacement.
     */
    public double[] bootstrap(double confidence, int resamples, long seed) {
        if (!(confidence > 0 && confidence < 1) || resamples < 1) {
            throw new IllegalArgumentException("bootstrap needs 0 < confidence < 1 and resamples >= 1, got " + confidence + ", "
                    + resamples);
        }
        SplittableRandom random = new SplittableRandom(seed);
        int n = n();
        double[] means = new double[resamples];
        for (int r = 0; r < resamples; r++) {
            double s = 0;
            for (int i = 0; i < n; i++) {
                s += differences[random.nextInt(n)];
            }
            means[r] = s / n;
        }
        Arrays.sort(means);
        double alpha = (1 - confidence) / 2;
        int lo = (int) Math.floor(alpha * (resamples - 1));
        int hi = (int) Math.ceil((1 - alpha) * (resamples - 1));
        return new double[] {means[lo], means[hi]};
    }

    /**
     * {@code +1.23 ± 0.45 (95% CI [+0.35, +2.11], n=3)} with the values multiplied by
     * {@code scale} (100 for percentage points) and {@code decimals} digits.
     */
    public String describe(double scale, int decimals) {
        String f = "%+." + decimals + "f";
        if (n() < 2) {
            return String.format(Locale.ROOT, f + " (n=1, no interval)", scale * mean);
        }
        return String.format(Locale.ROOT, f + " ± %." + decimals + "f (95%% CI [" + f + ", " + f + "], n=%d)", scale * mean,
                scale * standardError, scale * low(), scale * high(), n());
    }

    @Override
    public String toString() {
        return describe(1, 4);
    }
}
