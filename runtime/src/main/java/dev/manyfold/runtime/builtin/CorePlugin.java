package dev.manyfold.runtime.builtin;

import dev.manyfold.api.Context;
import dev.manyfold.api.Plugin;
import dev.manyfold.api.Settings;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.objective.Losses;
import dev.manyfold.api.objective.Objective;
import dev.manyfold.api.objective.ObjectiveFactory;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The runtime's own contributions, registered like any plugin: the {@code standard}
 * objective (cross-entropy of one fixed sub-model, the full model by default). It is the
 * objective of "normal training". Also {@code last-token} ({@link LastTokenObjective}):
 * classification from the last prompt token.
 */
public final class CorePlugin implements Plugin {
    /** Name of the default objective. */
    public static final String STANDARD = "standard";

    @Override
    public List<ObjectiveFactory> objectives() {
        return List.of(new ObjectiveFactory() {
            @Override
            public String name() {
                return STANDARD;
            }

            @Override
            public String description() {
                return "cross-entropy of one sub-model (the full model unless sub-model is set): normal training";
            }

            @Override
            public Objective create(Settings settings, Context context) {
                Settings section = settings.section("sub-model");
                SubModel sub = subModel(section);
                context.model().ifPresent(shape -> sub.budgets().forEach((dim, budget) -> {
                    Integer max = shape.dimensions().get(dim);
                    section.check(max != null, dim, "model family \"" + shape.family() + "\" has no dimension \"" + dim + "\"",
                            "dimensions " + shape.dimensions().keySet());
                    section.check(budget <= max, dim, dim + " budget " + budget + " does not fit the model", dim + " in [1, " + max + "]");
                }));
                return (model, batch, step, random) -> Losses.crossEntropy(model.forward(batch.inputs(), sub), batch.labels());
            }
        }, LastTokenObjective.factory());
    }

    /** Reads {@code {depth: 2, width: 64}} into a sub-model. */
    public static SubModel subModel(Settings section) {
        Map<String, Integer> budgets = new LinkedHashMap<>();
        for (String key : section.keys()) {
            int b = section.getInt(key);
            section.check(b >= 1, key, "budget must be >= 1, got " + b, "a positive budget");
            budgets.put(key, b);
        }
        return SubModel.of(budgets);
    }
}
