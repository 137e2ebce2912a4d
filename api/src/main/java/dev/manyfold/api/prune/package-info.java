/**
 * Pruning steps that see the whole model at once (all sites and their adapters), run between
 * training stages, and adapters that survive them.
 *
 * <ul>
 *   <li>{@link dev.manyfold.api.prune.GlobalPruning}, created by a
 *       {@link dev.manyfold.api.prune.PruningStepFactory}; used as a stage's {@code prune} section it returns a
 *       {@link dev.manyfold.api.prune.PruningPlan}: fixed masks and, optionally, the attention
 *       heads to keep per layer.</li>
 *   <li>{@link dev.manyfold.api.prune.PrunableAdapter}: an attached adapter that can restrict its
 *       delta to a fixed mask, be sliced with its site, and carries non-trainable buffers.</li>
 *   <li>{@link dev.manyfold.api.prune.RestorableAdapter}: an adapter that can be re-attached from
 *       saved tensors (for example a sparse support chosen before a site was sliced).</li>
 * </ul>
 *
 * <p>All of it is additive: plugins that implement none of these interfaces are unaffected.
 */
package dev.manyfold.api.prune;
