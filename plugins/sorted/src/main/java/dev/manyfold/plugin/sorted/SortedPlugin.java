package dev.manyfold.plugin.sorted;

import dev.manyfold.api.Context;
import dev.manyfold.api.Plugin;
import dev.manyfold.api.Settings;
import dev.manyfold.api.dimension.Dimension;
import dev.manyfold.api.dimension.DimensionFactory;
import dev.manyfold.api.objective.ObjectiveFactory;
import java.util.List;

/** SortedNet and Sorted LLaMA (SoFT): nested prefix dimensions and their objectives. */
public final class SortedPlugin implements Plugin {
    private static final List<String[]> DIMENSIONS = List.of(
            new String[] {"depth", "layers (transformer) or blocks (MLP/CNN); each depth is an exit"},
            new String[] {"width", "MLP hidden units or CNN channels"},
            new String[] {"ffn", "transformer FFN intermediate units"},
            new String[] {"heads", "attention heads, kept consistent with grouped KV heads"},
            new String[] {"embedding", "the model dimension, where the family supports it"});

    @Override
    public List<DimensionFactory> dimensions() {
        return DIMENSIONS.stream().map(d -> (DimensionFactory) new PrefixDimensionFactory(d[0], d[1])).toList();
    }

    /** {@code stochastic}, {@code summation} and {@code all-exits}; see {@link SortedObjectiveFactory}. */
    @Override
    public List<ObjectiveFactory> objectives() {
        return SortedObjectiveFactory.ALL;
    }

    private static final class PrefixDimensionFactory implements DimensionFactory {
        private final String name;
        private final String description;

        PrefixDimensionFactory(String name, String description) {
            this.name = name;
            this.description = description;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public String description() {
            return description;
        }

        @Override
        public Dimension create(Settings settings, Context context) {
            PrefixDimension dimension = PrefixDimension.fromSettings(name, settings);
            context.model().ifPresent(dimension::budgets);
            return dimension;
        }
    }
}
