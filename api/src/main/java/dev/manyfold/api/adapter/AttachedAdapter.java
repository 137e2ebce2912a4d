package dev.manyfold.api.adapter;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Map;

/**
 * One adapter instance on one site. Not thread-safe for training; {@link #delta} may be
 * called concurrently for inference once training has finished.
 *
 * <p><b>What an adapter can express.</b> An adapter contributes an additive change ΔW to the
 * site's weight matrix, a function of its own parameters and of the site's (masked, sliced)
 * base weight: LoRA ({@code BA}), sparse deltas (DSEE's S2), low-rank blocks computed from W
 * (SLoRB), per-row scales ({@code diag(s)·W − W}). It cannot see the layer's input or
 * activations (so no prefix tuning, IA³ on activations or input-dependent gating), cannot
 * change the site's shape, and cannot change a bias: a site is its weight matrix (LLaMA's
 * projections have no bias; Qwen2's q/k/v biases, when imported, are plain tensors outside the
 * site, trainable through {@code train.trainable} but not through adapters). The host
 * composes {@code W_eff = mask ⊙ W0 + Σ delta} once per forward (and once per inference
 * session), which keeps adapters free at decode time; an input-aware adapter would cost a
 * second matmul per site on every token, which is why the contract stays on weights.
 *
 * <p><b>Array ownership.</b> Operations on {@link #parameters()} attach their results to the
 * parameters' long-lived manager; move every intermediate and the result to the manager given
 * to {@link #delta} with {@link dev.manyfold.api.Tensors#own}, or they are never freed.
 */
public interface AttachedAdapter {
    /**
     * The trainable parameters by local name (e.g. {@code "u"}, {@code "v"}), owned by the
     * parameter manager given to {@link Adapter#attach}. The host prefixes them with the
     * site name in checkpoints and hands them to the optimiser.
     */
    Map<String, NDArray> parameters();

    /**
     * The change to the effective weight for the prefix slice {@code [rows, cols]} of the
     * site (a sub-model may use fewer rows or columns than the full shape). Must be
     * differentiable with respect to {@link #parameters()}.
     *
     * <p>The host guarantees {@code 1 ≤ rows ≤ out} and {@code 1 ≤ cols ≤ in} of the site the
     * adapter was attached to; implementations need not check them again.
     *
     * @param weight the (masked, sliced) base weight {@code [rows, cols]}, read only
     * @param manager owns the returned array and every intermediate
     * @return {@code [rows, cols]}, owned by {@code manager}
     */
    NDArray delta(NDArray weight, int rows, int cols, NDManager manager);

    /**
     * Number of trainable scalars (for "trainable params: X || all params: Y"); by default
     * the total size of {@link #parameters()}.
     */
    default long trainableParameters() {
        long total = 0;
        for (NDArray p : parameters().values()) {
            total += p.getShape().size();
        }
        return total;
    }
}
