package dev.manyfold.api.prune;

import dev.manyfold.api.Factory;

/**
 * Creates {@link GlobalPruning} steps from a stage's {@code prune} section
 * ({@code stages[i].prune.type}). The extension point for pruning steps since API 1.1, listed
 * by {@link dev.manyfold.api.Plugin#pruningSteps()}.
 *
 * <p>API 1.0 plugins made a pruning step a {@link dev.manyfold.api.mask.MaskStrategy} that also
 * implements {@link GlobalPruning} (with a {@code computeMask} that throws); the host still
 * accepts that form when no pruning-step factory has the name.
 *
 * @since 1.1
 */
public interface PruningStepFactory extends Factory<GlobalPruning> {}
