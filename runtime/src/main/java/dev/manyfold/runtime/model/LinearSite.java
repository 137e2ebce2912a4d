package dev.manyfold.runtime.model;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.adapter.AttachedAdapter;
import java.util.ArrayList;
import java.util.List;

/**
 * A weight matrix {@code [out, in]} that methods may touch, with a stable dotted name
 * ({@code layers.3.attn.q_proj}). Its effective weight is composed on every forward call:
 *
 * <pre>
 * W_eff = slice(mask ⊙ W)   [straight-through when the mask strategy says so]
 *       + Σ adapter.delta(slice)
 * </pre>
 *
 * The slice is a view of the one shared tensor, so gradients reach it. Masks and adapters
 * are set up before training; composing is safe from several threads.
 */
public final class LinearSite {
    private final String name;
    private final NDArray weight;
    private final NDArray bias;
    private volatile NDArray mask;
    private volatile boolean straightThrough;
    private final List<AttachedAdapter> adapters = new ArrayList<>();
    /** Per-input-feature sums of squares while recording (calibration), else null. */
    private volatile double[] recorded;

    public LinearSite(String name, NDArray weight, NDArray bias) {
        this.name = requireNonNull(name, "name is null");
        this.weight = requireNonNull(weight, "weight is null");
        this.bias = bias;
        if (weight.getShape().dimension() != 2) {
            throw new IllegalArgumentException("site " + name + " needs a 2-D weight, got " + weight.getShape());
        }
    }

    public String name() {
        return name;
    }

    /** The full, shared weight {@code [out, in]}. */
    public NDArray weight() {
        return weight;
    }

    /** The bias {@code [out]}, or null. */
    public NDArray bias() {
        return bias;
    }

    public int outFeatures() {
        return (int) weight.getShape().get(0);
    }

    public int inFeatures() {
        return (int) weight.getShape().get(1);
    }

    /** The current mask {@code [out, in]} (owned by the parameter store), or null. */
    public NDArray mask() {
        return mask;
    }

    /** Sets the mask; {@code straightThrough} passes gradients to masked entries. */
    public void setMask(NDArray mask, boolean straightThrough) {
        if (mask != null && !mask.getShape().equals(weight.getShape())) {
            throw new IllegalArgumentException("mask for site " + name + " has shape " + mask.getShape()
                    + " but the weight is " + weight.getShape());
        }
        this.mask = mask;
        this.straightThrough = straightThrough;
        changes++;
    }

    public void addAdapter(AttachedAdapter adapter) {
        adapters.add(requireNonNull(adapter, "adapter is null"));
        changes++;
    }

    private volatile int changes;

    /** Changes when the mask or the adapters change (not their values: see {@link ParameterStore#version()}). */
    public int changes() {
        return changes;
    }

    public List<AttachedAdapter> adapters() {
        return List.copyOf(adapters);
    }

    /** The effective weight of the prefix {@code [rows, cols]}, owned by {@code manager}. */
    public NDArray effectiveWeight(NDManager manager, int rows, int cols) {
        if (rows < 1 || cols < 1 || rows > outFeatures() || cols > inFeatures()) {
            // Checked here once, so adapters may rely on AttachedAdapter.delta's bounds.
            throw new IllegalArgumentException("site " + name + " is [" + outFeatures() + ", " + inFeatures() + "], cannot give a ["
                    + rows + ", " + cols + "] slice");
        }
        NDArray w = Ops.prefix(manager, weight, rows, cols);
        NDArray m = mask;
        if (m != null) {
            NDArray ms = Ops.prefix(manager, m, rows, cols);
            if (straightThrough) {
                NDArray masked = Ops.own(manager, w.mul(ms));
                w = Ops.own(manager, w.add(masked.sub(w).stopGradient()));
            } else {
                w = Ops.own(manager, w.mul(ms));
            }
        }
        for (AttachedAdapter adapter : adapters) {
            NDArray delta = adapter.delta(w, rows, cols, manager);
            w = Ops.own(manager, w.add(delta));
        }
        return w;
    }

    /**
     * Applies the site to {@code x [..., cols]} giving {@code [..., rows]}; the result and
     * all intermediates are owned by {@code x}'s manager.
     */
    public NDArray apply(NDArray x, int rows, int cols) {
        NDManager manager = x.getManager();
        if (recorded != null) {
            record(x, cols);
        }
        NDArray w = effectiveWeight(manager, rows, cols);
        NDArray y = x.matMul(Ops.own(manager, w.transpose()));
        if (bias != null) {
            y = y.add(Ops.prefix(manager, bias, rows));
        }
        return y;
    }

    /**
     * Starts recording the inputs this site sees: from now on every {@link #apply} adds
     * {@code Σ x_j²} over all leading positions to feature j's sum (a sub-model's prefix
     * adds to its first {@code cols} features). For calibration (activation-aware masks).
     */
    public synchronized void startRecording() {
        recorded = new double[inFeatures()];
    }

    /**
     * Stops recording; returns {@code ‖X_j‖₂} per input feature j: the square root of the
     * recorded sum of squares since {@link #startRecording()} (zeros if nothing was applied).
     */
    public synchronized float[] stopRecording() {
        double[] sums = recorded;
        recorded = null;
        float[] norms = new float[inFeatures()];
        if (sums != null) {
            for (int j = 0; j < norms.length; j++) {
                norms[j] = (float) Math.sqrt(sums[j]);
            }
        }
        return norms;
    }

    private synchronized void record(NDArray x, int cols) {
        if (recorded == null) {
            return;
        }
        try (NDManager scratch = x.getManager().newSubManager()) {
            NDArray squares = Ops.own(scratch, Ops.own(scratch, x.stopGradient()).toType(ai.djl.ndarray.types.DataType.FLOAT32, false)
                    .square());
            NDArray sums = Ops.own(scratch, Ops.own(scratch, squares.reshape(-1, cols)).sum(new int[] {0}));
            float[] values = sums.toFloatArray();
            for (int j = 0; j < cols; j++) {
                recorded[j] += values[j];
            }
        }
    }

    /** Applies the full site. */
    public NDArray apply(NDArray x) {
        return apply(x, outFeatures(), inFeatures());
    }
}
