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

    /**
     * A new, independent session holding a copy of this session's cache (every layer, as
     * cropped), sharing the model's composed weights: what beam search and tree drafts need
     * instead of re-running a prefix. Later {@link #run} and {@link #crop} calls on either
     * session do not affect the other; each must be closed. Arrays of the fork belong to
     * sub-managers of the same manager as this session's.
     *
     * <p>The default throws {@link UnsupportedOperationException}: engines that cannot copy a
     * cache (and sessions of 1.0 hosts) do not fork; check {@link #canFork()} first.
     *
     * @since 1.1
     */
    default InferenceSession fork() {
        throw new UnsupportedOperationException(getClass().getName() + " cannot fork its KV cache");
    }

    /** Whether {@link #fork()} is supported; false by default. @since 1.1 */
    default boolean canFork() {
        return false;
    }

    /**
     * Fused decode step: embeds {@code tokens} at positions {@code start..}, runs layers
     * {@code [0, to)} and returns the logits {@code [V]} of the last position. Engines with
     * a per-call cost (ONNX Runtime) override it to do this in one call; the default composes
     * {@link #embed}, {@link #run} and {@link #logits}.
     *
     * @since API 1.1
     */
    default float[] forward(int[] tokens, int start, int to, NDManager manager) {
        return forwardKeeping(tokens, start, to, true, manager).logits();
    }

    /**
     * Like {@link #forward} but also returns the hidden states {@code [n, dim]} after layer
     * {@code to - 1} (owned by {@code manager}), e.g. a self-speculative draft that the full
     * model later verifies from that depth; {@code logits} false skips the head.
     *
     * @since API 1.1
     */
    default Forward forwardKeeping(int[] tokens, int start, int to, boolean logits, NDManager manager) {
        return runForward(embed(tokens, start, manager), 0, to, start, logits, manager);
    }

    /**
     * Like {@link #run} but also returns the last position's logits {@code [V]} when
     * {@code logits} is true, e.g. one segment of an early-exit decode ending at an exit.
     *
     * @since API 1.1
     */
    default Forward runForward(NDArray hidden, int from, int to, int start, boolean logits, NDManager manager) {
        NDArray h = run(hidden, from, to, start, manager);
        if (!logits) {
            return new Forward(h, null);
        }
        long n = h.getShape().get(0);
        NDArray last = n == 1 ? h : h.get(new ai.djl.ndarray.index.NDIndex("{}:", n - 1));
        if (last != h) {
            last.attach(manager);
        }
        return new Forward(h, logits(last, manager).toFloatArray());
    }

    /**
     * Runs layers {@code [from, to)} over {@code hidden} like {@link #run} and returns every
     * position's logits {@code [n·V]} (row-major), e.g. a self-speculative verification.
     *
     * @since API 1.1
     */
    default float[] runLogits(NDArray hidden, int from, int to, int start, NDManager manager) {
        return logits(run(hidden, from, to, start, manager), manager).toFloatArray();
    }

    /**
     * {@link #forwardKeeping} with the hidden states {@code [n·dim]} (row-major) as a float
     * array, for decoders that slice and concatenate hidden states themselves (early exit);
     * engines that hold hidden states outside DJL (ONNX Runtime) return them without an
     * NDArray. The default converts.
     *
     * @since API 1.1
     */
    default Floats forwardFloats(int[] tokens, int start, int to, boolean logits, NDManager manager) {
        Forward f = forwardKeeping(tokens, start, to, logits, manager);
        return new Floats(f.hidden().toFloatArray(), f.logits());
    }

    /**
     * {@link #runForward} over hidden states {@code [rows·dim]} held as a float array; see
     * {@link #forwardFloats}.
     *
     * @since API 1.1
     */
    default Floats runFloats(float[] hidden, int rows, int from, int to, int start, boolean logits, NDManager manager) {
        NDArray h = manager.create(hidden, new ai.djl.ndarray.types.Shape(rows, hidden.length / rows));
        Forward f = runForward(h, from, to, start, logits, manager);
        return new Floats(f.hidden().toFloatArray(), f.logits());
    }

    /**
     * Hidden states and (optionally) the last position's logits as floats.
     *
     * @param hidden {@code [n·dim]}, row-major
     * @param logits {@code [V]}, or null when not requested
     * @since API 1.1
     */
    record Floats(float[] hidden, float[] logits) {}

    /**
     * A draft at exit {@code exit} whose hidden states stay inside the session: each
     * {@link Draft#step} runs one token through layers {@code [0, exit)} and keeps its hidden
     * state; {@link Draft#verify} runs every kept position through layers {@code [exit, to)}.
     * Equivalent to {@link #forwardKeeping} per token and {@link #runLogits} over their
     * concatenated hidden states (which is what the default does, with NDArrays owned by
     * {@code manager}); engines with a per-call cost keep the hidden states in their own
     * buffers instead.
     *
     * @since API 1.1
     */
    default Draft draft(int exit, NDManager manager) {
        InferenceSession session = this;
        return new Draft() {
            private final java.util.List<NDArray> kept = new java.util.ArrayList<>();
            private int start = -1;

            @Override
            public float[] step(int token, int position, boolean logits) {
                if (kept.isEmpty()) {
                    start = position;
                }
                Forward f = session.forwardKeeping(new int[] {token}, position, exit, logits, manager);
                kept.add(f.hidden());
                return f.logits();
            }

            @Override
            public int size() {
                return kept.size();
            }

            @Override
            public float[] verify(int to) {
                NDArray batch = kept.size() == 1 ? kept.get(0) : ai.djl.ndarray.NDArrays.concat(new ai.djl.ndarray.NDList(kept));
                float[] logits = session.runLogits(batch, exit, to, start, manager);
                kept.clear();
                return logits;
            }
        };
    }

    /**
     * Positions drafted at one exit, their hidden states kept by the session; see
     * {@link #draft}. Positions are consecutive from the first {@link #step} after creation
     * or after the last {@link #verify}.
     *
     * @since API 1.1
     */
    interface Draft {
        /**
         * Runs {@code token} at {@code position} through layers {@code [0, exit)}, keeps its
         * hidden state and returns its logits {@code [V]} at the exit, or null when
         * {@code logits} is false.
         */
        float[] step(int token, int position, boolean logits);

        /** Number of kept positions. */
        int size();

        /**
         * Drafts up to {@code count} greedy tokens in one go: runs {@code token} at
         * {@code position}, then each drafted token but the last, through layers
         * {@code [0, exit)} and keeps their hidden states, exactly as this loop of
         * {@link #step} calls (which is what the default does):
         *
         * <pre>
         * for j in 0..count-1: t = draftToken(step(current, position + j, true), confidence)
         *     stop if t &lt; 0 (unsure: the position just run is kept, no token for it)
         *     append t; stop if t == stop; current = t
         * </pre>
         *
         * Returns the drafted tokens; {@link #size()} then counts the positions kept. Engines with
         * a per-call cost override it to draft all {@code count} tokens in one call and drop what
         * the loop would not have run, so the tokens and the kept positions are the same.
         *
         * @param confidence 0, or the max softmax probability below which drafting stops
         * @param stop a token that ends drafting once drafted (e.g. EOS), or -1
         * @since API 1.1
         */
        default int[] greedy(int token, int position, int count, double confidence, int stop) {
            int[] out = new int[Math.max(0, count)];
            int n = 0;
            int current = token;
            for (int j = 0; j < count; j++) {
                float[] logits = step(current, position + j, true);
                int t = draftToken(logits, 0, logits.length, confidence);
                if (t < 0) {
                    break;
                }
                out[n++] = t;
                if (t == stop) {
                    break;
                }
                current = t;
            }
            return java.util.Arrays.copyOf(out, n);
        }

        /**
         * The greedy draft token of {@code logits[offset, offset + vocab)}: the argmax (the lowest
         * index on ties), or -1 when {@code confidence > 0} and the max softmax probability
         * (computed in double precision) is below it.
         *
         * @since API 1.1
         */
        static int draftToken(float[] logits, int offset, int vocab, double confidence) {
            int best = 0;
            float max = logits[offset];
            for (int v = 1; v < vocab; v++) {
                if (logits[offset + v] > max) {
                    max = logits[offset + v];
                    best = v;
                }
            }
            if (confidence > 0) {
                double sum = 0;
                for (int v = 0; v < vocab; v++) {
                    sum += Math.exp((double) logits[offset + v] - max);
                }
                if (1 / sum < confidence) {
                    return -1;
                }
            }
            return best;
        }

        /**
         * Runs the kept positions through layers {@code [exit, to)} (completing their KV
         * cache) and returns every position's logits {@code [n·V]}; the draft is then empty.
         */
        float[] verify(int to);
    }

    /**
     * Hidden states and (optionally) the last position's logits of a {@link #forwardKeeping} call.
     *
     * @param hidden {@code [n, dim]}
     * @param logits {@code [V]}, or null when not requested
     * @since API 1.1
     */
    record Forward(NDArray hidden, float[] logits) {}

    /** Releases the cache. */
    @Override
    void close();
}
