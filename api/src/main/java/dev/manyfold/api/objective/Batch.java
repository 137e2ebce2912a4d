package dev.manyfold.api.objective;

import ai.djl.ndarray.NDArray;

/**
 * One micro-batch. Both arrays belong to the micro-step's manager; do not close them.
 */
public interface Batch {
    /** {@code [batch, features]} or token ids {@code [batch, seq]}. */
    NDArray inputs();

    /** Class ids {@code [batch]} or next-token ids {@code [batch, seq]}. */
    NDArray labels();

    /**
     * The label of a position whose input is real text but which has no target token to
     * learn: text that trains by distillation only (a recipe's {@code data.extra-train} with
     * {@code extra-train-labels: false}, e.g. a model's own generations). Like every negative
     * label, {@link Losses#crossEntropy} skips it; unlike padding ({@code -1}), an objective that
     * distils from a teacher's outputs may still train there.
     *
     * @since 1.1
     */
    int UNLABELLED = -2;
}
