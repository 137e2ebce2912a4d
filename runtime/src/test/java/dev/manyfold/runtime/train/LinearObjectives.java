package dev.manyfold.runtime.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.objective.Objective;
import dev.manyfold.runtime.model.Model;
import java.util.Map;
import java.util.function.LongFunction;

/**
 * Objectives whose loss is linear in chosen parameters, {@code Σ_name sum(c_name ⊙ p_name)},
 * so each step's gradient is exactly the chosen coefficients.
 */
final class LinearObjectives {
    private LinearObjectives() {}

    /** Coefficients per parameter name, chosen per optimiser step (and the same for every micro-step). */
    static Objective linear(Model model, LongFunction<Map<String, float[]>> coefficientsByStep) {
        return perMicroStep(model, (step, micro) -> coefficientsByStep.apply(step));
    }

    interface Coefficients {
        Map<String, float[]> at(long step, int micro);
    }

    /** Coefficients chosen per optimiser step and micro-step (micro-steps are counted within a step). */
    static Objective perMicroStep(Model model, Coefficients coefficients) {
        int[] micro = {0};
        long[] lastStep = {-1};
        return (m, batch, step, random) -> {
            if (step != lastStep[0]) {
                lastStep[0] = step;
                micro[0] = 0;
            }
            NDManager scope = batch.inputs().getManager();
            NDArray loss = scope.zeros(new ai.djl.ndarray.types.Shape());
            for (Map.Entry<String, float[]> e : coefficients.at(step, micro[0]).entrySet()) {
                NDArray c = scope.create(e.getValue());
                loss = loss.add(c.mul(model.parameters().get(e.getKey())).sum());
            }
            micro[0]++;
            return loss;
        };
    }
}
