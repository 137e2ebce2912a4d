package dev.manyfold.plugin.sorted;

import dev.manyfold.api.objective.Scalars;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import dev.manyfold.api.Context;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.objective.Batch;
import dev.manyfold.api.objective.ElasticModel;
import dev.manyfold.api.objective.Losses;
import dev.manyfold.api.objective.Objective;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What the sorted objectives share: the objective's own {@code dimensions:} subsection bound
 * to the model (at creation when the context knows the model, otherwise on the first
 * {@link #loss} call), the count of every sub-model whose loss was computed, and the optional
 * {@code report-every} visit report.
 *
 * <p>Not called concurrently (see {@link Objective}); the reporting accessors may be called
 * from any thread.
 */
public abstract class SortedObjective implements Objective {
    /** File written to the context's work directory by {@code report-every}. */
    public static final String REPORT_FILE = "sorted-visits.tsv";

    private final String type;
    private final SamplingSpec spec;
    private final Context context;
    private final int reportEvery;
    private final ConcurrentHashMap<SubModel, Long> trained = new ConcurrentHashMap<>();
    private volatile SubModelSampler sampler;
    private long lastReportedStep = Long.MIN_VALUE;

    SortedObjective(String type, SamplingSpec spec, Context context, int reportEvery) {
        this.type = requireNonNull(type, "type is null");
        this.spec = requireNonNull(spec, "spec is null");
        this.context = requireNonNull(context, "context is null");
        this.reportEvery = reportEvery;
    }

    /** Binds to the context's model now, when known, so bad budgets fail at validation. */
    final void bindEarly() {
        context.model().ifPresent(this::bind);
    }

    /** The objective's {@code type}. */
    public final String type() {
        return type;
    }

    @Override
    public final NDArray loss(ElasticModel model, Batch batch, long step, Random random) {
        requireNonNull(model, "model is null");
        requireNonNull(batch, "batch is null");
        requireNonNull(random, "random is null");
        SubModelSampler s = bind(model.shape());
        NDArray loss = compute(s, model, batch, random);
        if (reportEvery > 0 && step % reportEvery == 0) {
            report(step);
        }
        return loss;
    }

    /**
     * The depth budgets this objective trains (each is an exit through the shared final norm and
     * head), so the host records them as trained exits even when the recipe has no top-level
     * {@code depth} dimension (API 1.1).
     */
    @Override
    public List<Integer> trainedExits(ModelShape model) {
        List<Integer> depths = bind(model).budgets().get("depth");
        return depths == null ? List.of() : depths;
    }

    /** The loss of one micro-batch, a scalar on the batch's manager. */
    abstract NDArray compute(SubModelSampler sampler, ElasticModel model, Batch batch, Random random);

    /** Checks that only an objective-specific spec would reject; called once per binding. */
    void validate(SamplingSpec spec, SubModelSampler sampler) {}

    /** The sampler, once bound to a model. */
    public final Optional<SubModelSampler> sampler() {
        return Optional.ofNullable(sampler);
    }

    /**
     * Every sub-model whose loss this objective computed, with how many times (one count per
     * micro-step it took part in), in lattice order. A snapshot; empty before binding.
     */
    public final Map<SubModel, Long> visits() {
        SubModelSampler s = sampler;
        return s == null ? Map.of() : s.ordered(trained);
    }

    final SamplingSpec spec() {
        return spec;
    }

    final Context context() {
        return context;
    }

    /** Cross-entropy of one sub-model on the batch, counted in {@link #visits}. */
    final NDArray crossEntropy(ElasticModel model, Batch batch, SubModel sub) {
        NDArray loss = Losses.crossEntropy(model.forward(batch.inputs(), sub), batch.labels());
        count(sub);
        return loss;
    }

    final void count(SubModel sub) {
        trained.merge(sub, 1L, Long::sum);
    }

    /** The mean ({@code sum == false}) or sum of scalar losses. */
    static NDArray reduce(List<NDArray> losses, boolean sum) {
        if (losses.isEmpty()) {
            throw new IllegalStateException("no losses to combine");
        }
        NDArray total = losses.get(0);
        for (int i = 1; i < losses.size(); i++) {
            total = total.add(losses.get(i));
        }
        return sum || losses.size() == 1 ? total : Scalars.dividedBy(total, losses.size());
    }

    private SubModelSampler bind(ModelShape shape) {
        SubModelSampler s = sampler;
        if (s != null) {
            return s;
        }
        synchronized (this) {
            if (sampler == null) {
                SubModelSampler fresh = spec.resolve(requireNonNull(shape, "model shape is null"));
                validate(spec, fresh);
                sampler = fresh;
                context.info(describe(fresh));
            }
            return sampler;
        }
    }

    /** One line about what the objective trains, for the user. */
    String describe(SubModelSampler s) {
        StringBuilder sb = new StringBuilder("objective ").append(type).append(": ");
        Map<String, String> kinds = s.distributions();
        s.budgets().forEach((d, b) -> sb.append(d).append(' ').append(b).append(" (").append(kinds.get(d)).append("), "));
        sb.append(s.latticeSize()).append(" targeted sub-models");
        return sb.toString();
    }

    private void report(long step) {
        SubModelSampler s = sampler;
        Map<SubModel, Long> done = visits();
        Map<SubModel, Long> drawn = s.visits();
        StringBuilder sb = new StringBuilder("sub-model\ttrained\tsampled\n");
        java.util.Set<SubModel> all = new java.util.LinkedHashSet<>(done.keySet());
        all.addAll(drawn.keySet());
        for (SubModel sub : s.ordered(toZero(all)).keySet()) {
            sb.append(sub).append('\t').append(done.getOrDefault(sub, 0L)).append('\t').append(drawn.getOrDefault(sub, 0L)).append('\n');
        }
        Path dir = context.workDirectory();
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve(REPORT_FILE), sb.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + dir.resolve(REPORT_FILE), e);
        }
        if (step != lastReportedStep) {
            lastReportedStep = step;
            context.info(String.format(Locale.ROOT, "step %d: %s trained %d of %d targeted sub-models (%s)", step, type,
                    done.size(), s.latticeSize(), dir.resolve(REPORT_FILE)));
        }
    }

    private static Map<SubModel, Long> toZero(java.util.Set<SubModel> subs) {
        Map<SubModel, Long> m = new java.util.HashMap<>();
        subs.forEach(x -> m.put(x, 0L));
        return m;
    }
}
