package dev.manyfold.runtime.host;

import static java.util.Objects.requireNonNull;

import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Context;
import dev.manyfold.api.Factory;
import dev.manyfold.api.Settings;
import dev.manyfold.api.adapter.AdapterFactory;
import dev.manyfold.api.decoder.DecoderFactory;
import dev.manyfold.api.dimension.DimensionFactory;
import dev.manyfold.api.mask.MaskStrategyFactory;
import dev.manyfold.api.objective.ObjectiveFactory;
import jakarta.inject.Inject;
import java.util.Map;
import java.util.TreeSet;

/**
 * The contributed factories by kind and name, as bound in the host's Guice
 * {@code MapBinder}s. Resolving an unknown name fails with the known names and the closest
 * match; creating an instance enforces strict settings (unknown keys are refused).
 */
public final class Extensions {
    private final Map<String, DimensionFactory> dimensions;
    private final Map<String, MaskStrategyFactory> maskStrategies;
    private final Map<String, AdapterFactory> adapters;
    private final Map<String, DecoderFactory> decoders;
    private final Map<String, ObjectiveFactory> objectives;
    private final Map<String, dev.manyfold.api.prune.PruningStepFactory> pruningSteps;

    public Extensions(Map<String, DimensionFactory> dimensions, Map<String, MaskStrategyFactory> maskStrategies,
            Map<String, AdapterFactory> adapters, Map<String, DecoderFactory> decoders,
            Map<String, ObjectiveFactory> objectives) {
        this(dimensions, maskStrategies, adapters, decoders, objectives, Map.of());
    }

    @Inject
    public Extensions(Map<String, DimensionFactory> dimensions, Map<String, MaskStrategyFactory> maskStrategies,
            Map<String, AdapterFactory> adapters, Map<String, DecoderFactory> decoders,
            Map<String, ObjectiveFactory> objectives, Map<String, dev.manyfold.api.prune.PruningStepFactory> pruningSteps) {
        this.pruningSteps = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(requireNonNull(pruningSteps, "pruningSteps is null")));
        this.dimensions = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(requireNonNull(dimensions, "dimensions is null")));
        this.maskStrategies = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(requireNonNull(maskStrategies, "maskStrategies is null")));
        this.adapters = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(requireNonNull(adapters, "adapters is null")));
        this.decoders = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(requireNonNull(decoders, "decoders is null")));
        this.objectives = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(requireNonNull(objectives, "objectives is null")));
    }

    public Map<String, DimensionFactory> dimensions() {
        return dimensions;
    }

    public Map<String, MaskStrategyFactory> maskStrategies() {
        return maskStrategies;
    }

    public Map<String, AdapterFactory> adapters() {
        return adapters;
    }

    public Map<String, DecoderFactory> decoders() {
        return decoders;
    }

    public Map<String, ObjectiveFactory> objectives() {
        return objectives;
    }

    /** Pruning steps between stages (API 1.1). */
    public Map<String, dev.manyfold.api.prune.PruningStepFactory> pruningSteps() {
        return pruningSteps;
    }

    /** The factories of one kind. */
    public Map<String, ? extends Factory<?>> of(ExtensionKind kind) {
        return switch (kind) {
            case DIMENSION -> dimensions;
            case MASK_STRATEGY -> maskStrategies;
            case ADAPTER -> adapters;
            case DECODER -> decoders;
            case OBJECTIVE -> objectives;
            case PRUNING_STEP -> pruningSteps;
        };
    }

    /**
     * Finds a factory by name.
     *
     * @param path the recipe path that named it, for the error
     * @throws ConfigException listing the known names and the closest one
     */
    public <F extends Factory<?>> F resolve(Map<String, F> factories, ExtensionKind kind, String name, String path) {
        F factory = factories.get(name);
        if (factory == null) {
            TreeSet<String> known = new TreeSet<>(factories.keySet());
            throw new ConfigException(path, "unknown " + kind.label() + " \"" + name + "\"" + Settings.closest(name, known),
                    known.isEmpty() ? "none: no loaded plugin contributes a " + kind.label() + " (see `manyfold plugins`)"
                            : "one of " + known);
        }
        return factory;
    }

    /**
     * Creates an instance from a section whose {@code type} key (or, for dimensions, the
     * given name) selects the factory, and refuses keys the factory did not read.
     */
    public <T, F extends Factory<T>> T create(Map<String, F> factories, ExtensionKind kind, String name,
            Settings settings, Context context, String namePath) {
        F factory = resolve(factories, kind, name, namePath);
        T instance = factory.create(settings, context);
        if (instance == null) {
            throw new IllegalStateException(kind.label() + " factory \"" + name + "\" returned null");
        }
        settings.rejectUnknown();
        return instance;
    }
}
