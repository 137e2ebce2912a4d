package dev.manyfold.api.decoder;

import static java.util.Objects.requireNonNull;

import java.util.Map;

/**
 * The result of one decode: the new tokens (prompt excluded) and the decoder's statistics
 * by name (for example {@code tokens-per-second}, {@code acceptance-rate}, {@code mean-k},
 * {@code full-passes-per-token}, {@code exit-histogram.2}). Immutable.
 */
public final class Generation {
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

    public Map<String, Double> statistics() {
        return statistics;
    }
}
