package dev.manyfold.runtime.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.decoder.InferenceSession;
import dev.manyfold.runtime.data.HostBatch;
import dev.manyfold.runtime.model.LayeredLanguageModel;
import dev.manyfold.runtime.model.Model;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
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
     * The sub-models {@code eval} evaluates when exits are requested: the lattice plus the
     * depth sub-model of each requested exit it lacks, most FLOPs first; the lattice as is
     * when {@code requested} is null.
     */
    public static List<SubModel> withExits(Model model, List<SubModel> lattice, List<Integer> requested) {
        List<SubModel> out = new ArrayList<>(lattice);
        if (requested == null) {
            return out;
        }
        int layers = model.languageModel().orElseThrow(() -> new IllegalArgumentException("--exits applies to language models"
                + " (family llama), not to " + model.family())).layers();
        for (int e : exits(requested, layers)) {
            SubModel sub = e == layers ? SubModel.FULL
                    : SubModel.of(Model.DEPTH, e);
            if (!out.contains(sub)) {
                out.add(sub);
            }
        }
        out.sort(Comparator.comparingLong((SubModel s) -> model.flops(s)).reversed());
        return out;
    }

    /**
     * The depths of the exit table: {@code requested} when given, else the depths of the
     * evaluated sub-models; always with the full depth. One depth means there is nothing to
     * compare.
     */
    public static List<Integer> tableDepths(LayeredLanguageModel model, List<SubModel> evaluated, List<Integer> requested) {
        TreeSet<Integer> depths = new TreeSet<>();
        if (requested != null) {
            depths.addAll(requested);
        } else {
            evaluated.forEach(s -> depths.add(s.budgetOr(Model.DEPTH, model.layers())));
        }
        depths.add(model.layers());
        return List.copyOf(depths);
    }

    /** What eval prints when only the full depth is targeted. */
    public static final String ONLY_FULL_DEPTH = "exit analysis: only the full depth is targeted (use --exits N,M,... to compare"
            + " intermediate exits)";

    /**
     * Computes KL and cosine for every exit (plus the full depth, which reports KL 0 and
     * cosine 1) over token batches ({@link HostBatch#tokens()} of shape {@code [B, T]}),
     * averaged over the scored positions (non-negative labels).
     *
     * @param parent the manager under which per-sequence arrays are created and released
     * @return one stat per exit, in increasing depth
     */
    public static List<ExitStat> compute(LayeredLanguageModel model, List<HostBatch> batches, List<Integer> exits, NDManager parent) {
        return analyse(model, batches, exits, parent).means();
    }

    /**
     * Like {@link #compute}, kept per token position: position p counts from each row's first
     * scored position (see {@link ExitProfile}); positions with a negative label (an
     * instruction's prompt, padding) are left out.
     */
    public static ExitProfile profile(LayeredLanguageModel model, List<HostBatch> batches, List<Integer> exits, NDManager parent) {
        return analyse(model, batches, exits, parent).profile();
    }

    /**
     * The exit table's means ({@link #compute}, summed per sequence and combined in validation
     * order as {@link #combine} does, so the Spark evaluation gives the same figures bit for
     * bit) and the per-position profile, from one pass over the batches.
     */
    public record Analysis(List<ExitStat> means, ExitProfile profile) {
    }

    /** {@link #compute} and {@link #profile} in one pass over the batches. */
    public static Analysis analyse(LayeredLanguageModel model, List<HostBatch> batches, List<Integer> exits, NDManager parent) {
        List<Integer> depths = exits(exits, model.layers());
        int n = depths.size();
        int maxSeq = 0;
        for (HostBatch hb : batches) {
            checkTokens(hb);
            maxSeq = Math.max(maxSeq, (int) hb.inputShape()[1]);
        }
        double[][] kl = new double[n][maxSeq];
        double[][] cos = new double[n][maxSeq];
        long[] counts = new long[maxSeq];
        List<SequenceSums> sums = new ArrayList<>();
        for (HostBatch hb : batches) {
            sums.addAll(batch(model, hb, depths, parent, (k, p, klValue, cosValue) -> {
                kl[k][p] += klValue;
                cos[k][p] += cosValue;
                if (k == 0) {
                    counts[p]++;
                }
            }));
        }
        return new Analysis(combine(model, exits, sums), new ExitProfile(depths, kl, cos, counts));
    }

    /**
     * KL and cosine summed over the scored token positions of one sequence, per exit in
     * increasing depth: what {@link #combine} adds up. Work split over machines (the Spark
     * lattice evaluation) computes these per batch and combines them in validation order, which
     * gives {@link #compute}'s figures bit for bit.
     *
     * @param kl summed KL(p_L ‖ p_n) per exit
     * @param cosine summed cosine of h_n and h_L per exit
     * @param positions the scored token positions summed over (non-negative labels)
     */
    public record SequenceSums(double[] kl, double[] cosine, long positions) implements java.io.Serializable {
        private static final long serialVersionUID = 1L;
    }

    /** The sums of each sequence of one token batch ({@code [B, T]}), in batch order. */
    public static List<SequenceSums> batch(LayeredLanguageModel model, HostBatch hb, List<Integer> exits, NDManager parent) {
        return batch(model, hb, exits(exits, model.layers()), parent, (k, p, klValue, cosValue) -> {
        });
    }

    /** Receives each scored position's figures: exit index, position from the row's first scored one, KL, cosine. */
    private interface PositionSink {
        void accept(int exit, int position, double kl, double cosine);
    }

    private static void checkTokens(HostBatch hb) {
        if (hb.tokens() == null || hb.inputShape().length != 2) {
            throw new IllegalArgumentException("the exit analysis needs token batches [batch, sequence]");
        }
    }

    private static List<SequenceSums> batch(LayeredLanguageModel model, HostBatch hb, List<Integer> depths, NDManager parent,
            PositionSink sink) {
        checkTokens(hb);
        int n = depths.size();
        int batch = (int) hb.inputShape()[0];
        int seq = (int) hb.inputShape()[1];
        int[] labels = hb.labels();
        List<SequenceSums> out = new ArrayList<>(batch);
        for (int b = 0; b < batch; b++) {
            double[] kl = new double[n];
            double[] cos = new double[n];
            int first = -1;
            long scored = 0;
            for (int t = 0; t < seq; t++) {
                if (labels[b * seq + t] >= 0) {
                    first = first < 0 ? t : first;
                    scored++;
                }
            }
            if (scored > 0) {
                int[] tokens = Arrays.copyOfRange(hb.tokens(), b * seq, (b + 1) * seq);
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
                            if (labels[b * seq + t] >= 0) {
                                kl[k] += klRow[t];
                                cos[k] += cosRow[t];
                                sink.accept(k, t - first, klRow[t], cosRow[t]);
                            }
                        }
                    }
                }
            }
            out.add(new SequenceSums(kl, cos, scored));
        }
        return out;
    }

    /**
     * Means over every scored position of the sequences' sums, added in the order given
     * (validation order, for figures equal to {@link #compute}'s).
     *
     * @return one stat per exit, in increasing depth
     */
    public static List<ExitStat> combine(LayeredLanguageModel model, List<Integer> exits, List<SequenceSums> sequences) {
        List<Integer> depths = exits(exits, model.layers());
        int n = depths.size();
        double[] kl = new double[n];
        double[] cos = new double[n];
        long positions = 0;
        for (SequenceSums s : sequences) {
            if (s.kl().length != n || s.cosine().length != n) {
                throw new IllegalArgumentException("sums of " + s.kl().length + " exits, expected " + n + " (" + depths + ")");
            }
            for (int k = 0; k < n; k++) {
                kl[k] += s.kl()[k];
                cos[k] += s.cosine()[k];
            }
            positions += s.positions();
        }
        if (positions == 0) {
            throw new IllegalArgumentException("no scored validation positions for the exit analysis");
        }
        List<ExitStat> out = new ArrayList<>(n);
        for (int k = 0; k < n; k++) {
            out.add(new ExitStat(depths.get(k), kl[k] / positions, cos[k] / positions, positions));
        }
        return List.copyOf(out);
    }
}
