package dev.manyfold.runtime.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.manyfold.api.decoder.InferenceSession;
import dev.manyfold.runtime.model.LayeredLanguageModel;
import dev.manyfold.runtime.data.HostBatch;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;

/**
 * Sorted-LLaMA exit analysis: for each depth exit n, how close the exit's next-token
 * distribution and hidden state are to the last layer's.
 *
 * <ul>
 *   <li>{@code KL(p_L ‖ p_n) = Σ_v p_L(v) (log p_L(v) − log p_n(v))} per position, where
 *       {@code p_n = softmax(head(h_n))} uses the model's single final norm and LM head;
 *   <li>cosine similarity of {@code h_n} and {@code h_L}, the hidden states entering the
 *       final norm.
 * </ul>
 *
 * Both are averaged over every scored validation token position (non-negative label), and
 * {@link #profile} keeps them per position. Each sequence goes through the
 * trunk once: the blocks run from one exit to the next through a KV-cached
 * {@link InferenceSession}, so the hidden state at every exit comes out of a single pass
 * over the L blocks (the session runs at the model's full width; exits differ in depth
 * only). Log-probabilities and cosines are computed in float64, so KL at the last layer is
 * exactly 0 and elsewhere is non-negative up to rounding of order 1e-12.
 */
public final class ExitAnalysis {
    private ExitAnalysis() {}

    /**
     * The sorted, distinct exits with the full depth added.
     *
     * @throws IllegalArgumentException for an exit outside {@code [1, layers]}
     */
    public static List<Integer> exits(List<Integer> requested, int layers) {
        TreeSet<Integer> sorted = new TreeSet<>();
        for (int e : requested) {
            if (e < 1 || e > layers) {
                throw new IllegalArgumentException("exit " + e + " is outside the model's depth [1, " + layers + "]");
            }
            sorted.add(e);
        }
        sorted.add(layers);
        return List.copyOf(sorted);
    }

    /**
     * Computes KL and cosine for every exit (plus the full depth, which reports KL 0 and
     * cosine 1) over token batches ({@link HostBatch#tokens()} of shape {@code [B, T]}),
     * averaged over the scored positions (non-negative labels).
     *
     * @param parent the manager under which per-sequence arrays are created and released
     * @return one stat per exit, in increasing depth
     */
    public static List<ExitStat> compute(LayeredLanguageModel model, List<HostBatch> batches, List<Integer> exits, NDManager parent) {
        return profile(model, batches, exits, parent).means();
    }

    /**
     * Like {@link #compute}, kept per token position: position p counts from each row's first
     * scored position (see {@link ExitProfile}); positions with a negative label (an
     * instruction's prompt, padding) are left out.
     */
    public static ExitProfile profile(LayeredLanguageModel model, List<HostBatch> batches, List<Integer> exits, NDManager parent) {
        List<Integer> depths = exits(exits, model.layers());
        int n = depths.size();
        int maxSeq = 0;
        for (HostBatch hb : batches) {
            if (hb.tokens() == null || hb.inputShape().length != 2) {
                throw new IllegalArgumentException("the exit analysis needs token batches [batch, sequence]");
            }
            maxSeq = Math.max(maxSeq, (int) hb.inputShape()[1]);
        }
        double[][] kl = new double[n][maxSeq];
        double[][] cos = new double[n][maxSeq];
        long[] counts = new long[maxSeq];
        for (HostBatch hb : batches) {
            int batch = (int) hb.inputShape()[0];
            int seq = (int) hb.inputShape()[1];
            for (int b = 0; b < batch; b++) {
                int[] tokens = Arrays.copyOfRange(hb.tokens(), b * seq, (b + 1) * seq);
                int first = -1;
                for (int t = 0; t < seq && first < 0; t++) {
                    if (hb.labels()[b * seq + t] >= 0) {
                        first = t;
                    }
                }
                if (first < 0) {
                    continue;
                }
                try (NDManager m = parent.newSubManager(); InferenceSession session = model.open(m)) {
                    List<NDArray> hidden = new ArrayList<>(n);
                    NDArray h = session.embed(tokens, 0, m);
                    int from = 0;
                    for (int depth : depths) {
                        h = session.run(h, from, depth, 0, m);
                        hidden.add(h);
                        from = depth;
                    }
                    NDArray last = hidden.get(n - 1);
                    NDArray logL = model.head(last, model.dim()).toType(DataType.FLOAT64, false).logSoftmax(-1);
                    NDArray pL = logL.exp();
                    NDArray hL = last.toType(DataType.FLOAT64, false);
                    NDArray normL = hL.mul(hL).sum(new int[] {-1}).sqrt();
                    for (int k = 0; k < n; k++) {
                        NDArray exit = hidden.get(k);
                        NDArray logN = model.head(exit, model.dim()).toType(DataType.FLOAT64, false).logSoftmax(-1);
                        double[] klRow = pL.mul(logL.sub(logN)).sum(new int[] {-1}).toDoubleArray();
                        NDArray hN = exit.toType(DataType.FLOAT64, false);
                        NDArray normN = hN.mul(hN).sum(new int[] {-1}).sqrt();
                        double[] cosRow = hN.mul(hL).sum(new int[] {-1}).div(normN.mul(normL)).toDoubleArray();
                        for (int t = first; t < seq; t++) {
                            if (hb.labels()[b * seq + t] >= 0) {
                                kl[k][t - first] += klRow[t];
                                cos[k][t - first] += cosRow[t];
                            }
                        }
                    }
                }
                for (int t = first; t < seq; t++) {
                    if (hb.labels()[b * seq + t] >= 0) {
                        counts[t - first]++;
                    }
                }
            }
        }
        if (Arrays.stream(counts).sum() == 0) {
            throw new IllegalArgumentException("no validation tokens for the exit analysis");
        }
        return new ExitProfile(depths, kl, cos, counts);
    }
}
