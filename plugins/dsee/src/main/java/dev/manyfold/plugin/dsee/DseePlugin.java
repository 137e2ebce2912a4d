package dev.manyfold.plugin.dsee;

import dev.manyfold.api.Plugin;
import dev.manyfold.api.adapter.AdapterFactory;
import dev.manyfold.api.prune.PruningStepFactory;
import java.util.List;

/**
 * DSEE (Chen et al., ACL 2023): sparse + low-rank adapters on a frozen W0 ({@code dsee}), and
 * LoRA as its N = 0 baseline ({@code lora}). Spec: {@code /work/shared/papers/dsee.md}.
 */
public final class DseePlugin implements Plugin {
    @Override
    public List<AdapterFactory> adapters() {
        return List.of(DseeAdapterFactory.dsee(), DseeAdapterFactory.lora());
    }

    /** {@code dsee-prune}: the pruning step between stages (tune → prune → recover). */
    @Override
    public List<PruningStepFactory> pruningSteps() {
        return List.of(new DseePruningFactory());
    }
}
