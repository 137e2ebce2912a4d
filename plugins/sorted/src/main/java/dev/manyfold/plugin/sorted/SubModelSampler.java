package dev.manyfold.plugin.sorted;

import static java.util.Objects.requireNonNull;

import dev.manyfold.api.SubModel;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * SortedNet Eq. 1 bound to one model: draws {@code θ*_t = ⋂_j Dim_j ↓ b_j}, with each
 * {@code b_j ~ P_{B_j}} drawn independently per dimension, and keeps the visited set
 * {@code Θ} with a count per sub-model.
 *
 * <p>Per dimension, {@code P_{B_j}} is one of
 * <ul>
 *   <li><b>uniform</b> over {@code B_j} (no {@code weights}, no {@code fixed});
 *   <li><b>weighted</b>: {@code P(b_i) = w_i / Σ w} ({@code weights});
 *   <li><b>fixed</b>: not random; the {@code k}-th draw of this sampler takes entry
 *       {@code k mod n} of the {@code fixed} list ({@code k} counts draws from 0 in call order,
 *       so a resumed run restarts the cycle).
 * </ul>
 * Dimensions are visited in name order and every random choice comes from the {@link Random}
 * passed to {@link #sample}, so a seeded generator repeats the draws exactly.
 *
 * <p>The lattice of targeted sub-models is the product of the per-dimension budget lists. It
 * is indexed in mixed radix over the dimensions in name order, the last name varying
 * fastest, so index 0 is {@link #smallest()} and the last index {@link #largest()}; it is never
 * materialised unless asked for.
 *
 * <p>Thread-safe: the draw counter and visit counts are atomic, the rest is immutable.
 */
public final class SubModelSampler {
    /** One dimension bound to the model: ascending budgets and how to draw one. */
    record Axis(String name, List<Integer> budgets, List<Double> weights, int[] fixed) {
        Axis {
            requireNonNull(name, "name is null");
            budgets = List.copyOf(budgets);
            if (budgets.isEmpty()) {
                throw new IllegalArgumentException("no budgets for " + name);
            }
            if (weights != null) {
                weights = List.copyOf(weights);
                if (weights.size() != budgets.size()) {
                    throw new IllegalArgumentException(weights.size() + " weights for " + budgets.size() + " budgets of " + name);
                }
            }
            if (fixed != null) {
                fixed = fixed.clone();
                if (fixed.length == 0) {
                    throw new IllegalArgumentException("empty fixed list for " + name);
                }
                for (int i : fixed) {
                    if (i < 0 || i >= budgets.size()) {
                        throw new IllegalArgumentException("fixed index " + i + " outside the budgets of " + name);
                    }
                }
            }
        }

        int size() {
            return budgets.size();
        }

        String distribution() {
            return fixed != null ? "fixed" : weights != null ? "weighted" : "uniform";
        }
    }

    private final List<Axis> axes;
    private final double[][] cumulative;
    private final AtomicLong draws = new AtomicLong();
    private final ConcurrentHashMap<SubModel, Long> visits = new ConcurrentHashMap<>();

    SubModelSampler(List<Axis> axes) {
        List<Axis> sorted = new ArrayList<>(axes);
        sorted.sort(Comparator.comparing(Axis::name));
        for (int i = 1; i < sorted.size(); i++) {
            if (sorted.get(i).name().equals(sorted.get(i - 1).name())) {
                throw new IllegalArgumentException("dimension " + sorted.get(i).name() + " given twice");
            }
        }
        if (sorted.isEmpty()) {
            throw new IllegalArgumentException("no dimensions");
        }
        this.axes = List.copyOf(sorted);
        this.cumulative = new double[sorted.size()][];
        for (int j = 0; j < sorted.size(); j++) {
            List<Double> w = sorted.get(j).weights();
            if (w != null) {
                double total = 0;
                for (double x : w) {
                    if (!(x >= 0) || !Double.isFinite(x)) {
                        throw new IllegalArgumentException("weight " + x + " of " + sorted.get(j).name());
                    }
                    total += x;
                }
                if (!(total > 0)) {
                    throw new IllegalArgumentException("all weights of " + sorted.get(j).name() + " are zero");
                }
                double[] c = new double[w.size()];
                double run = 0;
                for (int i = 0; i < c.length; i++) {
                    run += w.get(i) / total;
                    c[i] = run;
                }
                cumulative[j] = c;
            }
        }
    }

    /**
     * Draws one sub-model (Eq. 1) and adds it to the visited set.
     *
     * @param random the only source of randomness; fixed dimensions consume none
     */
    public SubModel sample(Random random) {
        requireNonNull(random, "random is null");
        long k = draws.getAndIncrement();
        Map<String, Integer> budgets = new LinkedHashMap<>();
        for (int j = 0; j < axes.size(); j++) {
            Axis axis = axes.get(j);
            int index;
            if (axis.fixed() != null) {
                index = axis.fixed()[(int) Math.floorMod(k, (long) axis.fixed().length)];
            } else if (cumulative[j] != null) {
                index = pick(cumulative[j], random.nextDouble());
            } else {
                index = random.nextInt(axis.size());
            }
            budgets.put(axis.name(), axis.budgets().get(index));
        }
        SubModel sub = SubModel.of(budgets);
        visits.merge(sub, 1L, Long::sum);
        return sub;
    }

    /** The first index whose cumulative probability exceeds {@code u}; never a zero-weight index. */
    private static int pick(double[] cumulative, double u) {
        int lastPositive = -1;
        for (int i = 0; i < cumulative.length; i++) {
            double previous = i == 0 ? 0 : cumulative[i - 1];
            if (cumulative[i] > previous) {
                lastPositive = i;
                if (u < cumulative[i]) {
                    return i;
                }
            }
        }
        // u fell into the rounding gap just below 1.0.
        return lastPositive;
    }

    /** The dimensions, sorted by name. */
    public List<String> dimensions() {
        return axes.stream().map(Axis::name).toList();
    }

    /** The ascending budgets per dimension, dimensions sorted by name. */
    public Map<String, List<Integer>> budgets() {
        Map<String, List<Integer>> out = new LinkedHashMap<>();
        for (Axis a : axes) {
            out.put(a.name(), a.budgets());
        }
        return Collections.unmodifiableMap(out);
    }

    /**
     * The probability of each budget per dimension (same order as {@link #budgets}); for a
     * fixed dimension, the long-run share of each budget in the cycle.
     */
    public Map<String, List<Double>> probabilities() {
        Map<String, List<Double>> out = new LinkedHashMap<>();
        for (int j = 0; j < axes.size(); j++) {
            Axis a = axes.get(j);
            List<Double> p = new ArrayList<>();
            for (int i = 0; i < a.size(); i++) {
                if (a.fixed() != null) {
                    int count = 0;
                    for (int f : a.fixed()) {
                        count += f == i ? 1 : 0;
                    }
                    p.add((double) count / a.fixed().length);
                } else if (cumulative[j] != null) {
                    p.add(cumulative[j][i] - (i == 0 ? 0 : cumulative[j][i - 1]));
                } else {
                    p.add(1.0 / a.size());
                }
            }
            out.put(a.name(), List.copyOf(p));
        }
        return Collections.unmodifiableMap(out);
    }

    /** {@code uniform}, {@code weighted} or {@code fixed} per dimension, sorted by name. */
    public Map<String, String> distributions() {
        Map<String, String> out = new LinkedHashMap<>();
        axes.forEach(a -> out.put(a.name(), a.distribution()));
        return Collections.unmodifiableMap(out);
    }

    /** Whether any dimension has weights or a fixed cycle (i.e. is not uniform). */
    boolean hasNonUniform() {
        return axes.stream().anyMatch(a -> a.weights() != null || a.fixed() != null);
    }

    /** The smallest targeted sub-model: the smallest budget of every dimension. */
    public SubModel smallest() {
        Map<String, Integer> b = new LinkedHashMap<>();
        axes.forEach(a -> b.put(a.name(), a.budgets().get(0)));
        return SubModel.of(b);
    }

    /** The largest targeted sub-model: the largest budget of every dimension. */
    public SubModel largest() {
        Map<String, Integer> b = new LinkedHashMap<>();
        axes.forEach(a -> b.put(a.name(), a.budgets().get(a.size() - 1)));
        return SubModel.of(b);
    }

    /** The number of targeted sub-models (the product of the budget counts). */
    public long latticeSize() {
        return size(fullCounts());
    }

    /** Every targeted sub-model, in lattice order (smallest first, largest last). */
    public List<SubModel> lattice() {
        return lattice(0);
    }

    /**
     * The targeted sub-models, at most {@code cap} of them ({@code cap <= 0}: all), chosen by
     * {@link #evenlySpaced}: always the smallest and the largest, the rest evenly spread in
     * lattice order. The choice depends only on the lattice, never on a random draw.
     */
    public List<SubModel> lattice(int cap) {
        return select(fullCounts(), cap);
    }

    /** The number of targeted sub-models contained in {@code top} (≤ on every dimension). */
    public long containedSize(SubModel top) {
        return size(countsBelow(top));
    }

    /**
     * The targeted sub-models contained in {@code top} (≤ on every dimension, {@code top}
     * included when targeted), in lattice order, at most {@code cap} of them ({@code cap <= 0}:
     * all). With a cap the selection is {@link #evenlySpaced}, so it always holds the smallest
     * sub-model and {@code top} itself (the last one in order).
     */
    public List<SubModel> containedIn(SubModel top, int cap) {
        return select(countsBelow(top), cap);
    }

    /** Total draws made by {@link #sample}. */
    public long draws() {
        return draws.get();
    }

    /**
     * The visited set {@code Θ} of Eq. 1: every sub-model drawn by {@link #sample} with the
     * number of times it was drawn, in lattice order. A snapshot.
     */
    public Map<SubModel, Long> visits() {
        return ordered(visits);
    }

    /** A snapshot of {@code counts} ordered by lattice position. */
    Map<SubModel, Long> ordered(Map<SubModel, Long> counts) {
        List<Map.Entry<SubModel, Long>> list = new ArrayList<>(counts.entrySet());
        list.sort(Comparator.comparing(Map.Entry::getKey, this::compare));
        Map<SubModel, Long> out = new LinkedHashMap<>();
        list.forEach(e -> out.put(e.getKey(), e.getValue()));
        return Collections.unmodifiableMap(out);
    }

    private int compare(SubModel a, SubModel b) {
        for (Axis axis : axes) {
            int c = Integer.compare(a.budgetOr(axis.name(), Integer.MAX_VALUE), b.budgetOr(axis.name(), Integer.MAX_VALUE));
            if (c != 0) {
                return c;
            }
        }
        return a.toString().compareTo(b.toString());
    }

    /**
     * {@code k} distinct indices out of {@code [0, n)}: {@code floor(i·(n−1)/(k−1))} for
     * {@code i = 0..k−1}, so the first and last index are always included ({@code k = 1}
     * gives only the last). All of them when {@code k <= 0} or {@code k >= n}.
     */
    static long[] evenlySpaced(long n, int k) {
        if (k <= 0 || k >= n) {
            long[] all = new long[(int) n];
            for (int i = 0; i < n; i++) {
                all[i] = i;
            }
            return all;
        }
        if (k == 1) {
            return new long[] {n - 1};
        }
        long[] out = new long[k];
        for (int i = 0; i < k; i++) {
            // Exact integer arithmetic; i·(n−1) fits in a long for any lattice we accept.
            out[i] = Math.multiplyExact((long) i, n - 1) / (k - 1);
        }
        return out;
    }

    private int[] fullCounts() {
        int[] counts = new int[axes.size()];
        for (int j = 0; j < counts.length; j++) {
            counts[j] = axes.get(j).size();
        }
        return counts;
    }

    private int[] countsBelow(SubModel top) {
        requireNonNull(top, "top is null");
        int[] counts = new int[axes.size()];
        for (int j = 0; j < counts.length; j++) {
            Axis a = axes.get(j);
            int limit = top.budgetOr(a.name(), Integer.MAX_VALUE);
            int c = 0;
            while (c < a.size() && a.budgets().get(c) <= limit) {
                c++;
            }
            counts[j] = c;
        }
        return counts;
    }

    private static long size(int[] counts) {
        long n = 1;
        for (int c : counts) {
            n = Math.multiplyExact(n, (long) c);
        }
        return n;
    }

    private List<SubModel> select(int[] counts, int cap) {
        long n = size(counts);
        if (n == 0) {
            return List.of();
        }
        if (cap <= 0 && n > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("lattice of " + n + " sub-models is too large to list; give a cap");
        }
        List<SubModel> out = new ArrayList<>();
        for (long index : evenlySpaced(n, cap)) {
            out.add(at(counts, index));
        }
        return List.copyOf(out);
    }

    /** The sub-model at a mixed-radix index (last dimension fastest) within {@code counts}. */
    private SubModel at(int[] counts, long index) {
        int[] digits = new int[counts.length];
        long rest = index;
        for (int j = counts.length - 1; j >= 0; j--) {
            digits[j] = (int) (rest % counts[j]);
            rest /= counts[j];
        }
        Map<String, Integer> b = new LinkedHashMap<>();
        for (int j = 0; j < counts.length; j++) {
            b.put(axes.get(j).name(), axes.get(j).budgets().get(digits[j]));
        }
        return SubModel.of(b);
    }
}
