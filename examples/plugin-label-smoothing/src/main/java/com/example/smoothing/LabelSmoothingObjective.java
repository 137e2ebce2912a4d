package com.example.smoothing;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.manyfold.api.Context;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.Settings;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.objective.Batch;
import dev.manyfold.api.objective.ElasticModel;
import dev.manyfold.api.objective.Objective;
import dev.manyfold.api.objective.ObjectiveFactory;
import dev.manyfold.api.objective.Scalars;
import java.util.List;
import java.util.Random;

/**
 * Label-smoothed cross-entropy of the full model, optionally also at intermediate exits:
 * {@code (1 − ε)·CE(y) + ε·mean_v(−log p_v)}.
 *
 * <pre>
 * objective: { type: label-smoothing, epsilon: 0.1, exits: [2] }   # exits: optional, trained through the shared head
 * </pre>
 */
final class LabelSmoothingObjective implements Objective {
    private final double epsilon;
    private final List<Integer> exits;

    LabelSmoothingObjective(double epsilon, List<Integer> exits) {
        this.epsilon = epsilon;
        this.exits = exits;
    }

    @Override
    public NDArray loss(ElasticModel model, Batch batch, long step, Random random) {
        if (exits.isEmpty()) {
            return smoothed(model.forward(batch.inputs(), SubModel.FULL), batch.labels());
        }
        int layers = model.shape().dimensions().get("depth");
        List<Integer> all = new java.util.ArrayList<>(exits);
        all.add(layers);
        List<NDArray> logits = model.forwardExits(batch.inputs(), SubModel.FULL, all);
        NDArray total = smoothed(logits.get(0), batch.labels());
        for (int i = 1; i < logits.size(); i++) {
            total = total.add(smoothed(logits.get(i), batch.labels()));
        }
        return Scalars.dividedBy(total, logits.size());
    }

    private NDArray smoothed(NDArray logits, NDArray labels) {
        NDArray logProbs = logits.logSoftmax(-1);
        NDArray nll = logProbs.gather(labels.toType(DataType.INT64, false).expandDims(-1), -1).mean().neg();
        NDArray uniform = logProbs.mean(new int[] {-1}).mean().neg();
        // Scalars, not NDArray.mul(Number): DJL frees such a scalar's buffer while backward still needs it, so gradients came out
        // wrong at random (the testkit contract caught it once in CI); Scalars' constants are engine-owned and of the loss's type.
        return Scalars.times(nll, 1 - epsilon).add(Scalars.times(uniform, epsilon));
    }

    /** API 1.1: the exits this objective trains become the model's trained exits (early-exit decoders accept them). */
    @Override
    public List<Integer> trainedExits(ModelShape model) {
        return exits;
    }

    /** {@code label-smoothing}. */
    static final class Factory implements ObjectiveFactory {
        @Override
        public String name() {
            return "label-smoothing";
        }

        @Override
        public String description() {
            return "label-smoothed cross-entropy (epsilon, default 0.1), optionally also at exits: [n, ...]";
        }

        @Override
        public Objective create(Settings settings, Context context) {
            double epsilon = settings.getDouble("epsilon", 0.1);
            settings.check(epsilon >= 0 && epsilon < 1, "epsilon", "epsilon " + epsilon + " is outside [0, 1)", "a number in [0, 1), e.g. 0.1");
            List<Integer> exits = settings.optionalIntList("exits").orElse(List.of());
            int depth = context.model().map(m -> m.dimensions().getOrDefault("depth", Integer.MAX_VALUE)).orElse(Integer.MAX_VALUE);
            for (int e : exits) {
                settings.check(e >= 1 && e < depth, "exits", "exit " + e + " is not an intermediate depth of this model",
                        "depths in [1, " + (depth == Integer.MAX_VALUE ? "layers" : depth) + ")");
            }
            return new LabelSmoothingObjective(epsilon, List.copyOf(new java.util.TreeSet<>(exits)));
        }
    }
}
