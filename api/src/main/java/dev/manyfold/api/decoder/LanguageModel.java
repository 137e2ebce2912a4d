package dev.manyfold.api.decoder;

import ai.djl.ndarray.NDManager;
import dev.manyfold.api.Experimental;
import java.util.List;
import java.util.OptionalInt;

/**
 * A loaded, trained causal language model as decoders see it: a trunk of layers, any
 * prefix of which ends in the one shared final norm and LM head (an exit).
 *
 * <p>Thread-safe: one model serves concurrent decodes, each through its own
 * {@link InferenceSession}.
 */
@Experimental("shaped by the adaptive-decoding plugin")
public interface LanguageModel {
    /** Vocabulary size V. */
    int vocabularySize();

    /** Maximum sequence length (prompt plus generated tokens). */
    int contextLength();

    /** Number of layers L of the full model. */
    int layers();

    /** Exit depths the model was trained for (ascending, the last is {@link #layers()}). */
    List<Integer> exits();

    /** The end-of-sequence token, if the tokenizer has one. */
    OptionalInt eosToken();

    /**
     * Opens a session with an empty KV cache. The host composes the model's effective weights
     * once per model and shares them between sessions, so opening many sessions (one per beam,
     * per request) is cheap after the first. Arrays the session creates belong to
     * {@code manager}'s sub-managers; close the session when the decode ends.
     */
    InferenceSession open(NDManager manager);
}
