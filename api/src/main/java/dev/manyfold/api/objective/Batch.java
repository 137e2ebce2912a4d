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
}
