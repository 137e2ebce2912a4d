package dev.manyfold.runtime.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.objective.Batch;
import dev.manyfold.api.objective.Losses;
import dev.manyfold.runtime.model.Model;
import java.util.List;

/** Evaluates sub-models on held-out batches: mean loss and accuracy (top-1, per label position). */
public final class Evaluator {
    private Evaluator() {}

    /** One sub-model's result. */
    public record Result(SubModel subModel, double loss, double accuracy, long parameters, long flops) {}

    /** Evaluates one sub-model; no gradients are recorded. */
    public static Result evaluate(Model model, List<HostBatch> batches, SubModel subModel, NDManager parent) {
        double lossSum = 0;
        double correct = 0;
        long count = 0;
        for (HostBatch hb : batches) {
            try (NDManager m = parent.newSubManager()) {
                Batch b = hb.toBatch(m);
                NDArray logits = model.forward(b.inputs(), subModel);
                long n = hb.labelCount();
                lossSum += Losses.crossEntropy(logits, b.labels()).getFloat() * n;
                NDArray predicted = logits.argMax(-1).toType(DataType.INT32, false);
                correct += predicted.eq(b.labels().toType(DataType.INT32, false)).sum().getLong();
                count += n;
            }
        }
        return new Result(subModel, lossSum / count, correct / count, model.parameterCount(subModel), model.flops(subModel));
    }
}
