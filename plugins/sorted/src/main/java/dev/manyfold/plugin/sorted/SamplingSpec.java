package dev.manyfold.plugin.sorted;

import static java.util.Objects.requireNonNull;

import dev.manyfold.api.ConfigException;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.Settings;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The {@code dimensions:} subsection of a sorted objective, parsed but not yet bound to a
 * model: which dimensions the objective cuts, their budgets and, per dimension, how a budget
 * is drawn.
 *
 * <pre>
 * dimensions:
 *   width: { range: { from: 32, to: 256, step: 32 } }          # uniform over the budgets
 *   depth: { budgets: [1, 2, 3, 4], weights: [1, 1, 2, 4] }     # weighted
 *   heads: { budgets: [2, 4, 8], fixed: [8, 2, 4] }             # deterministic cycle
 *   ffn:   { fixed: [512, 1024] }                                # budgets = the distinct fixed entries
 * </pre>
 *
 * <p>The budget forms ({@code budgets}, {@code range}, {@code fractions}) and {@code weights}
 * are exactly those of the recipe's top-level {@code dimensions} section (parsed by
 * {@link PrefixDimension#fromSettings}). {@code fixed} is objective-only and excludes
 * {@code weights}. Immutable and thread-safe.
 */
final class SamplingSpec {
    /** The dimensions this plugin can cut along. */
    static final List<String> KNOWN = List.of("depth", "width", "ffn", "heads", "embedding");

    /** One dimension of the spec. */
    record Entry(String name, PrefixDimension dimension, List<Integer> fixed) {
        Entry {
            requireNonNull(name, "name is null");
            requireNonNull(dimension, "dimension is null");
            fixed = fixed == null ? null : List.copyOf(fixed);
        }

        /** The recipe path of this dimension's section, e.g. {@code objective.dimensions.depth}. */
        String path() {
            return dimension.path();
        }

        boolean hasWeights() {
            return dimension.hasWeights();
        }

        boolean hasFixed() {
            return fixed != null;
        }
    }

    private final String path;
    private final Map<String, Entry> entries;

    private SamplingSpec(String path, Map<String, Entry> entries) {
        this.path = path;
        this.entries = java.util.Collections.unmodifiableMap(new TreeMap<>(entries));
    }

    /**
     * Reads the required {@code dimensions} key of an objective section.
     *
     * @throws ConfigException naming the recipe path of whatever is wrong
     */
    static SamplingSpec fromSettings(Settings objective, dev.manyfold.api.Context context) {
        Object raw = objective.asMap().get("dimensions");
        if (raw == null) {
            java.util.Optional<Settings> topLevel = context.recipeSection("dimensions");
            if (topLevel.isPresent() && !topLevel.get().keys().isEmpty()) {
                objective.markRead("dimensions");
                return fromDimensions(topLevel.get());
            }
        }
        String example = "dimensions: { depth: { budgets: [1, 2, 4] }, width: { range: { from: 32, to: 256, step: 32 } } }"
                + " (the syntax of the top-level dimensions section)";
        if (raw == null) {
            objective.markRead("dimensions");
            throw objective.invalid("dimensions", "no dimensions to train: the recipe has no top-level dimensions section and"
                    + " the objective names none (budgets are never guessed from the model)", example);
        }
        if (raw instanceof String) {
            objective.markRead("dimensions");
            throw objective.invalid("dimensions", "got the string \"" + raw + "\"; the recipe loader does not expand YAML"
                    + " aliases (*name), so write the dimensions out", example);
        }
        return fromDimensions(objective.section("dimensions"));
    }

    /** Reads a dimensions section: the objective's own, or the recipe's top-level one. */
    private static SamplingSpec fromDimensions(Settings dims) {
        String example = "dimensions: { depth: { budgets: [1, 2, 4] } }";
        dims.check(!dims.keys().isEmpty(), null, "no dimensions given", example);
        Map<String, Entry> entries = new TreeMap<>();
        for (String name : dims.keys()) {
            if (!KNOWN.contains(name)) {
                dims.markRead(name);
                throw dims.invalid(name, "unknown dimension" + Settings.closest(name, KNOWN), "dimensions " + KNOWN);
            }
            entries.put(name, entry(name, dims.section(name)));
        }
        return new SamplingSpec(dims.path(), entries);
    }

    private static Entry entry(String name, Settings section) {
        List<Integer> fixed = null;
        if (section.has("fixed")) {
            fixed = section.getIntList("fixed", List.of());
            section.check(!fixed.isEmpty(), "fixed", "the fixed list is empty", "a non-empty list of budgets to cycle through");
            for (int b : fixed) {
                section.check(b >= 1, "fixed", "budget " + b + " is not positive", "budgets >= 1");
            }
            section.check(!section.has("weights"), "fixed", "both fixed and weights given",
                    "either weights (random draws) or fixed (a deterministic cycle), not both");
        }
        boolean hasForm = section.has("budgets") || section.has("range") || section.has("fractions");
        PrefixDimension dimension;
        if (fixed != null && !hasForm) {
            dimension = PrefixDimension.ofBudgets(name, section.path(), List.copyOf(new TreeSet<>(fixed)));
        } else {
            dimension = PrefixDimension.fromSettings(name, section);
        }
        if (fixed != null) {
            List<Integer> known = dimension.explicitBudgets().orElse(null);
            if (known != null) {
                for (int b : fixed) {
                    section.check(known.contains(b), "fixed", "budget " + b + " is not one of the budgets " + known,
                            "entries of " + known);
                }
            }
        }
        return new Entry(name, dimension, fixed);
    }

    /** The recipe path of the {@code dimensions} subsection. */
    String path() {
        return path;
    }

    /** The dimensions by name, sorted by name. */
    Map<String, Entry> entries() {
        return entries;
    }

    /**
     * Binds the spec to a model: resolves fractions, checks every budget against the model
     * and builds a fresh sampler.
     *
     * @throws ConfigException naming e.g. {@code objective.dimensions.depth} when the family
     *     lacks the dimension or a budget does not fit
     */
    SubModelSampler resolve(ModelShape model) {
        List<SubModelSampler.Axis> axes = new ArrayList<>();
        for (Entry e : entries.values()) {
            List<Integer> budgets = e.dimension().budgets(model);
            List<Double> weights = e.hasWeights() ? e.dimension().weights(model) : null;
            int[] fixed = null;
            if (e.hasFixed()) {
                fixed = new int[e.fixed().size()];
                for (int i = 0; i < fixed.length; i++) {
                    int b = e.fixed().get(i);
                    int index = budgets.indexOf(b);
                    if (index < 0) {
                        throw new ConfigException(e.path() + ".fixed", "budget " + b + " is not one of the budgets " + budgets,
                                "entries of " + budgets);
                    }
                    fixed[i] = index;
                }
            }
            axes.add(new SubModelSampler.Axis(e.name(), budgets, weights, fixed));
        }
        return new SubModelSampler(axes);
    }
}
