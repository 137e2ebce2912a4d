package dev.manyfold.api.prune;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.adapter.Adapter;
import dev.manyfold.api.adapter.AttachedAdapter;
import java.util.Map;

/**
 * An {@link Adapter} whose attached state can be rebuilt from saved tensors instead of being
 * chosen afresh from W0. The host uses it when it loads a checkpoint that holds the adapter's
 * {@link PrunableAdapter#buffers() buffers} (for example after structured pruning changed the
 * site's shape, so that recomputing a support from the sliced W0 would give another one).
 */
public interface RestorableAdapter extends Adapter {
    /**
     * Attaches to one site from saved tensors.
     *
     * @param site the site's dotted name
     * @param weight the site's full base weight {@code [out, in]}, read only
     * @param saved the adapter's saved parameters and buffers by local name (read only; copy
     *     what you keep)
     * @param parameters the long-lived manager that must own the new adapter's arrays
     * @return an attached adapter whose parameters have the saved shapes; the host assigns the
     *     saved parameter values afterwards
     * @throws dev.manyfold.api.ConfigException when the tensors do not fit the site
     */
    AttachedAdapter restore(String site, NDArray weight, Map<String, NDArray> saved, NDManager parameters);
}
