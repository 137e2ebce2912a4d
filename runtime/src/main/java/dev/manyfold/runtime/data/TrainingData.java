package dev.manyfold.runtime.data;

import dev.manyfold.runtime.model.ModelFactory;
import java.util.List;

/**
 * What the trainer needs from a data source. Training batches are a pure function of the
 * seed, step and micro-step, so a resumed run sees exactly the batches an uninterrupted run
 * would have seen.
 */
public interface TrainingData {
    /** What the data decides about the model (inputs/classes or vocabulary/EOS). */
    ModelFactory.DataShape shape();

    /** Micro-batch {@code micro} of optimiser step {@code step} (1-based). */
    HostBatch train(long step, int micro);

    /** The validation set in fixed batches (at most {@code maxBatches}). */
    List<HostBatch> validation(int maxBatches);

    /** One line describing the data, for logs. */
    String describe();

    /**
     * For text: the cross-entropy (nats per token) of the validation tokens under the
     * training set's unigram frequencies (add-one smoothed) — the loss a model that ignores
     * context would reach. Empty for classification.
     */
    default java.util.OptionalDouble unigramEntropy() {
        return java.util.OptionalDouble.empty();
    }

    /** True for language modelling (token inputs), false for classification. */
    boolean isText();

    /** For text: the tokenizer that made the tokens (for prompts and decoded output). Empty for classification. */
    default java.util.Optional<Tokenizer> tokenizer() {
        return java.util.Optional.empty();
    }

    /** For text: the whole validation token stream, documents separated by EOS. Empty for classification. */
    default java.util.Optional<int[]> validationTokens() {
        return java.util.Optional.empty();
    }
}
