package dev.manyfold.plugin.dsee;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.adapter.AttachedAdapter;
import java.util.List;

/**
 * Folds adapters into a plain weight for export: {@code W = M ⊙ W0 + Σ ΔW}, so a model
 * without adapters reproduces the adapted model's outputs.
 */
public final class Merge {
    private Merge() {}

    /**
     * The merged dense weight of one site.
     *
     * @param weight W0 {@code [out, in]}, read only
     * @param mask a {@code [out, in]} 0/1 mask applied to W0, or null for none
     * @param adapters the site's adapters, in the order the site composes them
     * @param manager owns the result
     * @return a new {@code [out, in]} array that requires no gradient, owned by {@code manager}
     */
    public static NDArray merge(NDArray weight, NDArray mask, List<? extends AttachedAdapter> adapters, NDManager manager) {
        requireNonNull(weight, "weight is null");
        requireNonNull(adapters, "adapters is null");
        requireNonNull(manager, "manager is null");
        if (weight.getShape().dimension() != 2) {
            throw new IllegalArgumentException("expected a [out, in] weight, got " + weight.getShape());
        }
        if (mask != null && !mask.getShape().equals(weight.getShape())) {
            throw new IllegalArgumentException("mask " + mask.getShape() + " does not match weight " + weight.getShape());
        }
        int rows = Math.toIntExact(weight.getShape().get(0));
        int cols = Math.toIntExact(weight.getShape().get(1));
        try (NDManager scratch = manager.newSubManager()) {
            NDArray w = weight.stopGradient();
            w.attach(scratch);
            if (mask != null) {
                w = w.mul(mask);
                w.attach(scratch);
            }
            for (AttachedAdapter adapter : adapters) {
                NDArray delta = adapter.delta(w, rows, cols, scratch).stopGradient();
                delta.attach(scratch);
                w = w.add(delta);
                w.attach(scratch);
            }
            NDArray merged = w.duplicate();
            merged.attach(manager);
            return merged;
        }
    }

    /** {@link #merge} for one adapter and no mask. */
    public static NDArray merge(NDArray weight, AttachedAdapter adapter, NDManager manager) {
        return merge(weight, null, List.of(requireNonNull(adapter, "adapter is null")), manager);
    }
}
