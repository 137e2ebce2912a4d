package dev.manyfold.plugin.sorted;

import ai.djl.ndarray.NDArray;
import dev.manyfold.api.Context;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.objective.Batch;
import dev.manyfold.api.objective.ElasticModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * SortedNet's stochastic loss: each call (one micro-step) draws {@code samples} sub-models by
 * Eq. 1 and returns the mean cross-entropy over them, so with {@code train.accumulate: g} one
 * optimiser step accumulates the gradients of {@code g × samples} drawn sub-models.
 *
 * <p>With {@code sandwich: true} every call also trains the smallest and the largest targeted
 * sub-model: the loss is the mean over {@code [smallest, drawn..., largest]}, always
 * {@code samples + 2} forwards, even when a draw coincides with an end of the lattice.
 */
public final class StochasticObjective extends SortedObjective {
    private final int samples;
    private final boolean sandwich;

    StochasticObjective(SamplingSpec spec, Context context, int reportEvery, int samples, boolean sandwich) {
        super("stochastic", spec, context, reportEvery);
        if (samples < 1) {
            throw new IllegalArgumentException("samples must be >= 1, got " + samples);
        }
        this.samples = samples;
        this.sandwich = sandwich;
    }

    /** Drawn sub-models per call. */
    public int samples() {
        return samples;
    }

    /** Whether the smallest and largest sub-models are trained on every call. */
    public boolean sandwich() {
        return sandwich;
    }

    /** The sub-models one call trains, in order; draws from {@code random}. */
    List<SubModel> choose(SubModelSampler sampler, Random random) {
        List<SubModel> subs = new ArrayList<>(samples + 2);
        if (sandwich) {
            subs.add(sampler.smallest());
        }
        for (int i = 0; i < samples; i++) {
            subs.add(sampler.sample(random));
        }
        if (sandwich) {
            subs.add(sampler.largest());
        }
        return subs;
    }

    @Override
    NDArray compute(SubModelSampler sampler, ElasticModel model, Batch batch, Random random) {
        List<NDArray> losses = new ArrayList<>();
        for (SubModel sub : choose(sampler, random)) {
            losses.add(crossEntropy(model, batch, sub));
        }
        return reduce(losses, false);
    }
}
