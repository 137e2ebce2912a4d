package dev.manyfold.plugin.sorted;

import dev.manyfold.api.Context;
import dev.manyfold.api.Settings;
import dev.manyfold.api.objective.Objective;
import dev.manyfold.api.objective.ObjectiveFactory;
import java.util.List;

/**
 * The {@code stochastic}, {@code summation} and {@code all-exits} objectives.
 *
 * <p><b>Where the budgets come from.</b> An objective receives only its own recipe section, so
 * it cannot read the top-level {@code dimensions}. Each sorted objective therefore carries a
 * required {@code dimensions:} subsection, written in the top-level syntax
 * ({@code budgets} | {@code range} | {@code fractions}, optional {@code weights}) plus the
 * objective-only {@code fixed: [...]} cycle. It is the single source of truth for what is
 * <em>trained</em>; the top-level section stays the source for what the model is cut along and
 * evaluated on. An absent subsection is refused: the objective never guesses budgets from the
 * model. Budgets are checked against the model (when the host knows it at creation, otherwise
 * on the first loss) and errors name the path, e.g. {@code objective.dimensions.depth}.
 *
 * <pre>
 * objective:
 *   type: stochastic            # or summation, all-exits
 *   dimensions:
 *     width: { range: { from: 32, to: 256, step: 32 } }
 *     depth: { budgets: [1, 2, 3, 4], weights: [1, 1, 1, 2] }
 *   samples: 1                  # stochastic: draws per micro-step
 *   sandwich: false             # stochastic: also train smallest and largest every micro-step
 *   inplace-distill: false      # stochastic + sandwich: others learn the largest's predictions (US-Nets)
 *   # summation: sub-models: contained | all, reduce: mean | sum, max-sub-models: k
 *   # all-exits: distill: a (0..1; shallow exits also learn the deepest exit's softmax),
 *   #            distill-temperature: T (default 1), exit-weights: {2: 2.0, 3: 1.5} (others 1)
 *   report-every: 100           # write sorted-visits.tsv to the run directory every N steps (0: never)
 * </pre>
 */
final class SortedObjectiveFactory implements ObjectiveFactory {
    enum Kind { STOCHASTIC, SUMMATION, ALL_EXITS }

    static final List<ObjectiveFactory> ALL = List.of(
            new SortedObjectiveFactory(Kind.STOCHASTIC), new SortedObjectiveFactory(Kind.SUMMATION),
            new SortedObjectiveFactory(Kind.ALL_EXITS));

    private final Kind kind;

    SortedObjectiveFactory(Kind kind) {
        this.kind = kind;
    }

    @Override
    public String name() {
        return switch (kind) {
            case STOCHASTIC -> "stochastic";
            case SUMMATION -> "summation";
            case ALL_EXITS -> "all-exits";
        };
    }

    @Override
    public String description() {
        return switch (kind) {
            case STOCHASTIC -> "SortedNet stochastic loss: CE of sub-models drawn by Eq. 1 from the objective's own required"
                    + " dimensions: {...} (top-level syntax; weights or fixed per dimension); samples, sandwich, inplace-distill (US-Nets),"
                    + " report-every";
            case SUMMATION -> "SortedNet stochastic summation: mean (reduce: sum) CE of a drawn sub-model and every targeted"
                    + " sub-model it contains (sub-models: all = whole lattice) from the required dimensions: {...};"
                    + " max-sub-models caps evenly";
            case ALL_EXITS -> "SoFT (Sorted LLaMA Eq. 1): equal-weight mean CE at every budget of the required"
                    + " dimensions: { depth: {...} }, all exits from one trunk pass through the shared norm and head;"
                    + " distill: a and distill-temperature: T (shallow exits also learn the deepest exit's softmax),"
                    + " exit-weights: {depth: w}";
        };
    }

