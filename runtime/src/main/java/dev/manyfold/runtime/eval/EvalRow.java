package dev.manyfold.runtime.eval;

import static java.util.Objects.requireNonNull;

import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.train.Evaluator;

/**
 * One evaluated sub-model: its cost and its held-out quality.
 *
 * @param subModel the sub-model ({@link SubModel#FULL} for the whole model)
 * @param parameters parameters the sub-model uses
 * @param flops FLOPs of one example (classification) or one token (language models)
 * @param loss mean cross-entropy in nats (per example or per token)
 * @param accuracy top-1 accuracy as a fraction in [0, 1] (next-token accuracy for text)
 */
public record EvalRow(SubModel subModel, long parameters, long flops, double loss, double accuracy) {
    public EvalRow {
        requireNonNull(subModel, "subModel is null");
    }

    /** The row of an {@link Evaluator} result. */
    public static EvalRow of(Evaluator.Result r) {
        return new EvalRow(r.subModel(), r.parameters(), r.flops(), r.loss(), r.accuracy());
    }

    /** {@code exp(loss)}: the perplexity when the loss is a per-token cross-entropy. */
    public double perplexity() {
        return Math.exp(loss);
    }

    /** The sub-model's name: {@code full} or {@code depth=2,width=64}. */
    public String name() {
        return subModel.toString();
    }
}
