package dev.manyfold.plugin.ast;

import static java.util.Objects.requireNonNull;

import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Globs;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.Settings;
import java.util.List;

/**
 * The settings of one {@code slorb} recipe section, immutable.
 *
 * <pre>
 * adapters:
 *   - type: slorb
 *     k: 16                       # group size along the input dimension; divides every targeted site's in (default 16)
 *     init: mean                  # mean (AST Eq. 6: the group sums start at the dense sums) | zero
 *     trainable-projection: false # also train X (Eq. 5), [in/k, in] per site
 *     n: 2                        # the N:M of the initial mask: must match the nm mask strategy (default 2:4)
 *     m: 4
 *     targets: ["layers.**"]      # the sites the nm strategy sparsifies
 * </pre>
 */
public final class SlorbConfig {
    static final List<String> INITS = List.of("mean", "zero");

    private final String path;
    private final int k;
    private final boolean meanInit;
    private final boolean trainableProjection;
    private final int n;
    private final int m;
    private final List<String> targets;

    SlorbConfig(String path, int k, boolean meanInit, boolean trainableProjection, int n, int m, List<String> targets) {
        this.path = requireNonNull(path, "path is null");
        this.k = k;
        this.meanInit = meanInit;
        this.trainableProjection = trainableProjection;
        this.n = n;
        this.m = m;
        this.targets = List.copyOf(targets);
    }

    /** Reads and checks a section (everything that does not need the model). */
    public static SlorbConfig read(Settings settings) {
        int k = settings.getInt("k", 16);
        settings.check(k >= 1, "k", "k must be at least 1, got " + k, "a group size k ≥ 1 that divides every targeted input dimension");
        boolean mean = settings.getChoice("init", INITS, "mean").equals("mean");
        boolean trainableProjection = settings.getBoolean("trainable-projection", false);
        int m = settings.getInt("m", 4);
        settings.check(m >= 2, "m", "m must be at least 2, got " + m, "the nm strategy's group size M ≥ 2");
        int n = settings.getInt("n", 2);
        settings.check(n >= 1 && n < m, "n", "N:M needs 1 ≤ N < M, got n = " + n + " with m = " + m,
                "an n in [1, " + (m - 1) + "] for m = " + m);
        List<String> targets = settings.getTargets("targets", NmConfig.DEFAULT_TARGETS);
        return new SlorbConfig(settings.path(), k, mean, trainableProjection, n, m, targets);
    }

    /** Checks every targeted site of a model; throws at the path of {@code targets}, {@code m} or {@code k}. */
    public void validate(ModelShape shape) {
        requireNonNull(shape, "shape is null");
        List<String> sites = Globs.selectSites(targets, shape, pathOf("targets"));
        for (String site : sites) {
            int[] s = shape.siteShape(site);
            checkShape(site, s[0], s[1]);
        }
    }

    void checkShape(String site, int rows, int cols) {
        if (cols % m != 0) {
            throw new ConfigException(pathOf("m"), "m = " + m + " does not divide the input dimension " + cols + " of site " + site
                    + " [" + rows + ", " + cols + "]", "an m that divides the input dimension of every targeted site");
        }
        if (cols % k != 0) {
            throw new ConfigException(pathOf("k"), "k = " + k + " does not divide the input dimension " + cols + " of site " + site
                    + " [" + rows + ", " + cols + "]", "a k that divides the input dimension of every targeted site");
        }
    }

    String pathOf(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    public int k() {
        return k;
    }

    /** Whether S starts at the group means of the pruned weights (else at zero). */
    public boolean meanInit() {
        return meanInit;
    }

    public boolean trainableProjection() {
        return trainableProjection;
    }

    public int n() {
        return n;
    }

    public int m() {
        return m;
    }

    public List<String> targets() {
        return targets;
    }
}
