package dev.manyfold.runtime.data;

import static java.util.Objects.requireNonNull;

import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * Batches of random windows of a token stream for next-token prediction.
 *
 * <p>Each row of batch {@code k} starts at an offset drawn uniformly from (seed, k) and
 * holds {@code context} inputs and the {@code context} tokens that follow each of them.
 * Windows cross document boundaries (the end-of-sequence token between documents is a
 * token like any other). Not thread-safe.
 */
public final class LanguageModelBatcher implements Batcher<TokenBatch> {
    private final TokenData data;
    private final int context;
    private final int batchSize;
    private final long seed;
    private long step;

    /** A batcher at step 0. */
    public LanguageModelBatcher(TokenData data, int context, int batchSize, long seed) {
        this(data, context, batchSize, BatcherState.start(seed));
    }

    /**
     * A batcher resuming from a saved state.
     *
     * @throws IllegalArgumentException when the stream is shorter than {@code context + 1}
     *     tokens
     */
    public LanguageModelBatcher(TokenData data, int context, int batchSize, BatcherState state) {
        this.data = requireNonNull(data, "data is null");
        requireNonNull(state, "state is null");
        checkShape(data, context, batchSize);
        this.context = context;
        this.batchSize = batchSize;
        this.seed = state.seed();
        this.step = state.step();
    }

    @Override
    public TokenBatch batch(long k) {
        if (k < 0) {
            throw new IllegalArgumentException("step must be >= 0, got " + k);
        }
        SplitMix random = SplitMix.stream(seed, SplitMix.WINDOW, k);
        int[] starts = new int[batchSize];
        int range = data.size() - context;
        for (int r = 0; r < batchSize; r++) {
            starts[r] = random.nextInt(range);
        }
        return windows(data, context, starts);
    }

    @Override
    public TokenBatch next() {
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

    /** Tokens per row. */
    public int context() {
        return context;
    }

    /**
     * The number of non-overlapping windows {@link #sequential} yields: {@code (size - 1) /
     * context}.
     */
    public static int windowCount(TokenData data, int context) {
        return (data.size() - 1) / context;
    }

    /**
     * Non-overlapping windows from the start of the stream, for evaluation: window {@code w}
     * starts at {@code w * context}; every token but fewer than {@code context} at the end is
     * predicted exactly once. Batches of {@code batchSize} rows, the last one possibly smaller.
     *
     * @throws IllegalArgumentException when the stream is shorter than {@code context + 1}
     *     tokens
     */
    public static Iterable<TokenBatch> sequential(TokenData data, int context, int batchSize) {
        requireNonNull(data, "data is null");
        checkShape(data, context, batchSize);
        int windows = windowCount(data, context);
        return () -> new Iterator<>() {
            private int window;

            @Override
            public boolean hasNext() {
                return window < windows;
            }

            @Override
            public TokenBatch next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                int size = Math.min(batchSize, windows - window);
                int[] starts = new int[size];
                for (int r = 0; r < size; r++) {
                    starts[r] = (window + r) * context;
                }
                window += size;
                return windows(data, context, starts);
            }
        };
    }

    private static void checkShape(TokenData data, int context, int batchSize) {
        if (context < 1) {
            throw new IllegalArgumentException("context must be >= 1, got " + context);
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        }
        if (data.size() < context + 1) {
            throw new IllegalArgumentException("the token stream has " + data.size() + " tokens but a window of context "
                    + context + " needs " + (context + 1) + "; lower data.context or use more text");
        }
    }

    private static TokenBatch windows(TokenData data, int context, int[] starts) {
        int[] inputs = new int[starts.length * context];
        int[] labels = new int[starts.length * context];
        int[] tokens = data.tokens();
        for (int r = 0; r < starts.length; r++) {
            System.arraycopy(tokens, starts[r], inputs, r * context, context);
            System.arraycopy(tokens, starts[r] + 1, labels, r * context, context);
            // Targets inside distillation-only text carry no label.
            for (int j = Math.max(0, data.unlabelledFrom() - starts[r] - 1); j < context; j++) {
                labels[r * context + j] = dev.manyfold.api.objective.Batch.UNLABELLED;
            }
        }
        return new TokenBatch(inputs, labels, starts, context);
    }
}
