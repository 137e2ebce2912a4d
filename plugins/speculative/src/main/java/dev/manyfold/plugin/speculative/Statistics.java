package dev.manyfold.plugin.speculative;

import dev.manyfold.api.decoder.Generation;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.IntConsumer;

/**
 * One decode's output and counters, turned into {@link Generation#statistics()}:
 *
 * <ul>
 *   <li>{@code tokens}, {@code tokens-per-second}, {@code ms-per-token} (wall time of the whole
 *       call, prefill included), {@code first-token-ms};
 *   <li>{@code full-passes-per-token}: calls that ran the last layer L, per generated token
 *       (prefill and verification passes included);
 *   <li>{@code layers-per-token}: layer invocations per generated token (a batched invocation
 *       over several positions counts once: per-op overhead, not FLOPs, dominates small models);
 *   <li>speculative only: {@code rounds}, {@code acceptance-rate} (accepted drafts / drafted
 *       tokens), {@code rejection-ratio} (rejected drafts / drafted tokens), {@code mean-k}
 *       (drafted tokens per round);
 *   <li>{@code exit-histogram.<n>}: tokens emitted at exit depth n, and {@code mean-exit-depth}.
 * </ul>
 *
 * Not thread-safe: one instance per call.
 */
final class Statistics {
    private final long start = System.nanoTime();
    private final int[] tokens;
    private final IntConsumer onToken;
    private int count;
    private long firstToken = -1;
    private int fullPasses;
    private int layerRuns;
    private boolean speculative;
    private int rounds;
    private long drafted;
    private long accepted;
    private final TreeMap<Integer, Integer> exits = new TreeMap<>();

    Statistics(int maxNewTokens, IntConsumer onToken) {
        this.tokens = new int[maxNewTokens];
        this.onToken = onToken == null ? t -> { } : onToken;
    }

    /** Emits a final token (streamed at once) decided at exit depth {@code exit}. */
    void emit(int token, int exit) {
        if (count == 0) {
            firstToken = System.nanoTime();
        }
        tokens[count++] = token;
        exits.merge(exit, 1, Integer::sum);
        onToken.accept(token);
    }

    int count() {
        return count;
    }

    /** Counts a call that ran the last layer. */
    void fullPass() {
        fullPasses++;
    }

    /** Counts the layers run by one {@code InferenceSession.run} call. */
    void layers(int n) {
        layerRuns += n;
    }

    /** Counts one speculative round. */
    void round(int draftedTokens, int acceptedTokens) {
        speculative = true;
        rounds++;
        drafted += draftedTokens;
        accepted += acceptedTokens;
    }

    Generation generation() {
        double seconds = (System.nanoTime() - start) / 1e9;
        Map<String, Double> s = new LinkedHashMap<>();
        s.put(Generation.TOKENS, (double) count);
        s.put(Generation.TOKENS_PER_SECOND, count == 0 ? 0 : count / seconds);
        s.put(Generation.MS_PER_TOKEN, count == 0 ? 0 : 1000 * seconds / count);
        s.put(Generation.FIRST_TOKEN_MS, firstToken < 0 ? 0 : (firstToken - start) / 1e6);
        s.put(Generation.FULL_PASSES_PER_TOKEN, count == 0 ? 0 : (double) fullPasses / count);
        s.put(Generation.LAYERS_PER_TOKEN, count == 0 ? 0 : (double) layerRuns / count);
        if (speculative) {
            s.put(Generation.ROUNDS, (double) rounds);
            s.put(Generation.ACCEPTANCE_RATE, drafted == 0 ? 0 : (double) accepted / drafted);
            s.put(Generation.REJECTION_RATIO, drafted == 0 ? 0 : (double) (drafted - accepted) / drafted);
            s.put(Generation.MEAN_K, rounds == 0 ? 0 : (double) drafted / rounds);
        }
        double depthSum = 0;
        for (Map.Entry<Integer, Integer> e : exits.entrySet()) {
            s.put(Generation.EXIT_HISTOGRAM + e.getKey(), (double) e.getValue());
            depthSum += (double) e.getKey() * e.getValue();
        }
        s.put(Generation.MEAN_EXIT_DEPTH, count == 0 ? 0 : depthSum / count);
        return Generation.of(Arrays.copyOf(tokens, count), s);
    }
}
