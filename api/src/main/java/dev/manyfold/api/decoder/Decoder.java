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
}
