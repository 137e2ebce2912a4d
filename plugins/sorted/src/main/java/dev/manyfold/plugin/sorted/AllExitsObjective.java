package dev.manyfold.plugin.sorted;

import dev.manyfold.api.objective.Scalars;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Context;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.objective.Batch;
import dev.manyfold.api.objective.ElasticModel;
import dev.manyfold.api.objective.Losses;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * Sorted fine-tuning (SoFT, Sorted LLaMA Eq. 1): {@code L = Σ_{n ∈ B} CE(z_n, y) / |B|}, the
 * equal-weight mean of the cross-entropy at every depth budget, all exits computed by ONE
 * trunk pass through {@link ElasticModel#forwardExits} (the model applies its one shared final
 * norm and head at each exit). No sampling: the random generator is not used.
 *
 * <p><b>Self-distillation of the shallow exits</b> ({@code distill: a}, {@code 0 < a ≤ 1};
 * an extension, not in the paper). The deepest trained exit is the teacher and keeps its plain
 * cross-entropy; every shallower exit {@code e} is trained on
 * {@code (1 − a)·CE(z_e, y) + a·T²·KL(p_T ‖ q_{e,T})} where {@code p_T = softmax(z_L / T)} is
 * taken without gradient (the teacher learns nothing from its students through this term),
 * {@code q_{e,T} = softmax(z_e / T)} and {@code T} is {@code distill-temperature} (default 1;
 * the {@code T²} keeps the gradient's scale independent of {@code T}, as in Hinton et al.).
 * The KL is averaged over the positions whose label counts (not negative, like
 * {@link Losses#crossEntropy}) and over distillation-only positions
 * ({@link Batch#UNLABELLED}, e.g. {@code data.extra-train} with {@code extra-train-labels:
 * false}), where no cross-entropy trains: there the shallow exits learn the final exit's
 * outputs and nothing else learns. Decoders that draft or exit at a shallow exit are faster the
 * more often it agrees with the final exit, which is what this term trains for.
 *
 * <p><b>Per-exit weights</b> ({@code exit-weights: {2: 2.0, 3: 1.5}}): the loss is the
 * weighted mean {@code Σ_e w_e·L_e / Σ_e w_e}; exits not listed weigh 1, so without the key
 * it is Eq. 1's plain mean.
 */
public final class AllExitsObjective extends SortedObjective {
    private final double distill;
    private final double temperature;
    private final Map<Integer, Double> exitWeights;
    private final String weightsPath;

    AllExitsObjective(SamplingSpec spec, Context context, int reportEvery) {
        this(spec, context, reportEvery, 0, 1, Map.of(), "exit-weights");
    }

    /**
     * @param distill weight {@code a} of the distillation term of the shallow exits, in [0, 1]
     * @param temperature distillation temperature {@code T > 0}
     * @param exitWeights weight per exit depth (absent exits weigh 1), each > 0
     * @param weightsPath the recipe path of {@code exitWeights}, for errors
     */
    AllExitsObjective(SamplingSpec spec, Context context, int reportEvery, double distill, double temperature,
            Map<Integer, Double> exitWeights, String weightsPath) {
        super("all-exits", spec, context, reportEvery);
        if (!(distill >= 0 && distill <= 1)) {
            throw new IllegalArgumentException("distill must be in [0, 1], got " + distill);
        }
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("distill-temperature must be a positive number, got " + temperature);
        }
        this.distill = distill;
        this.temperature = temperature;
        this.exitWeights = Map.copyOf(new TreeMap<>(exitWeights));
        this.weightsPath = weightsPath;
    }

    /** Weight {@code a} of the shallow exits' distillation term (0: plain SoFT). */
    public double distill() {
        return distill;
    }

    /** Distillation temperature {@code T}. */
    public double distillTemperature() {
        return temperature;
    }

    /** The weight of each exit named in {@code exit-weights} (the others weigh 1). */
    public Map<Integer, Double> exitWeights() {
        return exitWeights;
    }

    @Override
    void validate(SamplingSpec spec, SubModelSampler sampler) {
        List<Integer> exits = sampler.budgets().get("depth");
        for (int exit : exitWeights.keySet()) {
            if (!exits.contains(exit)) {
                throw new ConfigException(weightsPath + "." + exit, "exit " + exit + " is not one of the trained exits " + exits,
                        "weights for the depth budgets " + exits);
            }
        }
    }

    @Override
    NDArray compute(SubModelSampler sampler, ElasticModel model, Batch batch, Random random) {
        List<Integer> exits = sampler.budgets().get("depth");
        List<NDArray> logits = model.forwardExits(batch.inputs(), SubModel.FULL, exits);
        if (logits.size() != exits.size()) {
            throw new IllegalStateException("forwardExits returned " + logits.size() + " outputs for the " + exits.size()
                    + " exits " + exits);
        }
        int teacher = deepest(exits);
        NDArray target = null;
        NDArray targetLog = null;
        NDArray labelled = null; // per-position 1/0 over labelled positions; null when all are labelled
        if (distill > 0 && exits.size() > 1) {
            targetLog = scaled(logits.get(teacher).stopGradient()).logSoftmax(-1);
            target = targetLog.exp();
            labelled = labelledWeight(batch.labels(), targetLog.getDataType());
        }
        List<NDArray> losses = new ArrayList<>(exits.size());
        double totalWeight = 0;
        for (int i = 0; i < exits.size(); i++) {
            NDArray loss = Losses.crossEntropy(logits.get(i), batch.labels());
            if (target != null && i != teacher) {
                NDArray kl = target.mul(targetLog.sub(scaled(logits.get(i)).logSoftmax(-1))).sum(new int[] {-1});
                NDArray soft = Scalars.times(labelledMean(kl, labelled), temperature * temperature);
                loss = distill == 1 ? soft : Scalars.times(loss, 1 - distill).add(Scalars.times(soft, distill));
            }
            double w = exitWeights.getOrDefault(exits.get(i), 1.0);
            losses.add(w == 1 ? loss : Scalars.times(loss, w));
            totalWeight += w;
            count(SubModel.of("depth", exits.get(i)));
        }
        NDArray sum = reduce(losses, true);
        return losses.size() == 1 && totalWeight == 1 ? sum : Scalars.dividedBy(sum, totalWeight);
    }

    private NDArray scaled(NDArray logits) {
        return temperature == 1 ? logits : Scalars.dividedBy(logits, temperature);
    }

    private static int deepest(List<Integer> exits) {
        int best = 0;
        for (int i = 1; i < exits.size(); i++) {
            if (exits.get(i) > exits.get(best)) {
                best = i;
            }
        }
        return best;
    }

    /**
     * Weight 1 for each position whose label is not negative or is {@link Batch#UNLABELLED}
     * (distillation only) and 0 for padding, or null when every position counts; computed once
     * per loss, shared by every exit's distillation term.
     */
    private static NDArray labelledWeight(NDArray labels, DataType type) {
        NDArray ids = labels.toType(DataType.INT64, false);
        NDArray keep = ids.gte(0).logicalOr(ids.eq(Batch.UNLABELLED));
        return keep.all().getBoolean() ? null : keep.toType(type, false);
    }

    /** Mean of per-position values over the labelled positions ({@code weight} null: all; 0 when none is). */
    private static NDArray labelledMean(NDArray values, NDArray weight) {
        return weight == null ? values.mean() : values.mul(weight).sum().div(weight.sum().maximum(1));
    }

    @Override
    String describe(SubModelSampler s) {
        StringBuilder sb = new StringBuilder("objective all-exits: exits at depths ").append(s.budgets().get("depth"))
                .append(", one trunk pass per micro-step");
        if (distill > 0) {
            sb.append(String.format(Locale.ROOT, ", shallow exits distilled from the deepest (distill %s, temperature %s)",
                    distill, temperature));
        }
        if (!exitWeights.isEmpty()) {
            sb.append(", exit weights ").append(new TreeMap<>(exitWeights));
        }
        return sb.toString();
    }
}
