package dev.manyfold.plugin.dsee;

import static java.util.Objects.requireNonNull;

import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Globs;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.Settings;
import java.util.List;

/**
 * The settings of one {@code dsee} or {@code lora} recipe section, immutable.
 *
 * <pre>
 * adapters:
 *   - type: dsee            # or lora: the same adapter with sparse = 0 (no sparse or support keys)
 *     rank: 8               # r ≥ 1 and below min(out, in) of every targeted site
 *     alpha: 16             # α &gt; 0; the update is scaled by α / r (default 2·r, the spec's scale 2)
 *     sparse: 16            # N = |Ω| per adapted matrix, 0 ≤ N ≤ out·in (default 16)
 *     support: grebsmo      # grebsmo | magnitude | random (default grebsmo)
 *     targets: [q_proj, v_proj]   # site globs (default: the attention query and value projections)
 *     seed: 0               # offset mixed into the per-site seed the host provides
 *     init-std: 0.02        # U ~ N(0, init-std²)
 *     grebsmo: { rank-step: 5, iterations: 100, inner: 2, threshold: 1.0, max-rank: 0, safeguard: true }
 *                           # or lambda: 0.01 (absolute λ, instead of threshold); safeguard: false keeps rising iterations
 * </pre>
 */
public final class DseeConfig {
    /** The spec's adapted matrices: Wq and Wv of every attention layer. */
    public static final List<String> DEFAULT_TARGETS = List.of("q_proj", "v_proj");

    private final String path;
    private final boolean lora;
    private final int rank;
    private final double alpha;
    private final int sparse;
    private final Support support;
    private final List<String> targets;
    private final long seedOffset;
    private final double initStd;
    private final GreBsmo.Options grebsmo;

    private DseeConfig(String path, boolean lora, int rank, double alpha, int sparse, Support support, List<String> targets,
            long seedOffset, double initStd, GreBsmo.Options grebsmo) {
        this.path = requireNonNull(path, "path is null");
        this.lora = lora;
        this.rank = rank;
        this.alpha = alpha;
        this.sparse = sparse;
        this.support = requireNonNull(support, "support is null");
        this.targets = List.copyOf(targets);
        this.seedOffset = seedOffset;
        this.initStd = initStd;
        this.grebsmo = requireNonNull(grebsmo, "grebsmo is null");
    }

    /**
     * Reads a section. {@code lora} sections accept neither {@code sparse}, {@code support} nor
     * {@code grebsmo} (strict settings refuse them as unknown keys).
     */
    public static DseeConfig read(Settings settings, boolean lora) {
        int rank = settings.getInt("rank", 16);
        settings.check(rank >= 1, "rank", "rank must be at least 1, got " + rank, "an integer ≥ 1");
        double alpha = settings.getDouble("alpha", 2.0 * rank);
        settings.check(alpha > 0 && Double.isFinite(alpha), "alpha", "alpha must be a positive number, got " + alpha,
                "a number > 0 (the update is scaled by alpha / rank)");
        List<String> targets = settings.getTargets("targets", DEFAULT_TARGETS);
        long seedOffset = settings.getLong("seed", 0);
        double initStd = settings.getDouble("init-std", 0.02);
        settings.check(initStd >= 0 && Double.isFinite(initStd), "init-std", "init-std must be ≥ 0, got " + initStd,
                "a number ≥ 0 (U ~ N(0, init-std²))");
        int sparse = 0;
        Support support = Support.GREBSMO;
        GreBsmo.Options grebsmo = GreBsmo.Options.defaults();
        if (!lora) {
            sparse = settings.getInt("sparse", 16);
            settings.check(sparse >= 0, "sparse", "sparse must be ≥ 0, got " + sparse, "N ≥ 0 sparse entries per adapted matrix");
            support = Support.fromRecipeName(settings.getChoice("support", Support.NAMES, "grebsmo"));
            if (settings.has("grebsmo")) {
                Settings g = settings.section("grebsmo");
                settings.check(support == Support.GREBSMO, "grebsmo", "GreBsmo settings given but support is " + support.recipeName(),
                        "a grebsmo section only with support: grebsmo");
                GreBsmo.Options d = GreBsmo.Options.defaults();
                int rankStep = g.getInt("rank-step", d.rankStep(), 1, Integer.MAX_VALUE);
                int iterations = g.getInt("iterations", d.iterations(), 1, 100_000);
                int inner = g.getInt("inner", d.inner(), 1, 1_000);
                g.check(!(g.has("threshold") && g.has("lambda")), "lambda", "both threshold and lambda are given",
                        "threshold (λ relative to rms(W0)) or lambda (absolute λ), not both");
                boolean absolute = g.has("lambda");
                String key = absolute ? "lambda" : "threshold";
                double threshold = g.getDouble(key, d.threshold());
                g.check(threshold >= 0 && Double.isFinite(threshold), key, key + " must be ≥ 0, got " + threshold,
                        absolute ? "the absolute λ, a number ≥ 0 (the authors' 0.01)" : "λ relative to rms(W0), a number ≥ 0");
                int maxRank = g.getInt("max-rank", d.maxRank(), 0, Integer.MAX_VALUE);
                boolean safeguard = g.getBoolean("safeguard", true);
                grebsmo = new GreBsmo.Options(rankStep, iterations, inner, threshold, maxRank, absolute, safeguard);
            }
        }
        return new DseeConfig(settings.path(), lora, rank, alpha, sparse, support, targets, seedOffset, initStd, grebsmo);
    }

    /**
     * Checks the settings against a model: the targets must match a site, and for every
     * targeted site {@code [m, n]} the rank must be below {@code min(m, n)} and N at most
     * {@code m·n}.
     *
     * @throws ConfigException at the recipe path of the offending key
     */
    public void validate(ModelShape shape) {
        requireNonNull(shape, "shape is null");
        List<String> sites = Globs.selectSites(targets, shape, pathOf("targets"));
        for (String site : sites) {
            int[] s = shape.siteShape(site);
            checkShape(site, s[0], s[1]);
        }
    }

    /** Checks one site {@code [rows, cols]}; throws at the recipe path of {@code rank} or {@code sparse}. */
    void checkShape(String site, int rows, int cols) {
        int min = Math.min(rows, cols);
        if (rank >= min) {
            throw new ConfigException(pathOf("rank"), "rank " + rank + " is not below min(m, n) = " + min + " of site " + site
                    + " [" + rows + ", " + cols + "]", min > 1 ? "a rank in [1, " + (min - 1) + "] for this site" : "a larger site");
        }
        long size = (long) rows * cols;
        if (sparse > size) {
            throw new ConfigException(pathOf("sparse"), "sparse " + sparse + " exceeds the " + size + " entries of site " + site
                    + " [" + rows + ", " + cols + "]", "N in [0, " + size + "]");
        }
    }

    private String pathOf(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    /** The recipe path of the section. */
    public String path() {
        return path;
    }

    /** Whether this is the {@code lora} baseline (N = 0). */
    public boolean isLora() {
        return lora;
    }

    public int rank() {
        return rank;
    }

    public double alpha() {
        return alpha;
    }

    /** α / r, applied to both the low-rank and the sparse branch. */
    public double scale() {
        return alpha / rank;
    }

    /** N = |Ω| per adapted matrix; 0 for LoRA. */
    public int sparse() {
        return sparse;
    }

    public Support support() {
        return support;
    }

    public List<String> targets() {
        return targets;
    }

    public long seedOffset() {
        return seedOffset;
    }

    public double initStd() {
        return initStd;
    }

    public GreBsmo.Options grebsmo() {
        return grebsmo;
    }
}
