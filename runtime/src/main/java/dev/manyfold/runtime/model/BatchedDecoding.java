package dev.manyfold.runtime.model;

import ai.djl.ndarray.NDManager;
import dev.manyfold.api.decoder.InferenceSession;
import java.util.List;

/**
 * An optional capability of a {@link dev.manyfold.api.decoder.LanguageModel}: one decode step
 * of several of its sessions as one batched forward. On a small model the cost of a step is
 * its op count, so stepping {@code B} sessions together shares the projections, the MLP and
 * the head between them (one {@code [B, d]} matmul each) while attention runs per session
 * over that session's own KV cache, whatever its length.
 *
 * <p>Each row's result equals {@link InferenceSession#forward} of that session alone up to
 * float rounding. Callers must hold every session exclusively for the duration of the call.
 */
public interface BatchedDecoding {
    /** Whether this model can batch at all (an engine may lack what batching needs, e.g. an export without batched graphs). */
    default boolean canBatch() {
        return true;
    }

    /**
     * Whether a batch of one may run on the calling session's own thread rather than the
     * batcher's: true for an engine whose single step costs the same on any thread (ONNX
     * Runtime); false (the default) keeps every batch on the scheduler thread (on PyTorch a
     * request thread measured twice the CPU per token, docs/results.md).
     */
    default boolean loneStepOnCallerThread() {
        return false;
    }

    /** Whether {@code session} (opened from this model) can take part in {@link #forwardBatch}. */
    boolean batchable(InferenceSession session);

    /**
     * For each row {@code r}: embeds {@code tokens[r]} at position {@code starts[r]} in
     * {@code sessions.get(r)}, runs layers {@code [0, to)} appending to that session's caches
     * (which must hold exactly {@code starts[r]} positions) and returns its logits {@code [V]}.
     *
     * @param manager owns the temporaries; the caches stay with their sessions
     * @return one logits row per session, in order
     * @throws IllegalArgumentException when a session is not {@link #batchable}, or a position is outside the context
     */
    float[][] forwardBatch(List<? extends InferenceSession> sessions, int[] tokens, int[] starts, int to, NDManager manager);
}
