package dev.manyfold.runtime.testing;

import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Context;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.Plugin;
import dev.manyfold.api.PluginDescriptor;
import dev.manyfold.api.Settings;
import dev.manyfold.api.adapter.Adapter;
import dev.manyfold.api.adapter.AdapterFactory;
import dev.manyfold.api.adapter.AttachedAdapter;
import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.decoder.DecoderFactory;
import dev.manyfold.api.dimension.Dimension;
import dev.manyfold.api.dimension.DimensionFactory;
import dev.manyfold.api.mask.MaskStrategyFactory;
import dev.manyfold.api.objective.Objective;
import dev.manyfold.api.objective.ObjectiveFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/** Small in-memory plugins and factories that read settings like real ones do. */
public final class TestPlugins {
    private TestPlugins() {}

    /** A descriptor accepting the current API. */
    public static PluginDescriptor descriptor(String name) {
        return PluginDescriptor.of(name, "1.0.0", "[1.0,2.0)", "test plugin " + name);
    }

    /** A plugin contributing the given factories. */
    public static final class TestPlugin implements Plugin {
        private final List<DimensionFactory> dimensions = new ArrayList<>();
        private final List<AdapterFactory> adapters = new ArrayList<>();
        private final List<ObjectiveFactory> objectives = new ArrayList<>();
        private final List<DecoderFactory> decoders = new ArrayList<>();
        private final List<MaskStrategyFactory> masks = new ArrayList<>();

        public TestPlugin dimension(DimensionFactory f) {
            dimensions.add(f);
            return this;
        }

        public TestPlugin dimensions(String... names) {
            for (String n : names) {
                dimensions.add(new BudgetDimensionFactory(n));
            }
            return this;
        }

        public TestPlugin adapter(AdapterFactory f) {
            adapters.add(f);
            return this;
        }

        public TestPlugin objective(ObjectiveFactory f) {
            objectives.add(f);
            return this;
        }

        public TestPlugin decoder(DecoderFactory f) {
            decoders.add(f);
            return this;
        }

        @Override
        public List<DimensionFactory> dimensions() {
            return dimensions;
        }

        @Override
        public List<AdapterFactory> adapters() {
            return adapters;
        }

        @Override
        public List<ObjectiveFactory> objectives() {
            return objectives;
        }

        @Override
        public List<DecoderFactory> decoders() {
            return decoders;
        }

        @Override
        public List<MaskStrategyFactory> maskStrategies() {
            return masks;
        }
    }

    /**
     * A dimension with {@code budgets: [..]} or {@code range: {from, to, step}} and optional
     * {@code weights}, like the sorted plugin's but independent of it.
     */
    public static final class BudgetDimensionFactory implements DimensionFactory {
        private final String name;

        public BudgetDimensionFactory(String name) {
            this.name = name;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public String description() {
            return "test dimension " + name;
        }

        @Override
        public Dimension create(Settings settings, Context context) {
            List<Integer> budgets = new ArrayList<>(settings.getIntList("budgets", List.of()));
            settings.optionalSection("range").ifPresent(range -> {
                int from = range.getInt("from");
                int to = range.getInt("to");
                int step = range.getInt("step", 1);
                range.check(step >= 1, "step", "must be >= 1", "a positive step");
                for (int b = from; b <= to; b += step) {
                    budgets.add(b);
                }
            });
            settings.getDoubleList("weights", List.of());
            List<Integer> fixed = List.copyOf(budgets);
            String path = settings.path();
            return new Dimension() {
                @Override
                public String name() {
                    return name;
                }

                @Override
                public List<Integer> budgets(ModelShape model) {
                    Integer max = model.dimensions().get(name);
                    for (int b : fixed) {
                        if (max == null || b > max) {
                            throw new ConfigException(path, "budget " + b + " does not fit the model", "budgets in [1, " + max + "]");
                        }
                    }
                    return fixed;
                }
            };
        }
    }

    /** A LoRA-like adapter: {@code rank} (required, >= 1) and {@code targets}. */
    public static final class RankAdapterFactory implements AdapterFactory {
        @Override
        public String name() {
            return "lora";
        }

        @Override
        public Adapter create(Settings settings, Context context) {
            int rank = settings.getInt("rank");
            settings.check(rank >= 1, "rank", "must be >= 1, got " + rank, "a positive rank");
            List<String> targets = settings.getStringList("targets", List.of("*"));
            settings.getDouble("alpha", rank);
            return new Adapter() {
                @Override
                public List<String> targets() {
                    return targets;
                }

                @Override
                public AttachedAdapter attach(String site, ai.djl.ndarray.NDArray weight, ai.djl.ndarray.NDManager parameters, long seed) {
                    throw new UnsupportedOperationException("test adapter");
                }
            };
        }
    }

    /** An objective without settings. */
    public static final class NamedObjectiveFactory implements ObjectiveFactory {
        private final String name;

        public NamedObjectiveFactory(String name) {
            this.name = name;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public Objective create(Settings settings, Context context) {
            return (model, batch, step, random) -> {
                throw new UnsupportedOperationException("test objective");
            };
        }
    }

    /** A decoder reading {@code temperature}. */
    public static final class GreedyDecoderFactory implements DecoderFactory {
        @Override
        public String name() {
            return "greedy";
        }

        @Override
        public Decoder create(Settings settings, Context context) {
            settings.getDouble("temperature", 0.0);
            return (model, prompt, max, onToken) -> {
                throw new UnsupportedOperationException("test decoder");
            };
        }
    }

    /** A model shape with the given dimensions and no sites. */
    public static ModelShape shape(Map<String, Integer> dimensions) {
        return new ModelShape() {
            @Override
            public String family() {
                return "test";
            }

            @Override
            public Map<String, Integer> dimensions() {
                return dimensions;
            }

            @Override
            public OptionalInt size(String name) {
                return OptionalInt.empty();
            }

            @Override
            public List<String> sites() {
                return List.of();
            }

            @Override
            public int[] siteShape(String site) {
                throw new IllegalArgumentException(site);
            }
        };
    }
}
