package dev.manyfold.plugin.sorted;

import ai.djl.ndarray.NDArray;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Context;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.objective.Batch;
import dev.manyfold.api.objective.ElasticModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * SortedNet's stochastic summation: each call draws {@code θ*} by Eq. 1 and returns the mean
 * (or, with {@code reduce: sum}, the sum) of the cross-entropy of every targeted sub-model
 * contained in it, {@code θ*} included: {@code L = Σ_{θ ∈ Θ⊥(θ*)} L(y, f(x; θ))}.
 *
 * <p>{@code sub-models: all} trains the whole targeted lattice on every call instead (no
 * draw; the paper's "train every sub-model every step").
 *
 * <p>{@code max-sub-models: k} bounds the forwards per call: when the set has more than
 * {@code k} members, {@code k} of them are taken at evenly spaced positions of the lattice
 * order ({@link SubModelSampler#evenlySpaced}); the smallest sub-model and the top of the set
 * ({@code θ*}, or the largest sub-model for {@code all}) are always among them. The selection
 * depends only on the set, never on a random draw. Without a cap, a lattice of more than
 * {@value #MAX_UNCAPPED} sub-models is refused.
 */
public final class SummationObjective extends SortedObjective {
    /** The largest lattice accepted without {@code max-sub-models}. */
    public static final int MAX_UNCAPPED = 1024;

    private final boolean all;
    private final boolean sum;
    private final int cap;
    private final String path;

    SummationObjective(SamplingSpec spec, Context context, int reportEvery, boolean all, boolean sum, int cap, String path) {
        super("summation", spec, context, reportEvery);
        this.all = all;
        this.sum = sum;
        this.cap = cap;
        this.path = path;
    }

    @Override
    void validate(SamplingSpec spec, SubModelSampler sampler) {
        if (cap <= 0 && sampler.latticeSize() > MAX_UNCAPPED) {
            throw new ConfigException(path.isEmpty() ? "max-sub-models" : path + ".max-sub-models",
                    "the targeted lattice has " + sampler.latticeSize() + " sub-models, too many forwards per micro-step"
                            + " without a cap", "max-sub-models: k (k evenly spaced sub-models per call), or fewer budgets");
        }
    }

    /** The sub-models one call trains, in lattice order; draws from {@code random} unless {@code all}. */
    List<SubModel> choose(SubModelSampler sampler, Random random) {
        return all ? sampler.lattice(cap) : sampler.containedIn(sampler.sample(random), cap);
    }

    @Override
    NDArray compute(SubModelSampler sampler, ElasticModel model, Batch batch, Random random) {
        List<NDArray> losses = new ArrayList<>();
        for (SubModel sub : choose(sampler, random)) {
            losses.add(crossEntropy(model, batch, sub));
        }
        return reduce(losses, sum);
    }
}
