package dev.manyfold.plugin.dsee;

import dev.manyfold.api.Context;
import dev.manyfold.api.Settings;
import dev.manyfold.api.prune.GlobalPruning;
import dev.manyfold.api.prune.PruningStepFactory;

/** Creates {@link DseePruning} steps ({@code dsee-prune}) for a stage's {@code prune} section. */
public final class DseePruningFactory implements PruningStepFactory {
    @Override
    public String name() {
        return DseePruning.NAME;
    }

    @Override
    public String description() {
        return "DSEE pruning between stages: global |ΔW| / |W0| unstructured pools, or per-layer heads by Σ|ΔWq|+|ΔWv| (or random)";
    }

    @Override
    public GlobalPruning create(Settings settings, Context context) {
        return DseePruning.read(settings, context.model());
    }
}
