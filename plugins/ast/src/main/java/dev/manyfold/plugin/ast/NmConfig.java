package dev.manyfold.plugin.ast;

import static java.util.Objects.requireNonNull;

import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Globs;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.Settings;
import java.util.List;

/**
 * The settings of one {@code nm} recipe section, immutable.
 *
 * <pre>
 * masks:
 *   - type: nm
 *     n: 2                  # kept per group, 1 ≤ n &lt; m (default 2)
 *     m: 4                  # group size along the input dimension; must divide every targeted site's in (default 4)
 *     criterion: magnitude  # magnitude: the n largest |w| of each group | wanda: the n largest |w_ij|·‖X_j‖₂; lower index wins ties
 *     calibration-batches: 4   # wanda only: training micro-batches run before each mask computation to measure ‖X_j‖₂, ≥ 1
 *     every: 10             # Δt, optimiser steps between recomputations, ≥ 1 (default 10)
 *     mode: adaptive        # adaptive (recompute every Δt) | fixed (mask computed once at step 0)
 *     straight-through: true   # pruned weights keep receiving gradients (SR-STE)
 *     decay: annealed       # annealed (λ = λmax·min(t/T0, 1), T0 = T1/4) | constant (λmax) | none
 *     lambda-max: 1.0e-4    # λmax ≥ 0, the decay of pruned weights inside AdamW (AST Eq. 20–23)
 *     decay-placement: in-adam # in-adam (Eq. 20–23, outside the first moment) | after-step (W ← W − lr·λ·(1−M)⊙W after the step)
 *                              # | in-gradient (g ← g + λ·(1−M)⊙W before the moments: entangled with momentum); ablations
 *     targets: ["layers.**"]   # site globs; embeddings and the LM head stay dense
 *     plot-every: 1         # redraw mask-flips.png every this many mask updates, ≥ 1
 * </pre>
 */
public final class NmConfig {
    /** Every transformer-block linear; the embedding and the head are not under {@code layers}. */
    public static final List<String> DEFAULT_TARGETS = List.of("layers.**");
    static final List<String> CRITERIA = List.of("magnitude", "wanda");
    static final List<String> DECAYS = List.of("annealed", "constant", "none");
    static final List<String> MODES = List.of("adaptive", "fixed");
    static final List<String> PLACEMENTS = List.of("in-adam", "after-step", "in-gradient");

    /** How λ(t) moves over training. */
    public enum Decay { ANNEALED, CONSTANT, NONE }

    private final String path;
    private final int n;
    private final int m;
    private final int every;
    private final boolean fixed;
    private final boolean straightThrough;
    private final Decay decay;
    private final double lambdaMax;
    private final List<String> targets;
    private final int plotEvery;
    private final boolean wanda;
    private final int calibrationBatches;
    private final String decayPlacement;

    NmConfig(String path, int n, int m, int every, boolean fixed, boolean straightThrough, Decay decay, double lambdaMax,
            List<String> targets, int plotEvery) {
        this(path, n, m, every, fixed, straightThrough, decay, lambdaMax, targets, plotEvery, false, 0, "in-adam");
    }

    NmConfig(String path, int n, int m, int every, boolean fixed, boolean straightThrough, Decay decay, double lambdaMax,
            List<String> targets, int plotEvery, boolean wanda, int calibrationBatches, String decayPlacement) {
        this.wanda = wanda;
        this.calibrationBatches = calibrationBatches;
        this.decayPlacement = decayPlacement;
        this.path = requireNonNull(path, "path is null");
        this.n = n;
        this.m = m;
        this.every = every;
        this.fixed = fixed;
        this.straightThrough = straightThrough;
        this.decay = requireNonNull(decay, "decay is null");
        this.lambdaMax = lambdaMax;
        this.targets = List.copyOf(targets);
        this.plotEvery = plotEvery;
    }

