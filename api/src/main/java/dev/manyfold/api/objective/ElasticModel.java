package dev.manyfold.api.objective;

import ai.djl.ndarray.NDArray;
import dev.manyfold.api.Experimental;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.SubModel;
import java.util.List;
import java.util.Optional;

/**
 * A trainable many-in-one model as objectives see it. All arrays returned are attached to
 * the manager of their input (the trainer scopes one per micro-step).
 */
@Experimental("shaped by the sorted-training plugin")
public interface ElasticModel {
    ModelShape shape();

    /**
     * Runs the sub-model.
     *
     * @param input {@code [batch, features]} for vision or {@code [batch, seq]} token ids
     * @return logits {@code [batch, classes]} or {@code [batch, seq, vocab]}
     */
    NDArray forward(NDArray input, SubModel subModel);

    /**
     * Runs the trunk once to the deepest requested exit and applies the one shared final
     * norm and head at each exit depth.
     *
     * @param exits ascending depths, each in {@code [1, layers]}
     * @return logits per exit, in the order of {@code exits}
     */
    List<NDArray> forwardExits(NDArray input, SubModel subModel, List<Integer> exits);

    /**
     * The frozen dense teacher for distillation, present when the objective asked for one
     * ({@link Objective#needsTeacher()}): a copy of the model's starting weights (after
     * {@code train.init}, before masks and adapters) with no gradients and no optimiser
     * state. Its outputs carry no gradient. Empty by default.
     */
    default Optional<ElasticModel> teacher() {
        return Optional.empty();
    }
}
