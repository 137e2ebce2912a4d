package dev.manyfold.plugin.dsee;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * DSEE's unstructured pruning (spec §3.3): one global pool scores the adapted matrices by
 * |ΔW|, a second pool scores the other matrices by |W0|, and each pool zeroes exactly
 * {@code ⌊p·|pool|⌋} of its entries, the lowest scores first. The masks apply to W0; the
 * effective weight is then {@code M ⊙ W0 + ΔW}.
 *
 * <p>Ties are broken deterministically: equal scores are pruned in pool order (sites in the
 * order given, then row-major index). Scores and masks are plain row-major float arrays.
 *
 * <p>Not yet a {@code MaskStrategy}: that API computes one site's mask from that site's W0,
 * so it can see neither a global pool nor the adapters' ΔW.
 */
public final class UnstructuredPruning {
    private UnstructuredPruning() {}

    /**
     * Masks for one global pool.
     *
     * @param scores per site, row-major scores (for example |ΔW| or |W0|), in pool order
     * @param ratio p in {@code [0, 1)}
     * @return per site, in the same order, a 0/1 mask of the same length with exactly
     *     {@code ⌊p·Σ sizes⌋} zeros over the pool
     */
    public static Map<String, float[]> pool(Map<String, float[]> scores, double ratio) {
        requireNonNull(scores, "scores is null");
        if (!(ratio >= 0 && ratio < 1)) {
            throw new IllegalArgumentException("pruning ratio " + ratio + " is outside [0, 1)");
        }
        long total = 0;
        for (float[] s : scores.values()) {
            total += s.length;
        }
        long prune = (long) Math.floor(ratio * total);
        Map<String, float[]> masks = new LinkedHashMap<>();
        scores.forEach((site, s) -> {
            float[] m = new float[s.length];
            Arrays.fill(m, 1f);
            masks.put(site, m);
        });
        if (prune == 0) {
            return masks;
        }
        float[] all = new float[Math.toIntExact(total)];
        int offset = 0;
        for (float[] s : scores.values()) {
            for (int i = 0; i < s.length; i++) {
                all[offset + i] = Math.abs(s[i]);
            }
            offset += s.length;
        }
        float[] sorted = all.clone();
        Arrays.sort(sorted);
        float threshold = sorted[Math.toIntExact(prune - 1)];
        long below = 0;
        for (float v : all) {
            if (v < threshold) {
                below++;
            }
        }
        long equalToPrune = prune - below;
        offset = 0;
        for (Map.Entry<String, float[]> e : masks.entrySet()) {
            float[] m = e.getValue();
            for (int i = 0; i < m.length; i++) {
                float v = all[offset + i];
                if (v < threshold) {
                    m[i] = 0f;
                } else if (v == threshold && equalToPrune > 0) {
                    m[i] = 0f;
                    equalToPrune--;
                }
            }
            offset += m.length;
        }
        return masks;
    }

    /**
     * Masks for both pools: the adapted sites scored by |ΔW| of their adapters, the other
     * sites by |W0|.
     *
     * @param adapted the adapted sites' adapters (site name → adapter), in pool order
     * @param adaptedRatio p for the adapted pool, in {@code [0, 1)}
     * @param others the other sites' W0 {@code [out, in]} (site name → weight), in pool order
     * @param othersRatio p for the other pool, in {@code [0, 1)}
     * @return per site, a row-major 0/1 mask
     */
    public static Map<String, float[]> masks(Map<String, SparseLowRank> adapted, double adaptedRatio, Map<String, NDArray> others,
            double othersRatio) {
        Map<String, float[]> deltas = new LinkedHashMap<>();
        adapted.forEach((site, adapter) -> deltas.put(site, delta(adapter)));
        Map<String, float[]> weights = new LinkedHashMap<>();
        others.forEach((site, w) -> weights.put(site, w.toFloatArray()));
        Map<String, float[]> masks = new LinkedHashMap<>(pool(deltas, adaptedRatio));
        masks.putAll(pool(weights, othersRatio));
        return masks;
    }

    /** The adapter's full ΔW {@code [out, in]}, row-major. */
    public static float[] delta(SparseLowRank adapter) {
        try (NDManager scratch = adapter.u().getManager().newSubManager()) {
            return adapter.delta(null, adapter.rows(), adapter.cols(), scratch).toFloatArray();
        }
    }

    /** Number of zeros of a mask. */
    public static long zeros(float[] mask) {
        long z = 0;
        for (float v : mask) {
            if (v == 0f) {
                z++;
            }
        }
        return z;
    }

    /** Zeros over several masks. */
    public static long zeros(List<float[]> masks) {
        return masks.stream().mapToLong(UnstructuredPruning::zeros).sum();
    }
}
