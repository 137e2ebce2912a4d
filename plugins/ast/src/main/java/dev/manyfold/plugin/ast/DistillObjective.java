package dev.manyfold.plugin.ast;

import dev.manyfold.api.objective.Scalars;
import ai.djl.ndarray.NDArray;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.objective.Batch;
import dev.manyfold.api.objective.ElasticModel;
import dev.manyfold.api.objective.Losses;
import dev.manyfold.api.objective.Objective;
import java.util.Random;

/**
 * AST's knowledge distillation (§4, Eq. 4 with the authors' temperature):
 * <pre>
 *   L = α · τ² · KL(p_T ‖ p_S) + (1 − α) · CE(z_S, y)
 *   p_T = softmax(z_T / τ),  p_S = softmax(z_S / τ),  KL averaged over tokens (or examples)
 * </pre>
 * z_S are the full student's logits, z_T the frozen dense teacher's ({@link ElasticModel#teacher()},
 * built by the host because {@link #needsTeacher()} is true whenever α &gt; 0). No gradient
 * flows into the teacher.
 */
public final class DistillObjective implements Objective {
    private final double alpha;
    private final double temperature;

    public DistillObjective(double alpha, double temperature) {
        if (!(alpha >= 0 && alpha <= 1)) {
            throw new IllegalArgumentException("alpha must be in [0, 1], got " + alpha);
        }
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be > 0, got " + temperature);
        }
        this.alpha = alpha;
        this.temperature = temperature;
    }

    public double alpha() {
        return alpha;
    }

    public double temperature() {
        return temperature;
    }

    @Override
    public boolean needsTeacher() {
        return alpha > 0;
    }

    @Override
    public NDArray loss(ElasticModel model, Batch batch, long step, Random random) {
        NDArray student = model.forward(batch.inputs(), SubModel.FULL);
        NDArray ce = Losses.crossEntropy(student, batch.labels());
        if (alpha == 0) {
            return ce;
        }
        ElasticModel teacher = model.teacher().orElseThrow(() -> new IllegalStateException(
                "objective distill needs the frozen dense teacher, but the host built none"));
        NDArray teacherLogits = teacher.forward(batch.inputs(), SubModel.FULL).stopGradient();
        NDArray kl = klDivergence(teacherLogits, student, temperature);
        NDArray distill = Scalars.times(kl, alpha * temperature * temperature);
        return alpha == 1 ? distill : distill.add(Scalars.times(ce, 1 - alpha));
    }

    /**
     * {@code KL(softmax(t/τ) ‖ softmax(s/τ))} over the last axis, averaged over all leading
     * positions; a scalar owned by {@code s}'s manager.
     */
    static NDArray klDivergence(NDArray teacherLogits, NDArray studentLogits, double temperature) {
        NDArray logT = Scalars.dividedBy(teacherLogits, temperature).logSoftmax(-1);
        NDArray logS = Scalars.dividedBy(studentLogits, temperature).logSoftmax(-1);
        NDArray perPosition = logT.exp().mul(logT.sub(logS)).sum(new int[] {-1});
        NDArray mean = perPosition.mean();
        mean.attach(studentLogits.getManager());
        return mean;
    }
}
