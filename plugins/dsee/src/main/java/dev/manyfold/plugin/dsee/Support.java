package dev.manyfold.plugin.dsee;

import static java.util.Objects.requireNonNull;

import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * How the sparse support Ω of a DSEE adapter is chosen from the frozen weight W0, once, before
 * training. Positions are flat row-major indices into the site's {@code [out, in]} weight
 * ({@code index = row · in + col}); a selection is sorted ascending and has no duplicates.
 */
public enum Support {
    /** Ω = the N largest |S| of a GreBsmo decomposition {@code W0 ≈ U·V + S} (the paper's choice). */
    GREBSMO,
    /** Ω = the N largest |W0| (ablation). */
    MAGNITUDE,
    /** Ω = N distinct positions drawn uniformly with the adapter's seed (ablation). */
    RANDOM;

    /** The names a recipe writes: {@code grebsmo}, {@code magnitude}, {@code random}. */
    public static final List<String> NAMES = List.of("grebsmo", "magnitude", "random");

    /** The recipe name of this support. */
    public String recipeName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The support for a recipe name (one of {@link #NAMES}). */
    public static Support fromRecipeName(String name) {
        return valueOf(name.toUpperCase(Locale.ROOT));
    }

    /**
     * Chooses Ω.
     *
     * @param w the weight, row-major {@code [rows, cols]}, not modified
     * @param n |Ω|, in {@code [0, rows · cols]}
     * @param seed used by {@link #RANDOM} and by GreBsmo's random start
     * @param options GreBsmo's settings (ignored by the other supports)
     * @return {@code n} distinct flat indices, ascending
     */
    public int[] select(float[] w, int rows, int cols, int n, long seed, GreBsmo.Options options) {
        requireNonNull(w, "w is null");
        if (w.length != (long) rows * cols) {
            throw new IllegalArgumentException("weight has " + w.length + " values, not [" + rows + ", " + cols + "]");
        }
        if (n < 0 || n > w.length) {
            throw new IllegalArgumentException("cannot choose " + n + " positions of a [" + rows + ", " + cols + "] weight");
        }
        if (n == 0) {
            return new int[0];
        }
        return switch (this) {
            case MAGNITUDE -> {
                double[] magnitude = new double[w.length];
                for (int i = 0; i < w.length; i++) {
                    magnitude[i] = Math.abs(w[i]);
                }
                yield top(magnitude, null, n);
            }
            case RANDOM -> random(w.length, n, seed);
            case GREBSMO -> fromDecomposition(GreBsmo.decompose(w, rows, cols, options, seed), n);
        };
    }

    /**
     * Ω from a GreBsmo decomposition: the N largest |S|; ties (in particular entries S left at
     * zero when it has fewer than N nonzeros) go to the larger |W − U·V|, then to the lower
     * index.
     */
    public static int[] fromDecomposition(GreBsmo.Result result, int n) {
        double[] s = result.sparse();
        double[] r = result.lowRankResidual();
        for (int i = 0; i < s.length; i++) {
            s[i] = Math.abs(s[i]);
            r[i] = Math.abs(r[i]);
        }
        return top(s, r, n);
    }

    /**
     * The {@code n} indices with the largest {@code primary} score, ties broken by the larger
     * {@code secondary} score (when given), then by the lower index; ascending.
     */
    static int[] top(double[] primary, double[] secondary, int n) {
        // The head of the queue is the worst index kept so far.
        PriorityQueue<Integer> kept = new PriorityQueue<>(n, (a, b) -> compare(primary, secondary, b, a));
        for (int i = 0; i < primary.length; i++) {
            if (kept.size() < n) {
                kept.add(i);
            } else if (compare(primary, secondary, i, kept.peek()) < 0) {
                kept.poll();
                kept.add(i);
            }
        }
        int[] out = kept.stream().mapToInt(Integer::intValue).toArray();
        Arrays.sort(out);
        return out;
    }

    /** Negative when index {@code a} ranks before (is better than) index {@code b}. */
    private static int compare(double[] primary, double[] secondary, int a, int b) {
        int c = Double.compare(primary[b], primary[a]);
        if (c == 0 && secondary != null) {
            c = Double.compare(secondary[b], secondary[a]);
        }
        return c != 0 ? c : Integer.compare(a, b);
    }

    /** {@code n} distinct values of {@code [0, size)} by Floyd's algorithm, ascending. */
    static int[] random(int size, int n, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        Set<Integer> chosen = new HashSet<>();
        for (int j = size - n; j < size; j++) {
            int t = random.nextInt(j + 1);
            chosen.add(chosen.contains(t) ? j : t);
        }
        int[] out = chosen.stream().mapToInt(Integer::intValue).toArray();
        Arrays.sort(out);
        return out;
    }
}
