package dev.manyfold.api.prune;

import ai.djl.ndarray.NDManager;
import java.util.Map;
import java.util.Optional;

/**
 * A pruning step computed once over all sites at the same time, between two training stages
 * (DSEE's tune → prune → recover). Unlike {@link dev.manyfold.api.mask.MaskStrategy#computeMask},
 * which sees one site's W0, a global step sees every site with its adapters, so it can rank
 * one pool of weights across matrices and score them by the adapters' ΔW.
 *
 * <p>Contributed through a {@link PruningStepFactory} ({@link dev.manyfold.api.Plugin#pruningSteps()},
 * since 1.1) and used as a stage's {@code prune} section ({@code stages[i].prune.type}). In API
 * 1.0 a {@link dev.manyfold.api.mask.MaskStrategy} implemented this interface instead; hosts
 * still accept that form.
 * The host calls {@link #plan} once, after the previous stage finished, with gradients off;
 * the plan is then fixed for the rest of the run.
 *
 * <p>Bad settings (a ratio outside [0, 1), removing every head of a layer) must be refused
 * when the strategy is created, with the recipe path, so that no stage trains before the
 * error: the factory's {@link dev.manyfold.api.Context#model()} carries the model shape.
 */
public interface GlobalPruning {
    /**
     * Decides the masks and the heads to keep.
     *
     * @param sites every linear site of the model by name, in model order
     * @param attention the model's attention layout, when it has attention layers
     * @param manager owns every array of the returned plan; scratch arrays should be closed
     * @return the plan
     * @throws dev.manyfold.api.ConfigException when the plan cannot be made for this model
     *     (for example grouped KV heads and structured pruning), naming the recipe path
     */
    PruningPlan plan(Map<String, PruneSite> sites, Optional<AttentionLayout> attention, NDManager manager);

    /**
     * Attention heads this step removes from every layer (0 by default). The host adds them up
     * over a recipe's stages and refuses, before any stage trains, a recipe whose steps together
     * would remove every head of a layer.
     */
    default int headsRemovedPerLayer() {
        return 0;
    }

    /** One line describing what the plan removed, printed by the host after pruning; empty by default. */
    default String describe(PruningPlan plan) {
        return "";
    }
}
