package dev.manyfold.api.prune;

import static java.util.Objects.requireNonNull;

import java.util.List;

/**
 * The attention heads of a model, for structured (head) pruning. Head {@code h} of a layer
 * owns rows {@code [h·headDim, (h+1)·headDim)} of its query, key and value projections and
 * the same columns of its output projection.
 *
 * @param layers one entry per attention layer, in depth order
 * @param headDim the width of one head
 */
public record AttentionLayout(List<Layer> layers, int headDim) {
    public AttentionLayout {
        layers = List.copyOf(layers);
        if (headDim < 1) {
            throw new IllegalArgumentException("headDim must be ≥ 1, got " + headDim);
        }
    }

    /**
     * One attention layer.
     *
     * @param q the query projection's site name ({@code [heads·headDim, dim]})
     * @param k the key projection's site name
     * @param v the value projection's site name
     * @param o the output projection's site name ({@code [dim, heads·headDim]})
     * @param heads query heads of this layer
     * @param kvHeads key/value heads of this layer (equal to {@code heads} unless grouped)
     */
    public record Layer(String q, String k, String v, String o, int heads, int kvHeads) {
        public Layer {
            requireNonNull(q, "q is null");
            requireNonNull(k, "k is null");
            requireNonNull(v, "v is null");
            requireNonNull(o, "o is null");
        }
    }
}
