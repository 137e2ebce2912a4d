package dev.manyfold.plugin.sorted;

import static java.util.Objects.requireNonNull;

import dev.manyfold.api.ConfigException;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.Settings;
import dev.manyfold.api.dimension.Dimension;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * A dimension whose budgets select prefixes: depth (layers), width (hidden units or
 * channels), ffn (intermediate units), heads, embedding (model dimension).
 *
 * <p>Budgets are given as exactly one of {@code budgets: [2, 4, 8]},
 * {@code range: {from: 2, to: 8, step: 2}} or {@code fractions: [0.25, 0.5, 1.0]} (of the
 * model's maximum), with optional {@code weights} for sampling.
 */
final class PrefixDimension implements Dimension {
    private final String name;
    private final String path;
    private final List<Integer> explicit;
    private final List<Double> fractions;
    private final List<Double> weights;

    private PrefixDimension(String name, String path, List<Integer> explicit, List<Double> fractions, List<Double> weights) {
        this.name = requireNonNull(name, "name is null");
        this.path = requireNonNull(path, "path is null");
        this.explicit = explicit;
        this.fractions = fractions;
        this.weights = weights;
    }

    static PrefixDimension fromSettings(String name, Settings settings) {
        int given = (settings.has("budgets") ? 1 : 0) + (settings.has("range") ? 1 : 0) + (settings.has("fractions") ? 1 : 0);
        String accepted = "exactly one of budgets: [2, 4, 8], range: {from: 2, to: 8, step: 2}, fractions: [0.5, 1.0]";
        settings.check(given == 1, null, given == 0 ? "no budgets given" : "more than one budget form given", accepted);
        List<Integer> explicit = null;
        List<Double> fractions = null;
        if (settings.has("budgets")) {
            explicit = settings.getIntList("budgets", List.of());
            settings.check(!explicit.isEmpty(), "budgets", "the budget list is empty", "a non-empty list of sizes");
        } else if (settings.has("range")) {
            Settings range = settings.section("range");
            int from = range.getInt("from");
            int to = range.getInt("to");
            int step = range.getInt("step", 1);
            range.check(step >= 1, "step", "step must be >= 1, got " + step, "a positive step");
            range.check(from >= 1 && from <= to, "from", "empty range from " + from + " to " + to, "1 <= from <= to");
            explicit = new ArrayList<>();
            for (int b = from; b <= to; b += step) {
                explicit.add(b);
            }
            explicit = List.copyOf(explicit);
        } else {
            fractions = settings.getDoubleList("fractions", List.of());
            settings.check(!fractions.isEmpty(), "fractions", "the fraction list is empty", "fractions in (0, 1]");
            for (double f : fractions) {
                settings.check(f > 0 && f <= 1, "fractions", "fraction " + f + " is outside (0, 1]", "fractions in (0, 1]");
            }
        }
        List<Double> weights = settings.has("weights") ? settings.getDoubleList("weights", List.of()) : null;
        if (weights != null) {
            for (double w : weights) {
                settings.check(w >= 0 && Double.isFinite(w), "weights", "weight " + w + " is negative", "non-negative weights");
            }
            settings.check(weights.stream().mapToDouble(Double::doubleValue).sum() > 0, "weights", "all weights are zero", "at least one positive weight");
        }
        return new PrefixDimension(name, settings.path(), explicit, fractions, weights);
    }

    /**
     * A dimension with explicit budgets and no weights, for budgets that come from somewhere
     * other than a budget form (e.g. the distinct entries of an objective's {@code fixed} list).
     *
     * @param path the recipe path errors name
     */
    static PrefixDimension ofBudgets(String name, String path, List<Integer> budgets) {
        if (budgets.isEmpty()) {
            throw new ConfigException(path, "the budget list is empty", "a non-empty list of sizes");
        }
        return new PrefixDimension(name, path, List.copyOf(budgets), null, null);
    }

    /** The recipe path of this dimension's section. */
    String path() {
        return path;
    }

    /** Whether sampling weights were given. */
    boolean hasWeights() {
        return weights != null;
    }

    /**
     * The budgets when they do not depend on the model ({@code budgets} or {@code range}),
     * sorted; empty for {@code fractions}.
     */
    java.util.Optional<List<Integer>> explicitBudgets() {
        return explicit == null ? java.util.Optional.empty() : java.util.Optional.of(List.copyOf(new TreeSet<>(explicit)));
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public List<Integer> budgets(ModelShape model) {
        Integer max = model.dimensions().get(name);
        if (max == null) {
            throw new ConfigException(path, "model family \"" + model.family() + "\" does not support dimension \"" + name + "\"",
                    "dimensions " + model.dimensions().keySet());
        }
        List<Integer> raw = new ArrayList<>();
        if (explicit != null) {
            raw.addAll(explicit);
        } else {
            for (double f : fractions) {
                raw.add(Math.max(1, (int) Math.round(f * max)));
            }
        }
        TreeSet<Integer> sorted = new TreeSet<>();
        for (int b : raw) {
            if (b < 1 || b > max) {
                throw new ConfigException(path, "budget " + b + " does not fit the model (" + name + " has " + max + ")",
                        "budgets in [1, " + max + "]");
            }
            checkStructure(model, b);
            if (!sorted.add(b)) {
                throw new ConfigException(path, "budget " + b + " is listed twice", "distinct budgets");
            }
        }
        if (weights != null && weights.size() != sorted.size()) {
            throw new ConfigException(path + ".weights", weights.size() + " weights for " + sorted.size() + " budgets",
                    "one weight per budget " + sorted);
        }
        return List.copyOf(sorted);
    }

    @Override
    public List<Double> weights(ModelShape model) {
        List<Integer> budgets = budgets(model);
        if (weights == null) {
            return Dimension.super.weights(model);
        }
        double sum = weights.stream().mapToDouble(Double::doubleValue).sum();
        List<Double> out = new ArrayList<>();
        for (int i = 0; i < budgets.size(); i++) {
            out.add(weights.get(i) / sum);
        }
        return List.copyOf(out);
    }

    private void checkStructure(ModelShape model, int budget) {
        if (name.equals("heads")) {
            int heads = model.dimensions().get("heads");
            int kvHeads = model.size("kv-heads").orElse(heads);
            int group = heads / kvHeads;
            if (budget % group != 0) {
                throw new ConfigException(path, "budget " + budget + " heads breaks the grouped-KV layout (" + heads
                        + " query heads share " + kvHeads + " KV heads, " + group + " per group)",
                        "multiples of " + group);
            }
        }
    }
}
