package dev.manyfold.runtime.data;

/**
 * An endless, seeded source of training batches.
 *
 * <p>Batch {@code k} is a pure function of the seed, {@code k} and the data, so resuming
 * from a {@link BatcherState} reproduces an uninterrupted run exactly. Implementations keep
 * a step counter and small caches and are not thread-safe.
 *
 * @param <B> the batch type
 */
public interface Batcher<B> {

    /** The batch at a step; does not move the step counter. */
    B batch(long step);

    /** The batch at the current step; then advances the step counter by one. */
    B next();

    /** The seed and the step of the batch {@link #next()} will return. */
    BatcherState state();

    /** Examples (rows) per batch. */
    int batchSize();
}
