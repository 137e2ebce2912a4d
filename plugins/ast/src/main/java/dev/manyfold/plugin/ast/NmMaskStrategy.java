package dev.manyfold.plugin.ast;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.mask.MaskStrategy;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * AST's adaptive N:M mask: recomputed from |W| every Δt steps ({@code mode: adaptive}) or once
 * at step 0 ({@code mode: fixed}), with straight-through gradients and the pruned-weight decay
 * λ(t) that the host's AdamW applies outside the first moment (AST Eq. 20–23).
 *
 * <p>Keeps, per site, the previous and the initial keep mask as plain Java arrays (no
 * NDArrays), to log flip rates at every update through a {@link FlipLog}.
 */
public final class NmMaskStrategy implements MaskStrategy {
    private final NmConfig config;
    private final FlipLog flips;
    private final Map<String, SiteMasks> sites = new ConcurrentHashMap<>();

    private static final class SiteMasks {
        final boolean[] initial;
        volatile boolean[] previous;

        SiteMasks(boolean[] initial) {
            this.initial = initial;
            this.previous = initial;
        }
    }

    NmMaskStrategy(NmConfig config, FlipLog flips) {
        this.config = requireNonNull(config, "config is null");
        this.flips = requireNonNull(flips, "flips is null");
    }

    public NmConfig config() {
        return config;
    }

    FlipLog flips() {
        return flips;
    }

    @Override
    public List<String> targets() {
        return config.targets();
    }

    /** Δt, or 0 in {@code fixed} mode (computed once). */
    /** {@code "N:M"}, e.g. {@code "2:4"}: zeros N:M kernels can skip. */
    @Override
    public String pattern() {
        return config.n() + ":" + config.m();
    }

    @Override
    public int updateEvery() {
        return config.fixed() ? 0 : config.every();
    }

    @Override
    public boolean straightThrough() {
        return config.straightThrough();
    }

    @Override
    public NDArray computeMask(String site, NDArray weight, long step, NDManager manager) {
        if (config.wanda()) {
            throw new IllegalStateException("criterion wanda needs input norms from calibration; the host did not supply them");
        }
        return computeMask(site, weight, null, step, manager);
    }

    /** {@code calibration-batches} with {@code criterion: wanda}, else 0. */
    @Override
    public int calibrationBatches() {
        return config.wanda() ? config.calibrationBatches() : 0;
    }

    @Override
    public NDArray computeMask(String site, NDArray weight, float[] inputNorms, long step, NDManager manager) {
        requireNonNull(site, "site is null");
        requireNonNull(weight, "weight is null");
        if (weight.getShape().dimension() != 2) {
            throw new IllegalArgumentException("site " + site + " has a " + weight.getShape() + " weight, expected [out, in]");
        }
        int rows = Math.toIntExact(weight.getShape().get(0));
        int cols = Math.toIntExact(weight.getShape().get(1));
        config.checkShape(site, rows, cols);
        boolean[] keep = update(site, dev.manyfold.api.Tensors.floats(weight), config.wanda() ? inputNorms : null, rows, cols, step);
        return NmMasks.toArray(keep, rows, cols, weight.getDataType(), manager);
    }

    /**
     * The new keep mask of a site from its row-major weight, recording flip counts. Step 0
     * (and a site's first call) starts the site afresh; in {@code fixed} mode a later call
     * returns the stored mask.
     */
    boolean[] update(String site, float[] weight, int rows, int cols, long step) {
        return update(site, weight, null, rows, cols, step);
    }

    /** As above, scoring by Wanda ({@code |W|·‖X_j‖₂}) when {@code inputNorms} is given. */
    boolean[] update(String site, float[] weight, float[] inputNorms, int rows, int cols, long step) {
        SiteMasks state = sites.get(site);
        if (state != null && step > 0 && config.fixed()) {
            flips.record(step, FlipRates.of(state.previous, state.previous, state.initial), false);
            return state.previous.clone();
        }
        boolean[] keep = NmMasks.wanda(weight, inputNorms, rows, cols, config.n(), config.m());
        if (state == null || step == 0) {
            sites.put(site, new SiteMasks(keep.clone()));
            flips.record(step, FlipRates.zero(), true);
            return keep;
        }
        FlipRates counts = FlipRates.of(keep, state.previous, state.initial);
        state.previous = keep.clone();
        flips.record(step, counts, false);
        return keep;
    }

    @Override
    public double prunedDecay(long step, long totalSteps) {
        return config.lambda(step, totalSteps);
    }

    /** {@code decay-placement: after-step}. */
    @Override
    public boolean prunedDecayAfterStep() {
        return config.decayAfterStep();
    }

    /** {@code decay-placement: in-gradient}. */
    @Override
    public boolean prunedDecayInGradient() {
        return config.decayInGradient();
    }
}
