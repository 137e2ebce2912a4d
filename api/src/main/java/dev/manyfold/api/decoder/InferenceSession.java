package dev.manyfold.api.decoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.Experimental;

/**
 * One decode's view of a {@link LanguageModel}: a per-layer KV cache plus the operations
 * decoders compose. Positions are absolute; layer indices are 0-based, so "layers
 * {@code [from, to)}" with {@code to = n} means exit n. Not thread-safe.
 */
@Experimental("shaped by the adaptive-decoding plugin")
public interface InferenceSession extends AutoCloseable {
    /** Number of positions cached in layer {@code layer}. */
    int cachedLength(int layer);

    /**
     * Embeds tokens at positions {@code start..start+n-1}.
     *
     * @return hidden states {@code [n, dim]}, owned by {@code manager}
     */
    NDArray embed(int[] tokens, int start, NDManager manager);

    /**
     * Runs layers {@code [from, to)} over hidden states of positions
     * {@code start..start+n-1}, appending their keys/values to those layers' caches (which
     * must hold exactly {@code start} positions).
     *
     * @param hidden {@code [n, dim]} at layer {@code from}
     * @return hidden states {@code [n, dim]} after layer {@code to - 1}, owned by {@code manager}
     */
    NDArray run(NDArray hidden, int from, int to, int start, NDManager manager);

    /**
     * Applies the shared final norm and LM head.
     *
     * @return logits {@code [n, V]} as floats, owned by {@code manager}
     */
    NDArray logits(NDArray hidden, NDManager manager);

    /** Crops every layer's cache to at most {@code length} positions. */
    void crop(int length);

    /** Crops one layer's cache to at most {@code length} positions. */
    void crop(int layer, int length);

    /** Releases the cache. */
    @Override
    void close();
}
