package dev.manyfold.runtime.train;

import dev.manyfold.runtime.data.HostBatch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.objective.Batch;
import dev.manyfold.api.objective.Losses;
import dev.manyfold.runtime.model.Model;
import java.math.BigDecimal;
import java.util.List;
import java.util.Objects;

/**
 * Evaluates sub-models on held-out batches: mean loss and accuracy (top-1, per label position).
 *
 * <p>The result is a quotient of exact {@link Sums}: each batch contributes its summed loss
 * (its mean loss times its label count, exact in a double), its correct predictions and its
 * label count, and the loss terms are added exactly. Sums over any split of the batches,
 * combined in any order, therefore give the same result to the last bit, which is how the
 * Spark lattice evaluation equals a single-machine {@code manyfold eval}.
 */
public final class Evaluator {
    private Evaluator() {}

    /** One sub-model's result. */
    public record Result(SubModel subModel, double loss, double accuracy, long parameters, long flops) {}

    /**
     * Exact partial sums of one sub-model's evaluation over some batches.
     *
     * @param lossSum the summed per-label cross-entropy (nats), exact
     * @param correct labels predicted right (top-1)
     * @param count labels seen
     */
    public record Sums(BigDecimal lossSum, long correct, long count) implements java.io.Serializable {
        /** Nothing evaluated yet. */
        public static final Sums ZERO = new Sums(BigDecimal.ZERO, 0, 0);

        public Sums {
            Objects.requireNonNull(lossSum, "lossSum is null");
            if (correct < 0 || count < 0 || correct > count) {
                throw new IllegalArgumentException("sums need 0 <= correct <= count, got " + correct + " of " + count);
            }
        }

        /** Both sums together: associative and commutative, and exact. */
        public Sums plus(Sums other) {
            return new Sums(lossSum.add(other.lossSum), Math.addExact(correct, other.correct), Math.addExact(count, other.count));
        }

        /** Mean loss per label: the exact sum rounded once to a double, divided by the count. */
        public double loss() {
            return lossSum.doubleValue() / count;
        }

        /** Fraction of labels predicted right. */
        public double accuracy() {
            return (double) correct / count;
        }
    }

    /** Evaluates one sub-model; no gradients are recorded. */
    public static Result evaluate(Model model, List<HostBatch> batches, SubModel subModel, NDManager parent) {
        Sums sums = Sums.ZERO;
        for (HostBatch hb : batches) {
            sums = sums.plus(sums(model, hb, subModel, parent));
        }
        return result(model, subModel, sums);
    }

    /** One batch's exact {@link Sums} for a sub-model; no gradients are recorded. */
    public static Sums sums(Model model, HostBatch hb, SubModel subModel, NDManager parent) {
        try (NDManager m = parent.newSubManager()) {
            Batch b = hb.toBatch(m);
            NDArray logits = model.forward(b.inputs(), subModel);
            long n = hb.labelCount();
            // A float times a label count below 2^29 is exact in a double; BigDecimal keeps the sum exact.
            BigDecimal loss = new BigDecimal((double) Losses.crossEntropy(logits, b.labels()).getFloat() * n);
            NDArray predicted = logits.argMax(-1).toType(DataType.INT32, false);
            long correct = predicted.eq(b.labels().toType(DataType.INT32, false)).sum().getLong();
            return new Sums(loss, correct, n);
        }
    }

    /** The result of a sub-model's sums over all evaluated batches. */
    public static Result result(Model model, SubModel subModel, Sums sums) {
        if (sums.count() == 0) {
            throw new IllegalArgumentException("no labels evaluated for sub-model " + subModel);
        }
        return new Result(subModel, sums.loss(), sums.accuracy(), model.parameterCount(subModel), model.flops(subModel));
    }
}
