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
 *
 * <p>With {@code inplace-distill: true} (US-Nets' in-place distillation; needs the sandwich)
 * the largest sub-model runs first and is trained on the labels, and every other sub-model of
 * the call is trained on the largest's predicted distribution instead of the labels: the soft
 * cross-entropy {@code −Σ_c p_c · log q_c} with {@code p = softmax(largest logits)} taken
 * without gradient, averaged over the batch (and positions). The loss is the mean over the
 * {@code samples + 2} terms.
 */
public final class StochasticObjective extends SortedObjective {
    private final int samples;
    private final boolean sandwich;
    private final boolean inplaceDistill;

    StochasticObjective(SamplingSpec spec, Context context, int reportEvery, int samples, boolean sandwich) {
        this(spec, context, reportEvery, samples, sandwich, false);
    }

    StochasticObjective(SamplingSpec spec, Context context, int reportEvery, int samples, boolean sandwich, boolean inplaceDistill) {
        super("stochastic", spec, context, reportEvery);
        if (samples < 1) {
            throw new IllegalArgumentException("samples must be >= 1, got " + samples);
        }
        this.samples = samples;
        this.sandwich = sandwich;
        if (inplaceDistill && !sandwich) {
            throw new IllegalArgumentException("in-place distillation needs the sandwich rule (its teacher is the largest sub-model)");
        }
        this.inplaceDistill = inplaceDistill;
    }

    /** Whether the other sub-models learn from the largest's predictions (US-Nets' in-place distillation). */
    public boolean inplaceDistill() {
        return inplaceDistill;
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
        List<SubModel> subs = choose(sampler, random);
        List<NDArray> losses = new ArrayList<>();
        if (inplaceDistill) {
            SubModel largest = subs.get(subs.size() - 1);
            NDArray teacherLogits = model.forward(batch.inputs(), largest);
            losses.add(dev.manyfold.api.objective.Losses.crossEntropy(teacherLogits, batch.labels()));
            count(largest);
            NDArray target = teacherLogits.stopGradient().softmax(-1);
            for (SubModel sub : subs.subList(0, subs.size() - 1)) {
                NDArray logProbs = model.forward(batch.inputs(), sub).logSoftmax(-1);
                losses.add(target.mul(logProbs).sum(new int[] {-1}).mean().neg());
                count(sub);
            }
            return reduce(losses, false);
        }
        for (SubModel sub : subs) {
            losses.add(crossEntropy(model, batch, sub));
        }
        return reduce(losses, false);
    }
}
