package dev.manyfold.runtime.data;

/**
 * Everything a {@link Batcher} needs to continue where it stopped: the seed and the next
 * step. Store it in a checkpoint; a batcher made from it yields the same batches as one
 * that never stopped.
 *
 * @param seed the seed of the shuffles and windows
 * @param step the step of the next batch, {@code >= 0}
 */
public record BatcherState(long seed, long step) {
    public BatcherState {
        if (step < 0) {
            throw new IllegalArgumentException("step must be >= 0, got " + step);
        }
    }

    /** The state before the first batch. */
    public static BatcherState start(long seed) {
        return new BatcherState(seed, 0);
    }
}
