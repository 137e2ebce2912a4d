package dev.manyfold.api.prune;

import ai.djl.ndarray.NDArray;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What a {@link GlobalPruning} step decided.
 *
 * @param masks fixed 0/1 masks by site name, each {@code [out, in]} of the site's full (unsliced)
 *     shape and owned by the manager given to {@link GlobalPruning#plan}. The host applies each
 *     to the site's whole effective weight: masked entries are exactly zero from then on and get
 *     no gradient (no straight-through). Sites not listed keep no mask.
 * @param keptHeads when present, one entry per {@link AttentionLayout#layers() layer}: the
 *     indices of the heads to keep, ascending, never empty. The host then removes the other
 *     heads physically (rows of q/k/v, columns of o, the adapters' slices) before the masks
 *     are applied; masks of attention sites must then be absent.
 */
public record PruningPlan(Map<String, NDArray> masks, Optional<List<int[]>> keptHeads) {
    public PruningPlan {
        masks = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(masks)); // keeps the plan's site order (Map.copyOf would not)
        keptHeads = keptHeads.map(List::copyOf);
    }
}
