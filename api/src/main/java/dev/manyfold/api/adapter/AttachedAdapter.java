package dev.manyfold.api.adapter;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Map;

/**
 * One adapter instance on one site. Not thread-safe for training; {@link #delta} may be
 * called concurrently for inference once training has finished.
 */
public interface AttachedAdapter {
    /**
     * The trainable parameters by local name (e.g. {@code "u"}, {@code "v"}), owned by the
     * parameter manager given to {@link Adapter#attach}. The host prefixes them with the
     * site name in checkpoints and hands them to the optimiser.
     */
    Map<String, NDArray> parameters();

    /**
     * The change to the effective weight for the prefix slice {@code [rows, cols]} of the
     * site (a sub-model may use fewer rows or columns than the full shape). Must be
     * differentiable with respect to {@link #parameters()}.
     *
     * <p>The host guarantees {@code 1 ≤ rows ≤ out} and {@code 1 ≤ cols ≤ in} of the site the
     * adapter was attached to; implementations need not check them again.
     *
     * @param weight the (masked, sliced) base weight {@code [rows, cols]}, read only
     * @param manager owns the returned array and every intermediate
     * @return {@code [rows, cols]}, owned by {@code manager}
     */
    NDArray delta(NDArray weight, int rows, int cols, NDManager manager);

    /**
     * Number of trainable scalars (for "trainable params: X || all params: Y"); by default
     * the total size of {@link #parameters()}.
     */
    default long trainableParameters() {
        long total = 0;
        for (NDArray p : parameters().values()) {
            total += p.getShape().size();
        }
        return total;
    }
}
