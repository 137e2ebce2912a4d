package dev.manyfold.runtime.train;

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

    /** True for language modelling (token inputs), false for classification. */
    boolean isText();
}
