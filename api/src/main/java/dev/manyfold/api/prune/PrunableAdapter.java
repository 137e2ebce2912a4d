package dev.manyfold.api.prune;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.adapter.AttachedAdapter;
import java.util.Map;

/**
 * An {@link AttachedAdapter} that takes part in pruning.
 *
 * <p>Contract with the host:
 * <ul>
 *   <li>{@link #buffers()}: non-trainable tensors that define the adapter besides its
 *       parameters (for example the flat indices of a sparse support). The host saves them in
 *       checkpoints as {@code adapters.<i>.<site>.<name>}, next to the parameters, and hands
 *       them back to {@link RestorableAdapter#restore} when the checkpoint is loaded.</li>
 *   <li>{@link #maskDelta}: after a fixed mask is set on the site, the host calls this so that
 *       {@code delta} is multiplied by the mask: the site's effective weight
 *       {@code M ⊙ W0 + M ⊙ ΔW} is then exactly zero where {@code M} is 0, and no gradient reaches
 *       the adapter's parameters through those entries.</li>
 *   <li>{@link #slice}: when structured pruning keeps only some output rows and input columns of
 *       the site, the host asks for the adapter's tensors restricted to them (parameters and
 *       buffers, by local name) and re-attaches the adapter to the smaller site from them.</li>
 * </ul>
 */
public interface PrunableAdapter extends AttachedAdapter {
    /** Non-trainable tensors by local name (not in {@link #parameters()}); empty by default. */
    default Map<String, NDArray> buffers() {
        return Map.of();
    }

    /**
     * Restricts the delta to a fixed mask from now on.
     *
     * @param mask {@code [out, in]} 0/1 of the site's full shape, owned by the host; keep the
     *     reference (it lives as long as the model) but never modify or close it; null removes
     *     the restriction
     */
    void maskDelta(NDArray mask);

    /**
     * The adapter's tensors for a site reduced to the given rows and columns.
     *
     * @param rows kept output rows of the site, ascending
     * @param cols kept input columns of the site, ascending
     * @param manager owns the returned arrays
     * @return parameters and buffers by local name, as {@link RestorableAdapter#restore} takes them
     */
    Map<String, NDArray> slice(int[] rows, int[] cols, NDManager manager);
}
