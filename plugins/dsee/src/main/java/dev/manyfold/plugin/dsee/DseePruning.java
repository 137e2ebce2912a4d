package dev.manyfold.plugin.dsee;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Globs;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.Settings;
import dev.manyfold.api.adapter.AttachedAdapter;
import dev.manyfold.api.prune.AttentionLayout;
import dev.manyfold.api.prune.GlobalPruning;
import dev.manyfold.api.prune.PruneSite;
import dev.manyfold.api.prune.PruningPlan;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * DSEE's pruning step (spec §3.3), used as a stage's {@code prune} section; computed once over
 * the whole model after the previous stage:
 *
 * <pre>
 * prune:
 *   type: dsee-prune
 *   adapted: 0.2        # unstructured: p of the |ΔW| pool (every site with an adapter), in [0, 1)
 *   others: 0.2         # unstructured: p of the |W0| pool (the others-targets sites without adapters), in [0, 1)
 *   others-targets: ["layers.**"]   # globs of the |W0| pool (default: every block matrix)
 *   adapted-score: delta   # delta: the adapted pool is scored by |ΔW| (the paper's choice) | weight: by |W0 + ΔW| (its ablation)
 *   heads: 1            # structured: heads removed in every layer (0 = none); not with adapted/others
 *   head-score: delta   # delta: Σ|ΔWq|+|ΔWv| per head, lowest removed | random: seeded control
 *   seed: 0             # for head-score: random
 * </pre>
 *
 * Each unstructured pool zeroes exactly {@code ⌊p·|pool|⌋} entries, lowest scores first (see
 * {@link UnstructuredPruning}). The masks are fixed and cover the whole effective weight
 * ({@code M ⊙ W0 + M ⊙ ΔW}): pruned entries are exactly zero and get no gradient. A pruning step
 * (API 1.1 {@link dev.manyfold.api.prune.PruningStepFactory}), so it can only be a stage's
 * {@code prune}; {@code masks} do not list it.
 */
public final class DseePruning implements GlobalPruning {
    /** The recipe type name. */
    public static final String NAME = "dsee-prune";

    private final String path;
    private final double adapted;
    private final double others;
    private final List<String> othersTargets;
    private final int heads;
    private final boolean randomHeads;
    private final long seed;
    private final boolean scoreWithWeight;

    private DseePruning(String path, double adapted, double others, List<String> othersTargets, int heads, boolean randomHeads,
            long seed, boolean scoreWithWeight) {
        this.path = path;
        this.adapted = adapted;
        this.others = others;
        this.othersTargets = List.copyOf(othersTargets);
        this.heads = heads;
        this.randomHeads = randomHeads;
        this.seed = seed;
        this.scoreWithWeight = scoreWithWeight;
    }

    /**
     * Reads and checks a section: ratios in [0, 1); with a model, structured pruning needs
     * kv-heads = heads and must leave at least one head in every layer.
     */
    public static DseePruning read(Settings s, Optional<ModelShape> model) {
        double adapted = ratio(s, "adapted");
        double others = ratio(s, "others");
        List<String> othersTargets = s.getStringList("others-targets", List.of("layers.**"));
        int heads = s.getInt("heads", 0);
        s.check(heads >= 0, "heads", "heads must be ≥ 0, got " + heads, "the number of heads removed per layer, ≥ 0");
        String score = s.getChoice("head-score", List.of("delta", "random"), "delta");
        long seed = s.getLong("seed", 0);
        String adaptedScore = s.getChoice("adapted-score", List.of("delta", "weight"), "delta");
        s.check(heads == 0 || (adapted == 0 && others == 0), "heads", "structured (heads) and unstructured (adapted/others) pruning"
                + " in one step", "one kind per prune step (use two stages)");
        s.check(heads > 0 || adapted > 0 || others > 0, "adapted", "the step prunes nothing", "adapted, others or heads > 0");
        if (heads > 0 && model.isPresent()) {
            ModelShape shape = model.get();
            int h = shape.size("heads").orElseThrow(() -> new ConfigException(s.pathOf("heads"), "the " + shape.family()
                    + " model has no attention heads", "heads: 0 (unstructured pruning only)"));
            int kv = shape.size("kv-heads").orElse(h);
            if (kv != h) {
                throw new ConfigException(s.pathOf("heads"), "structured pruning of a model with grouped KV heads (" + kv + " KV heads for "
                        + h + " query heads)", "a model with kv-heads = heads");
            }
            int fewest = shape.size("layer-heads-min").orElse(h);
            if (heads >= fewest) {
                throw new ConfigException(s.pathOf("heads"), "removing " + heads + " heads would remove every head of a layer that has "
                        + fewest, "at most " + (fewest - 1) + " heads per layer");
            }
        }
        return new DseePruning(s.path(), adapted, others, othersTargets, heads, score.equals("random"), seed,
                adaptedScore.equals("weight"));
    }

