package dev.manyfold.runtime.host;

import static java.util.Objects.requireNonNull;

import com.google.inject.AbstractModule;
import com.google.inject.multibindings.MapBinder;
import dev.manyfold.api.Factory;
import dev.manyfold.api.adapter.AdapterFactory;
import dev.manyfold.api.decoder.DecoderFactory;
import dev.manyfold.api.dimension.DimensionFactory;
import dev.manyfold.api.mask.MaskStrategyFactory;
import dev.manyfold.api.objective.ObjectiveFactory;
import java.util.List;
import java.util.Map;

/**
 * Binds every accepted contribution into a {@code MapBinder<String, XFactory>} per
 * extension point, plus {@link Extensions} and the plugin records. A host platform can
 * install this module into its own injector (see {@link Manyfold#module()}).
 */
public final class ManyfoldModule extends AbstractModule {
    private final Map<ExtensionKind, Map<String, Factory<?>>> factories;
    private final List<PluginRecord> records;

    ManyfoldModule(Map<ExtensionKind, Map<String, Factory<?>>> factories, List<PluginRecord> records) {
        this.factories = requireNonNull(factories, "factories is null");
        this.records = List.copyOf(records);
    }

    @Override
    protected void configure() {
        bindAll(DimensionFactory.class, ExtensionKind.DIMENSION);
        bindAll(MaskStrategyFactory.class, ExtensionKind.MASK_STRATEGY);
        bindAll(AdapterFactory.class, ExtensionKind.ADAPTER);
        bindAll(DecoderFactory.class, ExtensionKind.DECODER);
        bindAll(ObjectiveFactory.class, ExtensionKind.OBJECTIVE);
        bindAll(dev.manyfold.api.prune.PruningStepFactory.class, ExtensionKind.PRUNING_STEP);
        bind(PluginRecords.class).toInstance(new PluginRecords(records));
        bind(Extensions.class);
    }

    private <F extends Factory<?>> void bindAll(Class<F> type, ExtensionKind kind) {
        MapBinder<String, F> binder = MapBinder.newMapBinder(binder(), String.class, type);
        factories.get(kind).forEach((name, factory) -> binder.addBinding(name).toInstance(type.cast(factory)));
    }

    /** The plugin records, injectable. */
    public record PluginRecords(List<PluginRecord> all) {}
}
