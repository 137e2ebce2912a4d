package dev.manyfold.api.prune;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import dev.manyfold.api.adapter.AttachedAdapter;
import java.util.List;

/**
 * One linear site as a global pruning step sees it.
 *
 * @param name the dotted site name, e.g. {@code layers.0.attn.q_proj}
 * @param weight the full base weight W0 {@code [out, in]}: read only, never modify, close or keep
 * @param adapters the site's attached adapters in composition order (their
 *     {@link AttachedAdapter#delta} of the full shape is the site's ΔW); empty when none
 */
public record PruneSite(String name, NDArray weight, List<AttachedAdapter> adapters) {
    public PruneSite {
        requireNonNull(name, "name is null");
        requireNonNull(weight, "weight is null");
        adapters = List.copyOf(adapters);
    }

    /** out. */
    public int rows() {
        return Math.toIntExact(weight.getShape().get(0));
    }

    /** in. */
    public int cols() {
        return Math.toIntExact(weight.getShape().get(1));
    }
}
