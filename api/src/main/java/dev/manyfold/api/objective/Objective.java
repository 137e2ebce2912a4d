package dev.manyfold.api.objective;

import ai.djl.ndarray.NDArray;
import java.util.Random;

/**
 * A training objective: which sub-models run on a micro-batch and how their losses combine
 * (normal, stochastic, summation, all-exits, distillation...).
 *
 * <p>Called once per micro-step inside the trainer's gradient collector; the returned
 * scalar is back-propagated. Not called concurrently.
 */
public interface Objective {
    /**
     * @param model the model under training
     * @param batch the micro-batch
     * @param step the optimiser step (micro-steps of one step share it)
     * @param random seeded from the run seed and the step; use it for all sampling
     * @return a scalar loss owned by the batch's manager, float32 (since 1.1 the host also
     *     accepts a float64 or float16 scalar, back-propagating it in its own type; it refuses
     *     anything that is not a floating scalar, naming the objective and its plugin)
     */
    NDArray loss(ElasticModel model, Batch batch, long step, Random random);

    /**
     * The exit depths (numbers of layers, ascending, each in {@code [1, layers]}) this
     * objective trains the shared final norm and head at, for example {@code [2, 4]} for an
     * all-exits loss. The host adds them to the depths of the recipe's {@code depth} dimension,
     * records the union in the checkpoint and reports it as
     * {@link dev.manyfold.api.decoder.LanguageModel#exits()}, so early-exit decoders accept
     * them. Empty (the default) when the objective trains only the sub-models it is given.
     *
     * @param model the shape of the model under training
     * @since 1.1
     */
    default java.util.List<Integer> trainedExits(dev.manyfold.api.ModelShape model) {
        return java.util.List.of();
    }

    /**
     * Whether the host must build a frozen dense teacher before training, reachable through
     * {@link ElasticModel#teacher()}. False by default (no copy is made).
     */
    default boolean needsTeacher() {
        return false;
    }
}