    private static double ratio(Settings s, String key) {
        double p = s.getDouble(key, 0.0);
        s.check(p >= 0 && p < 1, key, "pruning ratio " + p + " is outside [0, 1)", "a fraction p with 0 ≤ p < 1");
        return p;
    }

    public double adaptedRatio() {
        return adapted;
    }

    public double othersRatio() {
        return others;
    }

    /** Heads removed per layer. */
    public int heads() {
        return heads;
    }

    @Override
    public int headsRemovedPerLayer() {
        return heads;
    }

    @Override
    public PruningPlan plan(Map<String, PruneSite> sites, Optional<AttentionLayout> attention, NDManager manager) {
        requireNonNull(sites, "sites is null");
        if (heads > 0) {
            return new PruningPlan(Map.of(), Optional.of(keptHeads(sites, attention.orElseThrow(() -> new ConfigException(
                    path + ".heads", "the model has no attention layers", "heads: 0")))));
        }
        Map<String, float[]> deltas = new LinkedHashMap<>();
        Map<String, float[]> weights = new LinkedHashMap<>();
        List<String> pool2 = Globs.select(othersTargets, sites.keySet());
        for (PruneSite site : sites.values()) {
            if (!site.adapters().isEmpty()) {
                deltas.put(site.name(), scoreWithWeight ? weightPlusDelta(site) : delta(site));
            } else if (pool2.contains(site.name())) {
                weights.put(site.name(), site.weight().toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray());
            }
        }
        if (adapted > 0 && deltas.isEmpty()) {
            throw new ConfigException(path + ".adapted", "no site has an adapter, so the |ΔW| pool is empty", "adapted: 0, or adapters");
        }
        if (others > 0 && weights.isEmpty()) {
            throw new ConfigException(path + ".others-targets", "the globs " + othersTargets + " match no site without an adapter",
                    "globs over sites such as layers.*.mlp.up_proj");
        }
        Map<String, float[]> masks = new LinkedHashMap<>();
        if (adapted > 0) {
            masks.putAll(UnstructuredPruning.pool(deltas, adapted));
        }
        if (others > 0) {
            masks.putAll(UnstructuredPruning.pool(weights, others));
        }
        Map<String, NDArray> out = new LinkedHashMap<>();
        masks.forEach((name, m) -> {
            PruneSite site = sites.get(name);
            out.put(name, manager.create(m, new Shape(site.rows(), site.cols())).toType(site.weight().getDataType(), false));
        });
        return new PruningPlan(out, Optional.empty());
    }

    /** {@code W0 + Σ ΔW} of a site {@code [out, in]}, row-major: the |W + ΔW| criterion of the paper's ablation. */
    static float[] weightPlusDelta(PruneSite site) {
        float[] sum = delta(site);
        float[] w = site.weight().toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
        for (int i = 0; i < sum.length; i++) {
            sum[i] += w[i];
        }
        return sum;
    }

