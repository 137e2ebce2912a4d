package dev.manyfold.runtime.eval;

import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Context;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.Plugin;
import dev.manyfold.api.Settings;
import dev.manyfold.api.dimension.Dimension;
import dev.manyfold.api.dimension.DimensionFactory;
import java.util.List;

/**
 * A stand-alone plugin (API and JDK classes only, so {@link PluginJar} can package it into
 * a plugin jar) contributing {@code width} and {@code depth} dimensions that read
 * {@code budgets: [..]}: just enough for a recipe with a sorted lattice, independent of the
 * sorted plugin.
 */
public final class BudgetDimensionsPlugin implements Plugin {
    @Override
    public List<DimensionFactory> dimensions() {
        return List.of(new Factory("width"), new Factory("depth"));
    }

    static final class Factory implements DimensionFactory {
        private final String name;

        Factory(String name) {
            this.name = name;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public Dimension create(Settings settings, Context context) {
            List<Integer> budgets = List.copyOf(settings.getIntList("budgets", List.of()));
            String path = settings.path();
            String dim = name;
            return new Dimension() {
                @Override
                public String name() {
                    return dim;
                }

                @Override
                public List<Integer> budgets(ModelShape model) {
                    Integer max = model.dimensions().get(dim);
                    for (int b : budgets) {
                        if (max == null || b < 1 || b > max) {
                            throw new ConfigException(path, "budget " + b + " does not fit the model", "budgets in [1, " + max + "]");
                        }
                    }
                    return budgets;
                }
            };
        }
    }
}
