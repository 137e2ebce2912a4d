package dev.manyfold.api.mask;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.List;

/**
 * Computes and maintains binary masks over linear-site weights.
 *
 * <p>The host composes a site's effective weight as {@code mask ⊙ W} on every forward call.
 * When {@link #straightThrough()} is true the backward pass treats the mask as identity
 * (the pruned entries keep receiving gradients, as in SR-STE); otherwise pruned entries get
 * zero gradient. Masks are recomputed every {@link #updateEvery()} optimiser steps.
 *
 * <p>Lifecycle: created once per run; {@link #computeMask} is called at step 0 and then at
 * every update step for each targeted site. Implementations must be thread-safe for
 * concurrent calls on different sites, and keep no NDArrays between calls.
 */
public interface MaskStrategy {
    /** Site globs this strategy applies to, e.g. {@code ["layers.*"]}. */
    List<String> targets();

    /** Optimiser steps between mask recomputations; {@code 0} means computed once. */
    int updateEvery();

    /** Whether gradients pass straight through the mask to pruned weights. */
    boolean straightThrough();

    /**
     * Computes a mask.
     *
     * @param site the dotted site name
     * @param weight the full weight {@code [out, in]} (read only; do not modify or close)
     * @param step the optimiser step
     * @param manager the manager that must own the returned array
     * @return a {@code [out, in]} array of 0 and 1 in the weight's data type, owned by
     *     {@code manager}
     */
    NDArray computeMask(String site, NDArray weight, long step, NDManager manager);

    /**
     * The sparsity pattern this strategy produces, for reports: {@code "2:4"} for N:M masks,
     * {@code "unstructured"}, or empty (the default) when it does not say. {@code eval}
     * counts a site's non-zero weights and effective FLOPs from the mask itself; a
     * pattern of the form {@code N:M} tells it that the zeros are exploitable by N:M kernels.
     *
     * @since 1.1
     */
    default String pattern() {
        return "";
    }

    /**
     * The decay coefficient applied to pruned weights inside the optimiser at {@code step}
     * of {@code totalSteps} (AST Eq. 20–23); {@code 0} (the default) for none.
     */
    default double prunedDecay(long step, long totalSteps) {
        return 0.0;
    }

    /**
     * Where the optimiser applies {@link #prunedDecay}: {@code false} (the default) joins it to
     * the first moment after the moment update (AST Eq. 20–23, inside AdamW); {@code true}
     * applies {@code W ← W − lr·λ(t)·(1 − M)⊙W} after the optimiser step, from the weights
     * before that step (decoupled, as in the original SR-STE; an ablation).
     */
    default boolean prunedDecayAfterStep() {
        return false;
    }

    /**
     * A third placement of {@link #prunedDecay} (an ablation, checked only when
     * {@link #prunedDecayAfterStep()} is false): {@code true} adds it to the gradient before
     * the moment updates, {@code g ← g + λ(t)·(1 − M)⊙W}, so it accumulates in the first
     * moment and is entangled with momentum (plain L2 regularisation of the pruned weights).
     * False by default (Eq. 20–23).
     *
     * @since 1.1
     */
    default boolean prunedDecayInGradient() {
        return false;
    }

    /**
     * How many training micro-batches the host runs through the model, without gradients,
     * before each round of {@link #computeMask} calls to record per-site input-feature norms;
     * {@code 0} (the default) for none. When positive, the host calls
     * {@link #computeMask(String, NDArray, float[], long, NDManager)} instead of the
     * four-argument form.
     */
    default int calibrationBatches() {
        return 0;
    }

    /**
     * Computes a mask with calibration statistics (activation-aware criteria such as Wanda).
     * The default ignores them.
     *
     * @param inputNorms {@code ‖X_j‖₂} for every input feature {@code j} of the site (length
     *     {@code in}): the L2 norm of that feature over all token positions (or examples) of
     *     the calibration batches, as the site saw it (its input, after any earlier masks)
     */
    default NDArray computeMask(String site, NDArray weight, float[] inputNorms, long step, NDManager manager) {
        return computeMask(site, weight, step, manager);
    }
}