    /** Σ of the site's adapter deltas {@code [out, in]}, row-major. */
    static float[] delta(PruneSite site) {
        float[] sum = new float[site.rows() * site.cols()];
        try (NDManager scratch = site.weight().getManager().newSubManager()) {
            for (AttachedAdapter a : site.adapters()) {
                float[] d = a.delta(site.weight(), site.rows(), site.cols(), scratch)
                        .toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
                for (int i = 0; i < sum.length; i++) {
                    sum[i] += d[i];
                }
            }
        }
        return sum;
    }

    /** Per layer, the heads kept: all but the {@code heads} lowest scores (ties: lower index removed first), ascending. */
    List<int[]> keptHeads(Map<String, PruneSite> sites, AttentionLayout layout) {
        List<int[]> kept = new ArrayList<>();
        for (int l = 0; l < layout.layers().size(); l++) {
            AttentionLayout.Layer layer = layout.layers().get(l);
            if (layer.kvHeads() != layer.heads()) {
                throw new ConfigException(path + ".heads", "layer " + l + " groups " + layer.heads() + " query heads into "
                        + layer.kvHeads() + " KV heads", "a model with kv-heads = heads");
            }
            if (heads >= layer.heads()) {
                throw new ConfigException(path + ".heads", "removing " + heads + " heads would remove every head of layer " + l
                        + " (" + layer.heads() + " heads)", "at most " + (layer.heads() - 1) + " heads per layer");
            }
            double[] score = randomHeads ? randomScores(layer.heads(), l) : headScores(sites, layer, layout.headDim());
            Integer[] order = new Integer[layer.heads()];
            for (int h = 0; h < order.length; h++) {
                order[h] = h;
            }
            Arrays.sort(order, (a, b) -> score[a] != score[b] ? Double.compare(score[a], score[b]) : Integer.compare(a, b));
            boolean[] removed = new boolean[layer.heads()];
            for (int i = 0; i < heads; i++) {
                removed[order[i]] = true;
            }
            int[] keep = new int[layer.heads() - heads];
            int j = 0;
            for (int h = 0; h < removed.length; h++) {
                if (!removed[h]) {
                    keep[j++] = h;
                }
            }
            kept.add(keep);
        }
        return kept;
    }

    private double[] randomScores(int n, int layer) {
        SplittableRandom random = new SplittableRandom(SparseLowRank.mix(seed, 1000 + layer));
        double[] s = new double[n];
        for (int i = 0; i < n; i++) {
            s[i] = random.nextDouble();
        }
        return s;
    }

    /** Per head, Σ|ΔWq| + Σ|ΔWv| over the head's rows; refuses layers whose q and v carry no adapter. */
    static double[] headScores(Map<String, PruneSite> sites, AttentionLayout.Layer layer, int headDim) {
        double[] score = new double[layer.heads()];
        boolean any = false;
        for (String name : List.of(layer.q(), layer.v())) {
            PruneSite site = sites.get(name);
            if (site == null || site.adapters().isEmpty()) {
                continue;
            }
            any = true;
            float[] d = delta(site);
            int cols = site.cols();
            for (int row = 0; row < site.rows(); row++) {
                double sum = 0;
                for (int c = 0; c < cols; c++) {
                    sum += Math.abs(d[row * cols + c]);
                }
                score[row / headDim] += sum;
            }
        }
        if (!any) {
            throw new IllegalStateException("head scores need an adapter on " + layer.q() + " or " + layer.v());
        }
        return score;
    }

    /** "pruned heads per layer: ..." or the pools' counts. */
    @Override
    public String describe(PruningPlan plan) {
        if (plan.keptHeads().isPresent()) {
            StringBuilder b = new StringBuilder("kept heads per layer (" + (randomHeads ? "random" : "lowest Σ|ΔWq|+|ΔWv| removed") + "):");
            for (int[] k : plan.keptHeads().get()) {
                b.append(' ').append(Arrays.toString(k));
            }
            return b.toString();
        }
        return String.format(Locale.ROOT, "unstructured: |ΔW| pool p = %s, |W0| pool p = %s, %d masked sites", adapted, others,
                plan.masks().size());
    }
}
