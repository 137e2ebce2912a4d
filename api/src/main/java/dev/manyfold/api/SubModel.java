package dev.manyfold.api;

import static java.util.Objects.requireNonNull;

import java.util.Map;
import java.util.OptionalInt;
import java.util.TreeMap;

/**
 * An immutable choice of budget per dimension, e.g. {@code {depth=2, width=64}}.
 *
 * <p>A dimension that is not mentioned runs at the model's maximum size, so {@link #FULL}
 * (the empty sub-model) is the whole model. Budgets are applied by the model family as
 * prefix slices of the one shared set of weights (the first {@code b} layers, rows,
 * heads...), never as copies. Thread-safe.
 */
public final class SubModel {
    /** The full model. */
    public static final SubModel FULL = new SubModel(Map.of());

    private final Map<String, Integer> budgets;

    private SubModel(Map<String, Integer> budgets) {
        this.budgets = budgets;
    }

    /** A sub-model with the given budgets; each budget must be ≥ 1. */
    public static SubModel of(Map<String, Integer> budgets) {
        requireNonNull(budgets, "budgets is null");
        TreeMap<String, Integer> sorted = new TreeMap<>();
        budgets.forEach((dimension, budget) -> {
            requireNonNull(dimension, "dimension is null");
            requireNonNull(budget, "budget of " + dimension + " is null");
            if (budget < 1) {
                throw new IllegalArgumentException("budget of " + dimension + " must be >= 1, got " + budget);
            }
            sorted.put(dimension, budget);
        });
        return sorted.isEmpty() ? FULL : new SubModel(java.util.Collections.unmodifiableMap(sorted));
    }

    /** A sub-model with one budget. */
    public static SubModel of(String dimension, int budget) {
        return of(Map.of(dimension, budget));
    }

    /** This sub-model with one budget replaced or added. */
    public SubModel with(String dimension, int budget) {
        TreeMap<String, Integer> copy = new TreeMap<>(budgets);
        copy.put(dimension, budget);
        return of(copy);
    }

    /** The budget of a dimension, if this sub-model restricts it. */
    public OptionalInt budget(String dimension) {
        Integer b = budgets.get(dimension);
        return b == null ? OptionalInt.empty() : OptionalInt.of(b);
    }

    /** The budget of a dimension, or {@code max} when unrestricted. */
    public int budgetOr(String dimension, int max) {
        Integer b = budgets.get(dimension);
        return b == null ? max : b;
    }

    /** All restricted dimensions, sorted by name. */
    public Map<String, Integer> budgets() {
        return budgets;
    }

    /** Whether this is the full model. */
    public boolean isFull() {
        return budgets.isEmpty();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SubModel && ((SubModel) o).budgets.equals(budgets);
    }

    @Override
    public int hashCode() {
        return budgets.hashCode();
    }

    /** {@code full} or {@code depth=2,width=64}. */
    @Override
    public String toString() {
        if (budgets.isEmpty()) {
            return "full";
        }
        StringBuilder sb = new StringBuilder();
        budgets.forEach((d, b) -> sb.append(sb.length() == 0 ? "" : ",").append(d).append('=').append(b));
        return sb.toString();
    }
}