    /** Reads and checks a section (everything that does not need the model). */
    public static NmConfig read(Settings settings) {
        int m = settings.getInt("m", 4);
        settings.check(m >= 2, "m", "m must be at least 2, got " + m, "a group size M ≥ 2 (2:4 uses m: 4)");
        int n = settings.getInt("n", 2);
        settings.check(n >= 1 && n < m, "n", "N:M needs 1 ≤ N < M, got n = " + n + " with m = " + m,
                "an n in [1, " + (m - 1) + "] for m = " + m);
        String criterion = settings.getChoice("criterion", CRITERIA, "magnitude");
        boolean wanda = criterion.equals("wanda");
        int calibrationBatches = 0;
        if (wanda) {
            calibrationBatches = settings.getInt("calibration-batches", 4);
            settings.check(calibrationBatches >= 1, "calibration-batches", "calibration-batches must be at least 1, got "
                    + calibrationBatches, "an integer ≥ 1 (training micro-batches that measure the input norms)");
        } else {
            settings.check(!settings.has("calibration-batches"), "calibration-batches",
                    "calibration-batches only applies to criterion: wanda", "remove it, or set criterion: wanda");
        }
        int every = settings.getInt("every", 10);
        settings.check(every >= 1, "every", "every (Δt) must be at least 1, got " + every,
                "an integer ≥ 1 (optimiser steps between mask recomputations); use mode: fixed for a mask computed once");
        boolean fixed = settings.getChoice("mode", MODES, "adaptive").equals("fixed");
        boolean straightThrough = settings.getBoolean("straight-through", true);
        Decay decay = Decay.valueOf(settings.getChoice("decay", DECAYS, "annealed").toUpperCase(java.util.Locale.ROOT));
        double lambdaMax = settings.getDouble("lambda-max", 1e-4);
        settings.check(lambdaMax >= 0 && Double.isFinite(lambdaMax), "lambda-max", "lambda-max must be ≥ 0, got " + lambdaMax,
                "a finite number ≥ 0 (the paper uses 1e-4 for GPT-2, 6e-5 for LLaMA2-7B)");
        String placement = settings.getChoice("decay-placement", PLACEMENTS, "in-adam");
        List<String> targets = settings.getTargets("targets", DEFAULT_TARGETS);
        for (String t : targets) {
            settings.check(!t.isBlank(), "targets", "an empty glob", "site globs such as layers.*.attn.q_proj");
        }
        int plotEvery = settings.getInt("plot-every", 1);
        settings.check(plotEvery >= 1, "plot-every", "plot-every must be at least 1, got " + plotEvery,
                "an integer ≥ 1 (mask updates between redraws of the flip-rate plot)");
        return new NmConfig(settings.path(), n, m, every, fixed, straightThrough, decay, lambdaMax, targets, plotEvery, wanda,
                calibrationBatches, placement);
    }

    /**
     * Checks the settings against a model: the targets must match a site and M must divide the
     * input dimension of every targeted site.
     *
     * @return the targeted sites
     * @throws ConfigException at the recipe path of {@code targets} or {@code m}
     */
    public List<String> validate(ModelShape shape) {
        requireNonNull(shape, "shape is null");
        List<String> sites = Globs.selectSites(targets, shape, pathOf("targets"));
        for (String site : sites) {
            int[] s = shape.siteShape(site);
            checkShape(site, s[0], s[1]);
        }
        return sites;
    }

    /** Checks one site {@code [rows, cols]}; throws at the recipe path of {@code m}. */
    void checkShape(String site, int rows, int cols) {
        if (cols % m != 0) {
            throw new ConfigException(pathOf("m"), "m = " + m + " does not divide the input dimension " + cols + " of site " + site
                    + " [" + rows + ", " + cols + "]", "an m that divides the input dimension of every targeted site, or targets without " + site);
        }
    }

    /**
     * λ(t): {@code annealed} rises linearly from 0 to λmax at T0 = T1/4 and stays there;
     * {@code constant} is λmax throughout; {@code none} is 0.
     */
    public double lambda(long step, long totalSteps) {
        switch (decay) {
            case NONE:
                return 0.0;
            case CONSTANT:
                return lambdaMax;
            default:
                double t0 = totalSteps / 4.0;
                if (t0 <= 0) {
                    return lambdaMax;
                }
                return lambdaMax * Math.min(Math.max(step, 0) / t0, 1.0);
        }
    }

    String pathOf(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    public String path() {
        return path;
    }

    public int n() {
        return n;
    }

    public int m() {
        return m;
    }

    /** Δt. */
    public int every() {
        return every;
    }

    /** Whether the mask is computed once, at step 0 (the fixed-mask ablation). */
    public boolean fixed() {
        return fixed;
    }

    public boolean straightThrough() {
        return straightThrough;
    }

    public Decay decay() {
        return decay;
    }

    public double lambdaMax() {
        return lambdaMax;
    }

    public List<String> targets() {
        return targets;
    }

    public int plotEvery() {
        return plotEvery;
    }

    /** Whether the criterion is Wanda ({@code |W_ij|·‖X_j‖₂}) rather than magnitude. */
    public boolean wanda() {
        return wanda;
    }

    /** Calibration micro-batches before each mask computation (Wanda), else 0. */
    public int calibrationBatches() {
        return calibrationBatches;
    }

    /** {@code decay-placement: after-step}: the pruned-weight decay is applied after the optimiser step. */
    public boolean decayAfterStep() {
        return decayPlacement.equals("after-step");
    }

    /** {@code decay-placement: in-gradient}: the pruned-weight decay is added to the gradient, before the moments. */
    public boolean decayInGradient() {
        return decayPlacement.equals("in-gradient");
    }
}
