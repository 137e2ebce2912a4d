package dev.manyfold.api.dimension;

import dev.manyfold.api.ModelShape;
import java.util.List;

/**
 * An axis a model can be cut along (depth, width, heads, ffn, embedding...), with its
 * ordered budgets.
 *
 * <p>A budget {@code b} selects the prefix of size {@code b} along the axis: the first
 * {@code b} layers, hidden units, heads... The model family applies it as a slice view of
 * the shared weights, so a dimension never copies parameters. The dimension's
 * {@link #name()} is the key used in {@link dev.manyfold.api.SubModel}.
 *
 * <p>Lifecycle: created from a recipe section by a {@link DimensionFactory}, then
 * {@link #budgets} is called once the model is built, before training. Instances are
 * immutable and thread-safe.
 */
public interface Dimension {
    /** The dimension key, e.g. {@code "depth"}; the model family must support it. */
    String name();

    /**
     * The budgets of this dimension for the given model, strictly ascending, each in
     * {@code [1, max]} where max is {@code model.dimensions().get(name())}.
     *
     * @throws dev.manyfold.api.ConfigException naming the recipe path of the dimension when a
     *     budget does not fit the model or the family does not support the dimension
     */
    List<Integer> budgets(ModelShape model);

    /**
     * Relative sampling weight of each budget (same order as {@link #budgets}); uniform by
     * default. Used by sampling objectives (SortedNet Eq. 1).
     */
    default List<Double> weights(ModelShape model) {
        int n = budgets(model).size();
        return java.util.Collections.nCopies(n, 1.0 / n);
    }
}
