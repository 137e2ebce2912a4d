package dev.manyfold.plugin.sorted;

import ai.djl.ndarray.NDArray;
import dev.manyfold.api.Context;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.objective.Batch;
import dev.manyfold.api.objective.ElasticModel;
import dev.manyfold.api.objective.Losses;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Sorted fine-tuning (SoFT, Sorted LLaMA Eq. 1): {@code L = Σ_{n ∈ B} CE(z_n, y) / |B|}, the
 * equal-weight mean of the cross-entropy at every depth budget, all exits computed by ONE
 * trunk pass through {@link ElasticModel#forwardExits} (the model applies its one shared final
 * norm and head at each exit). No sampling: the random generator is not used.
 */
public final class AllExitsObjective extends SortedObjective {
    AllExitsObjective(SamplingSpec spec, Context context, int reportEvery) {
        super("all-exits", spec, context, reportEvery);
    }

    @Override
    NDArray compute(SubModelSampler sampler, ElasticModel model, Batch batch, Random random) {
        List<Integer> exits = sampler.budgets().get("depth");
        List<NDArray> logits = model.forwardExits(batch.inputs(), SubModel.FULL, exits);
        if (logits.size() != exits.size()) {
            throw new IllegalStateException("forwardExits returned " + logits.size() + " outputs for the " + exits.size()
                    + " exits " + exits);
        }
        List<NDArray> losses = new ArrayList<>(exits.size());
        for (int i = 0; i < exits.size(); i++) {
            losses.add(Losses.crossEntropy(logits.get(i), batch.labels()));
            count(SubModel.of("depth", exits.get(i)));
        }
        return reduce(losses, false);
    }

    @Override
    String describe(SubModelSampler s) {
        return "objective all-exits: exits at depths " + s.budgets().get("depth") + ", one trunk pass per micro-step";
    }
}
