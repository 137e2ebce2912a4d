package dev.manyfold.runtime.data;

import static java.util.Objects.requireNonNull;

import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * Batches of a classification data set in seeded, shuffled epochs.
 *
 * <p>The examples form an endless stream: epoch {@code e} is a permutation of all examples
 * drawn from (seed, e), and batch {@code k} is positions {@code [k * batchSize,
 * (k + 1) * batchSize)} of the stream. Every batch is full; one that crosses an epoch
 * boundary ends the old epoch and starts the new one. Not thread-safe.
 */
public final class ClassificationBatcher implements Batcher<ClassificationBatch> {
    private final ClassificationData data;
    private final int batchSize;
    private final long seed;
    private long step;
    private final long[] cachedEpochs = {-1, -1};
    private final int[][] cachedPermutations = new int[2][];

    /** A batcher at step 0. */
    public ClassificationBatcher(ClassificationData data, int batchSize, long seed) {
        this(data, batchSize, BatcherState.start(seed));
    }

    /** A batcher resuming from a saved state. */
    public ClassificationBatcher(ClassificationData data, int batchSize, BatcherState state) {
        this.data = requireNonNull(data, "data is null");
        requireNonNull(state, "state is null");
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        }
        if (data.size() == 0) {
            throw new IllegalArgumentException("cannot batch an empty data set");
        }
        this.batchSize = batchSize;
        this.seed = state.seed();
        this.step = state.step();
    }

    @Override
    public ClassificationBatch batch(long k) {
        if (k < 0) {
            throw new IllegalArgumentException("step must be >= 0, got " + k);
        }
        int n = data.size();
        int[] indices = new int[batchSize];
        long position = Math.multiplyExact(k, (long) batchSize);
        for (int r = 0; r < batchSize; r++, position++) {
            indices[r] = permutation(position / n)[(int) (position % n)];
        }
        return gather(data, indices);
    }

    @Override
    public ClassificationBatch next() {
        return batch(step++);
    }

    @Override
    public BatcherState state() {
        return new BatcherState(seed, step);
    }

    @Override
    public int batchSize() {
        return batchSize;
    }

    /** The epoch that the next batch starts in. */
    public long epoch() {
        return step * batchSize / data.size();
    }

    /** Batches per pass over the data, rounded up. */
    public long stepsPerEpoch() {
        return (data.size() + batchSize - 1) / batchSize;
    }

    /**
     * Every example once, in data-set order, for evaluation: batches of {@code batchSize} rows,
     * the last one possibly smaller.
     */
    public static Iterable<ClassificationBatch> sequential(ClassificationData data, int batchSize) {
        requireNonNull(data, "data is null");
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        }
        return () -> new Iterator<>() {
            private int start;

            @Override
            public boolean hasNext() {
                return start < data.size();
            }

            @Override
            public ClassificationBatch next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                int size = Math.min(batchSize, data.size() - start);
                int[] indices = new int[size];
                for (int r = 0; r < size; r++) {
                    indices[r] = start + r;
                }
                start += size;
                return gather(data, indices);
            }
        };
    }

    private int[] permutation(long epoch) {
        for (int i = 0; i < 2; i++) {
            if (cachedEpochs[i] == epoch) {
                return cachedPermutations[i];
            }
        }
        int slot = cachedEpochs[0] < cachedEpochs[1] ? 0 : 1;
        cachedEpochs[slot] = epoch;
        cachedPermutations[slot] = SplitMix.stream(seed, SplitMix.EPOCH, epoch).permutation(data.size());
        return cachedPermutations[slot];
    }

    private static ClassificationBatch gather(ClassificationData data, int[] indices) {
        int f = data.featureCount();
        float[] features = new float[indices.length * f];
        int[] labels = new int[indices.length];
        for (int r = 0; r < indices.length; r++) {
            System.arraycopy(data.features(), indices[r] * f, features, r * f, f);
            labels[r] = data.labels()[indices[r]];
        }
        return new ClassificationBatch(features, labels, indices, f);
    }
}
