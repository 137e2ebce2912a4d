package dev.manyfold.api.decoder;

import java.util.function.IntConsumer;

/**
 * Turns a (sub-)model into tokens at inference, reporting its own statistics.
 *
 * <p>Thread-safe: a decoder instance is shared by concurrent {@link #generate} calls; all
 * per-call state (caches, random streams) lives inside the call.
 */
public interface Decoder {
    /**
     * Generates up to {@code maxNewTokens} tokens after the prompt, stopping early at the
     * model's EOS token (which is included in the output).
     *
     * @param prompt at least one token; {@code prompt.length + maxNewTokens} may not exceed
     *     the model's context length
     * @param onToken called with each token as soon as it is final (for streaming)
     * @throws IllegalArgumentException for an empty or too long prompt
     */
    Generation generate(LanguageModel model, int[] prompt, int maxNewTokens, IntConsumer onToken);

    /**
     * What the host may rely on about this decoder's output; empty (no promise) by default.
     * {@code bench decode} uses a {@link Capability#GREEDY_REFERENCE} decoder as its baseline and
     * checks that every {@link Capability#EQUALS_GREEDY} decoder produced the same tokens.
     *
     * @since 1.1
     */
    default java.util.Set<Capability> capabilities() {
        return java.util.Set.of();
    }

    /**
     * The decoder's per-token exit decision, when it exits early by a rule over the exits'
     * logits; the host applies it teacher-forced to measure its quality cost. Empty by default.
     *
     * @since 1.1
     */
    default java.util.Optional<ExitRule> exitRule() {
        return java.util.Optional.empty();
    }

    /** Promises a decoder makes about its output. @since 1.1 */
    enum Capability {
        /** Plain greedy decoding of the full model: the reference the others are measured against. */
        GREEDY_REFERENCE,
        /** Its tokens equal greedy decoding of the full model (up to float rounding ties), e.g. self-speculative. */
        EQUALS_GREEDY
    }
}
