package dev.manyfold.runtime.data;

/**
 * What a data source needs from the recipe's {@code train} section to cut batches: the
 * training section itself lives in {@code train}, which depends on {@code data} (not the
 * other way round).
 *
 * @param batch examples per micro-batch
 * @param accumulate micro-batches per optimiser step
 * @param seed the run seed (splits, shuffling)
 */
public record Sampling(int batch, int accumulate, long seed) {}
