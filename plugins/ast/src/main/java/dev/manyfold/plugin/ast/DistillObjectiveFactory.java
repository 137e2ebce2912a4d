package dev.manyfold.plugin.ast;

import dev.manyfold.api.Context;
import dev.manyfold.api.Settings;
import dev.manyfold.api.objective.Objective;
import dev.manyfold.api.objective.ObjectiveFactory;

/**
 * Creates {@code distill} objectives.
 *
 * <pre>
 * objective:
 *   type: distill
 *   alpha: 0.5         # weight of the KL term, in [0, 1] (CE gets 1 − α); the paper: 0.5 for LLaMA, 0.67 for GPT-2
 *   temperature: 2.0   # τ &gt; 0; the KL term is scaled by τ²
 * </pre>
 */
public final class DistillObjectiveFactory implements ObjectiveFactory {
    public static final String NAME = "distill";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "AST distillation from a frozen dense copy of the starting weights: α·τ²·KL(p_T‖p_S) + (1−α)·CE";
    }

    @Override
    public Objective create(Settings settings, Context context) {
        double alpha = settings.getDouble("alpha", 0.5);
        settings.check(alpha >= 0 && alpha <= 1, "alpha", "alpha must be in [0, 1], got " + alpha,
                "a weight in [0, 1] for the KL term (0.5 in the paper for LLaMA)");
        double temperature = settings.getDouble("temperature", 2.0);
        settings.check(temperature > 0 && Double.isFinite(temperature), "temperature", "temperature must be > 0, got " + temperature,
                "a finite τ > 0 (the paper uses 2)");
        return new DistillObjective(alpha, temperature);
    }
}
