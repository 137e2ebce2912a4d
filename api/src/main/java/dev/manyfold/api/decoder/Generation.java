package dev.manyfold.api.decoder;

import static java.util.Objects.requireNonNull;

import java.util.Map;

/**
 * The result of one decode: the new tokens (prompt excluded) and the decoder's statistics
 * by name. Immutable.
 *
 * <p>Statistics the host reads (since 1.1) have documented keys, listed as constants here
 * ({@link #MEAN_EXIT_DEPTH}, {@link #EXIT_HISTOGRAM}...) with typed accessors; a decoder may add
 * any other key, which the host prints after the documented ones in the order the decoder put
 * them.
 */
public final class Generation {
    /** Tokens generated. */
    public static final String TOKENS = "tokens";
    /** Generated tokens per second of wall time. */
    public static final String TOKENS_PER_SECOND = "tokens-per-second";
    /** Milliseconds per generated token. */
    public static final String MS_PER_TOKEN = "ms-per-token";
    /** Milliseconds until the first generated token. */
    public static final String FIRST_TOKEN_MS = "first-token-ms";
    /** Fraction of drafted tokens rejected. */
    public static final String REJECTION_RATIO = "rejection-ratio";
    /** Full-model forward passes per generated token (1 for greedy). */
    public static final String FULL_PASSES_PER_TOKEN = "full-passes-per-token";
    /** Layers run per generated token (layers for greedy). */
    public static final String LAYERS_PER_TOKEN = "layers-per-token";
    /** Verification rounds of a draft-and-verify decoder. */
    public static final String ROUNDS = "rounds";
    /** Fraction of drafted tokens accepted. */
    public static final String ACCEPTANCE_RATE = "acceptance-rate";
    /** Mean number of tokens drafted per round. */
    public static final String MEAN_K = "mean-k";
    /** Mean depth (layers) at which tokens were emitted. */
    public static final String MEAN_EXIT_DEPTH = "mean-exit-depth";
    /** Prefix of the exit histogram: {@code exit-histogram.<depth>} → tokens emitted at that depth. */
    public static final String EXIT_HISTOGRAM = "exit-histogram.";

    private final int[] tokens;
    private final Map<String, Double> statistics;

    private Generation(int[] tokens, Map<String, Double> statistics) {
        this.tokens = tokens;
        this.statistics = statistics;
    }

    public static Generation of(int[] tokens, Map<String, Double> statistics) {
        return new Generation(requireNonNull(tokens, "tokens is null").clone(),
                java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(requireNonNull(statistics, "statistics is null"))));
    }

    /** The generated tokens, a copy. */
    public int[] tokens() {
        return tokens.clone();
    }

    /** Every statistic by key, in the decoder's order. */
    public Map<String, Double> statistics() {
        return statistics;
    }

    /** A statistic by key, if the decoder reported it. @since 1.1 */
    public java.util.OptionalDouble statistic(String key) {
        Double v = statistics.get(key);
        return v == null ? java.util.OptionalDouble.empty() : java.util.OptionalDouble.of(v);
    }

    /** {@link #MEAN_EXIT_DEPTH}, if reported. @since 1.1 */
    public java.util.OptionalDouble meanExitDepth() {
        return statistic(MEAN_EXIT_DEPTH);
    }

    /**
     * The documented keys in the order the host prints them (the histogram, being a prefix,
     * is not listed).
     */
    public static final java.util.List<String> DOCUMENTED = java.util.List.of(TOKENS, TOKENS_PER_SECOND, MS_PER_TOKEN,
            FIRST_TOKEN_MS, FULL_PASSES_PER_TOKEN, LAYERS_PER_TOKEN, ROUNDS, ACCEPTANCE_RATE, REJECTION_RATIO, MEAN_K,
            MEAN_EXIT_DEPTH);

    /** The {@link #EXIT_HISTOGRAM} entries as depth → tokens, ascending by depth; empty if none. @since 1.1 */
    public java.util.SortedMap<Integer, Double> exitHistogram() {
        java.util.TreeMap<Integer, Double> out = new java.util.TreeMap<>();
        statistics.forEach((k, v) -> {
            if (k.startsWith(EXIT_HISTOGRAM)) {
                try {
                    out.put(Integer.parseInt(k.substring(EXIT_HISTOGRAM.length())), v);
                } catch (NumberFormatException e) {
                    // not a depth: an undocumented key that merely shares the prefix
                }
            }
        });
        return out;
    }
}
