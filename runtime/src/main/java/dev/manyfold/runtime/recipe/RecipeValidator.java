package dev.manyfold.runtime.recipe;

import static java.util.Objects.requireNonNull;

import dev.manyfold.api.Context;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.Settings;
import dev.manyfold.api.adapter.Adapter;
import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.dimension.Dimension;
import dev.manyfold.api.mask.MaskStrategy;
import dev.manyfold.api.objective.Objective;
import dev.manyfold.runtime.host.ExtensionKind;
import dev.manyfold.runtime.host.Extensions;
import dev.manyfold.runtime.train.TrainConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Turns a {@link Recipe} into configured components, resolving every {@code type} through
 * the host's {@link Extensions} and refusing unknown keys. Errors are
 * {@link dev.manyfold.api.ConfigException}s carrying the recipe path.
 */
public final class RecipeValidator {
    private final Extensions extensions;

    public RecipeValidator(Extensions extensions) {
        this.extensions = requireNonNull(extensions, "extensions is null");
    }

    /** The validated plugin components of a recipe; {@code dimensions} iterates in recipe order. */
    public record Components(Map<String, Dimension> dimensions, Optional<Objective> objective, List<Adapter> adapters,
            List<MaskStrategy> masks, Optional<Decoder> decoder, Optional<TrainConfig> train) {
        /** The same components with {@code decoder} as the recipe's decoder. */
        public Components withDecoder(Optional<Decoder> decoder) {
            return new Components(dimensions, objective, adapters, masks, decoder, train);
        }
    }

    /**
     * Validates and creates the components. When {@code context.model()} is present,
     * dimension budgets are also checked against the model.
     */
    public Components validate(Recipe recipe, Context context) {
        return validate(recipe, context, null, true);
    }

    /**
     * As {@link #validate(Recipe, Context)}: {@code train}, when given, is the train section
     * already parsed (not parsed again); {@code withDecoder} false leaves the {@code decode}
     * section to {@link #decoder} (a run creates its decoder once the trained exits are known).
     */
    public Components validate(Recipe recipe, Context context, TrainConfig parsedTrain, boolean withDecoder) {
        Map<String, Dimension> dimensions = new LinkedHashMap<>();
        Settings dims = recipe.section("dimensions");
        for (String name : dims.keys()) {
            Settings section = dims.section(name);
            dimensions.put(name, extensions.create(extensions.dimensions(), ExtensionKind.DIMENSION, name, section, context,
                    section.path()));
        }
        dims.rejectUnknown();
        Optional<ModelShape> model = context.model();
        model.ifPresent(shape -> dimensions.values().forEach(d -> d.budgets(shape)));

        Optional<Objective> objective = recipe.optionalSection("objective")
                .map(s -> typed(s, extensions.objectives(), ExtensionKind.OBJECTIVE, context));
        List<Adapter> adapters = new ArrayList<>();
        for (Settings s : recipe.sections("adapters")) {
            adapters.add(typed(s, extensions.adapters(), ExtensionKind.ADAPTER, context));
        }
        List<MaskStrategy> masks = new ArrayList<>();
        for (Settings s : recipe.sections("masks")) {
            masks.add(typed(s, extensions.maskStrategies(), ExtensionKind.MASK_STRATEGY, context));
        }
        Optional<Decoder> decoder = withDecoder ? decoder(recipe, context) : Optional.empty();
        Optional<TrainConfig> train = parsedTrain != null ? Optional.of(parsedTrain) : recipe.optionalSection("train").map(s -> {
            TrainConfig config = TrainConfig.from(s);
            s.rejectUnknown();
            return config;
        });
        // Nothing reads an eval section yet: any key in it is refused rather than ignored.
        recipe.section("eval").rejectUnknown();
        // Keep recipe order: Map.copyOf would iterate in a per-JVM random order.
        return new Components(java.util.Collections.unmodifiableMap(dimensions), objective, List.copyOf(adapters), List.copyOf(masks), decoder, train);
    }

    /** The recipe's {@code decode} section created in {@code context}; empty without the section. */
    public Optional<Decoder> decoder(Recipe recipe, Context context) {
        return recipe.optionalSection("decode").map(s -> {
            if (s.has("engine")) { // read by the host: the engine the decoders run on
                dev.manyfold.runtime.onnx.Engines.check(s.getString("engine"), s.pathOf("engine"));
            }
            if (s.has(dev.manyfold.runtime.onnx.Engines.THREADS_KEY)) { // read by the host: ONNX Runtime's intra-op threads
                int threads = s.getInt(dev.manyfold.runtime.onnx.Engines.THREADS_KEY);
                s.check(threads >= 1, dev.manyfold.runtime.onnx.Engines.THREADS_KEY, threads + " is not a thread count", "an integer >= 1");
            }
            return typed(s, extensions.decoders(), ExtensionKind.DECODER, context);
        });
    }

    private <T, F extends dev.manyfold.api.Factory<T>> T typed(Settings section, Map<String, F> factories, ExtensionKind kind,
            Context context) {
        section.check(section.has("type"), "type", "required key is missing",
                "one of " + new java.util.TreeSet<>(factories.keySet()));
        String type = section.getString("type");
        return extensions.create(factories, kind, type, section, context, section.pathOf("type"));
    }
}
