package dev.manyfold.runtime.host;

import dev.manyfold.api.Factory;
import dev.manyfold.api.Plugin;
import dev.manyfold.api.adapter.AdapterFactory;
import dev.manyfold.api.decoder.DecoderFactory;
import dev.manyfold.api.dimension.DimensionFactory;
import dev.manyfold.api.mask.MaskStrategyFactory;
import dev.manyfold.api.objective.ObjectiveFactory;
import java.util.List;
import java.util.function.Function;

/** The extension points, with how to read each from a {@link Plugin}. */
public enum ExtensionKind {
    DIMENSION("dimension", DimensionFactory.class, Plugin::dimensions),
    MASK_STRATEGY("mask strategy", MaskStrategyFactory.class, Plugin::maskStrategies),
    ADAPTER("adapter", AdapterFactory.class, Plugin::adapters),
    DECODER("decoder", DecoderFactory.class, Plugin::decoders),
    OBJECTIVE("objective", ObjectiveFactory.class, Plugin::objectives),
    PRUNING_STEP("pruning step", dev.manyfold.api.prune.PruningStepFactory.class, Plugin::pruningSteps);

    private final String label;
    private final Class<? extends Factory<?>> factoryType;
    private final Function<Plugin, List<? extends Factory<?>>> reader;

    <F extends Factory<?>> ExtensionKind(String label, Class<F> factoryType, Function<Plugin, List<F>> reader) {
        this.label = label;
        this.factoryType = factoryType;
        this.reader = p -> reader.apply(p);
    }

    /** Plural label, e.g. "mask strategies". */
    public String plural() {
        return label.endsWith("y") ? label.substring(0, label.length() - 1) + "ies" : label + "s";
    }

    /** Human label, e.g. "mask strategy". */
    public String label() {
        return label;
    }

    public Class<? extends Factory<?>> factoryType() {
        return factoryType;
    }

    /** The plugin's factories of this kind; null lists are treated as empty. */
    public List<? extends Factory<?>> read(Plugin plugin) {
        List<? extends Factory<?>> list = reader.apply(plugin);
        return list == null ? List.of() : list;
    }
}
