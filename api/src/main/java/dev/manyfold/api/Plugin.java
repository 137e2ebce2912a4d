package dev.manyfold.api;

import dev.manyfold.api.adapter.AdapterFactory;
import dev.manyfold.api.decoder.DecoderFactory;
import dev.manyfold.api.dimension.DimensionFactory;
import dev.manyfold.api.mask.MaskStrategyFactory;
import dev.manyfold.api.objective.ObjectiveFactory;
import java.util.List;

/**
 * The entry point of a plugin: lists the named factories it contributes.
 *
 * <p>Every method has a default returning an empty list, so adding an extension point in a
 * later API version never breaks an existing plugin. Implementations need a public no-arg
 * constructor, are listed in {@code META-INF/services/dev.manyfold.api.Plugin}, and ship a
 * {@link PluginDescriptor} as {@code META-INF/manyfold-plugin.properties}.
 *
 * <p>The host calls each method once, at load time. A plugin loaded from a plugin directory
 * sees only the API, DJL and SLF4J from the host; everything else comes from its own jars.
 */
public interface Plugin {
    default List<DimensionFactory> dimensions() {
        return List.of();
    }

    default List<MaskStrategyFactory> maskStrategies() {
        return List.of();
    }

    default List<AdapterFactory> adapters() {
        return List.of();
    }

    default List<DecoderFactory> decoders() {
        return List.of();
    }

    default List<ObjectiveFactory> objectives() {
        return List.of();
    }

    /** Pruning steps between training stages ({@code stages[i].prune}). @since 1.1 */
    default List<dev.manyfold.api.prune.PruningStepFactory> pruningSteps() {
        return List.of();
    }
}