    @Override
    public Objective create(Settings settings, Context context) {
        int reportEvery = settings.getInt("report-every", 100, 0, Integer.MAX_VALUE);
        SortedObjective objective = switch (kind) {
            case STOCHASTIC -> {
                int samples = settings.getInt("samples", 1, 1, 1024);
                boolean sandwich = settings.getBoolean("sandwich", false);
                boolean distill = settings.getBoolean("inplace-distill", false);
                settings.check(!distill || sandwich, "inplace-distill", "in-place distillation without the sandwich rule: its"
                        + " teacher is the largest sub-model, which only the sandwich trains on every call", "sandwich: true");
                yield new StochasticObjective(SamplingSpec.fromSettings(settings, context), context, reportEvery, samples, sandwich,
                        distill);
            }
            case SUMMATION -> {
                boolean all = settings.getChoice("sub-models", List.of("contained", "all"), "contained").equals("all");
                boolean sum = settings.getChoice("reduce", List.of("mean", "sum"), "mean").equals("sum");
                int cap = settings.getInt("max-sub-models", 0, 0, Integer.MAX_VALUE);
                SamplingSpec spec = SamplingSpec.fromSettings(settings, context);
                if (all) {
                    refuseDistributions(spec, "sub-models: all trains every targeted sub-model on every call and draws nothing");
                }
                yield new SummationObjective(spec, context, reportEvery, all, sum, cap, settings.path());
            }
            case ALL_EXITS -> {
                SamplingSpec spec = SamplingSpec.fromSettings(settings, context);
                for (SamplingSpec.Entry e : spec.entries().values()) {
                    if (!e.name().equals("depth")) {
                        throw new dev.manyfold.api.ConfigException(e.path(), "all-exits cuts only along depth (one exit per"
                                + " depth budget, all from one trunk pass); dimension \"" + e.name() + "\" cannot be used",
                                "dimensions: { depth: { budgets: [...] } } only; use stochastic or summation for " + e.name());
                    }
                }
                settings.check(spec.entries().containsKey("depth"), "dimensions", "no depth dimension given",
                        "dimensions: { depth: { budgets: [...] } }");
                refuseDistributions(spec, "all-exits computes the loss at every depth budget on every call and draws nothing");
                double distill = settings.getDouble("distill", 0);
                settings.check(distill >= 0 && distill <= 1, "distill", "distill " + distill + " is outside [0, 1]",
                        "the weight a of the shallow exits' distillation term: 0 (plain SoFT) to 1 (distillation only)");
                if (settings.has("distill-temperature")) {
                    settings.check(distill > 0, "distill-temperature", "a temperature has no effect without distillation",
                            "distill: a (0 < a <= 1) beside it, or drop distill-temperature");
                }
                double temperature = settings.getDouble("distill-temperature", 1);
                settings.check(temperature > 0 && !Double.isInfinite(temperature), "distill-temperature",
                        "temperature " + temperature + " is not a positive number", "a temperature > 0, e.g. 1 or 2");
                yield new AllExitsObjective(spec, context, reportEvery, distill, temperature, exitWeights(settings),
                        settings.pathOf("exit-weights"));
            }
        };
        objective.bindEarly();
        return objective;
    }

    /** {@code exit-weights: {depth: weight > 0}}; empty when absent. */
    private static java.util.Map<Integer, Double> exitWeights(Settings settings) {
        java.util.Map<Integer, Double> weights = new java.util.TreeMap<>();
        java.util.Optional<Settings> section = settings.optionalSection("exit-weights");
        if (section.isEmpty()) {
            return weights;
        }
        Settings s = section.get();
        for (String key : s.keys()) {
            int exit;
            try {
                exit = Integer.parseInt(key.trim());
            } catch (NumberFormatException e) {
                throw s.invalid(key, "\"" + key + "\" is not an exit depth", "integer exit depths as keys, e.g. {2: 2.0, 3: 1.5}");
            }
            double w = s.getDouble(key);
            s.check(w > 0 && !Double.isInfinite(w), key, "weight " + w + " is not a positive number", "a weight > 0 (exits not"
                    + " listed weigh 1)");
            weights.put(exit, w);
        }
        return weights;
    }

    private static void refuseDistributions(SamplingSpec spec, String why) {
        for (SamplingSpec.Entry e : spec.entries().values()) {
            if (e.hasWeights()) {
                throw new dev.manyfold.api.ConfigException(e.path() + ".weights", "weights have no effect here: " + why,
                        "budgets only; drop weights");
            }
            if (e.hasFixed()) {
                throw new dev.manyfold.api.ConfigException(e.path() + ".fixed", "a fixed cycle has no effect here: " + why,
                        "budgets only; use budgets: instead of fixed:");
            }
        }
    }
}
