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
     * @return a scalar loss owned by the batch's manager
     */
    NDArray loss(ElasticModel model, Batch batch, long step, Random random);

    /**
     * Whether the host must build a frozen dense teacher before training, reachable through
     * {@link ElasticModel#teacher()}. False by default (no copy is made).
     */
    default boolean needsTeacher() {
        return false;
    }
}
