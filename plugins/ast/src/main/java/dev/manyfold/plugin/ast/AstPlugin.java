package dev.manyfold.plugin.ast;

import dev.manyfold.api.Plugin;
import dev.manyfold.api.adapter.AdapterFactory;
import dev.manyfold.api.mask.MaskStrategyFactory;
import dev.manyfold.api.objective.ObjectiveFactory;
import java.util.List;

/**
 * AST (Huang et al., AAAI 2025): N:M (2:4) semi-structured masks recomputed from |W| during
 * training with an annealed decay of the pruned weights ({@code nm}), and the SLoRB adapter
 * ({@code slorb}), distillation from a frozen dense teacher ({@code distill}), and the exact and packed 2:4 export formats. Spec: {@code /work/shared/papers/ast.md}.
 */
public final class AstPlugin implements Plugin {
    @Override
    public List<MaskStrategyFactory> maskStrategies() {
        return List.of(new NmMaskStrategyFactory());
    }

    @Override
    public List<ObjectiveFactory> objectives() {
        return List.of(new DistillObjectiveFactory());
    }

    @Override
    public List<AdapterFactory> adapters() {
        return List.of(new SlorbAdapterFactory());
    }

    /** {@code export --format 2:4} and {@code packed-2:4} (see {@link Packed24}). */
    @Override
    public List<dev.manyfold.api.export.ExportFormatFactory> exportFormats() {
        return Packed24.factories();
    }
}
