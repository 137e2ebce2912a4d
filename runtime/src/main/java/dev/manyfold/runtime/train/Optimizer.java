package dev.manyfold.runtime.train;

import dev.manyfold.runtime.model.TensorNames;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.runtime.model.Ops;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * AdamW with decoupled weight decay (Loshchilov &amp; Hutter), or plain SGD. Updates
 * parameters in place. State (first and second moments) lives in its own manager and is
 * saved with checkpoints as {@code optim.m.<name>} / {@code optim.v.<name>}.
 */
public final class Optimizer implements AutoCloseable {
    private final TrainConfig config;
    private final NDManager state;
    private final Map<String, NDArray> m = new LinkedHashMap<>();
    private final Map<String, NDArray> v = new LinkedHashMap<>();

    public Optimizer(TrainConfig config, NDManager parent) {
        this.config = config;
        this.state = parent.newSubManager();
    }

    /**
     * One update of {@code param} from {@code grad} (already scaled for clipping).
     *
     * @param t the 1-based optimiser step (bias correction)
     * @param scratch owns temporaries
     */
    public void update(String name, NDArray param, NDArray grad, double lr, long t, NDManager scratch) {
        update(name, param, grad, null, lr, t, scratch);
    }

    /**
     * One update with an extra decay term on pruned weights ({@code λ·P⊙W}, AST Eq. 20–23):
     * it joins the first moment after the moment update ({@code ũ = u + decay}), so it
     * reaches the second moment and the step but never accumulates in {@code u}. With SGD
     * it is simply added to the gradient. {@code decay} may be null.
     */
    public void update(String name, NDArray param, NDArray grad, NDArray decay, double lr, long t, NDManager scratch) {
        update(name, param, grad, decay, false, lr, t, scratch);
    }

    /**
     * As {@link #update(String, NDArray, NDArray, NDArray, double, long, NDManager)}; with
     * {@code afterStep} the decay (computed by the caller from the weights before this step)
     * is not folded into the update but applied after it: {@code W ← W − lr·decay}, the
     * decoupled placement of the original SR-STE (AST's ablation).
     */
    public void update(String name, NDArray param, NDArray grad, NDArray decay, boolean afterStep, double lr, long t,
            NDManager scratch) {
        update(name, param, grad, decay, afterStep ? DecayPlacement.AFTER_STEP : DecayPlacement.IN_ADAM, lr, t, scratch);
    }

    /** Where a pruned-weight decay enters the update (AST §3 discusses all three). */
    public enum DecayPlacement {
        /** Joined to the first moment after its update, never stored in it (Eq. 20–23). */
        IN_ADAM,
        /** {@code W ← W − lr·decay} after a plain step (decoupled, the original SR-STE). */
        AFTER_STEP,
        /** Added to the gradient before the moment updates, so it accumulates in both moments. */
        IN_GRADIENT
    }

    /**
     * As {@link #update(String, NDArray, NDArray, NDArray, boolean, double, long, NDManager)}
     * with the decay's placement spelled out; {@link DecayPlacement#IN_GRADIENT} updates the
     * moments from {@code grad + decay} (for SGD all placements but after-step coincide).
     */
    public void update(String name, NDArray param, NDArray grad, NDArray decay, DecayPlacement placement, double lr, long t,
            NDManager scratch) {
        if (placement == DecayPlacement.IN_GRADIENT && decay != null) {
            update(name, param, Ops.own(scratch, grad.add(decay)), null, DecayPlacement.IN_ADAM, lr, t, scratch);
            return;
        }
        boolean afterStep = placement == DecayPlacement.AFTER_STEP;
        if (afterStep && decay != null) {
            update(name, param, grad, null, DecayPlacement.IN_ADAM, lr, t, scratch);
            param.subi(decay.mul(lr));
            return;
        }
        if (config.optimizer().equals("sgd")) {
            param.subi((decay == null ? grad : grad.add(decay)).mul(lr));
            return;
        }
        NDArray mt = m.computeIfAbsent(name, k -> state.zeros(param.getShape(), param.getDataType()));
        NDArray vt = v.computeIfAbsent(name, k -> state.zeros(param.getShape(), param.getDataType()));
        double b1 = config.beta1();
        double b2 = config.beta2();
        mt.muli(b1).addi(grad.mul(1 - b1));
        // Every op whose first operand is long-lived is moved to the scratch manager at once.
        NDArray u = decay == null ? mt : Ops.own(scratch, mt.add(decay));
        // Plain Adam: v from g². With a pruned-weight decay (AST Eq. 22): v from ũ².
        vt.muli(b2).addi((decay == null ? grad : u).square().mul(1 - b2));
        double c1 = 1 - Math.pow(b1, t);
        double c2 = 1 - Math.pow(b2, t);
        NDArray denom = Ops.own(scratch, vt.div(c2)).sqrt().add(config.eps());
        NDArray step = Ops.own(scratch, u.div(c1)).div(denom);
        if (config.weightDecay() > 0) {
            step = step.add(Ops.own(scratch, param.mul(config.weightDecay())));
        }
        param.subi(step.mul(lr));
    }

    /** Whether {@code name} has moments (it has been updated by AdamW, or they were restored). */
    public boolean hasState(String name) {
        return m.containsKey(name);
    }

    /** Moment tensors for checkpoints. */
    public Map<String, NDArray> state() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        m.forEach((k, a) -> out.put(TensorNames.OPTIM_M + k, a));
        v.forEach((k, a) -> out.put(TensorNames.OPTIM_V + k, a));
        return out;
    }

    /** Restores moments saved by {@link #state()}. */
    public void restore(Map<String, NDArray> tensors) {
        tensors.forEach((k, a) -> {
            if (k.startsWith(TensorNames.OPTIM_M)) {
                NDArray copy = a.duplicate();
                copy.attach(state);
                m.put(TensorNames.momentParameter(k), copy);
            } else if (k.startsWith(TensorNames.OPTIM_V)) {
                NDArray copy = a.duplicate();
                copy.attach(state);
                v.put(TensorNames.momentParameter(k), copy);
            }
        });
    }

    @Override
    public void close() {
        state.close();
    }
}
