package dev.manyfold.api.objective;

import ai.djl.ndarray.NDArray;

/** Loss helpers built from DJL operations only, so plugins share one definition. */
public final class Losses {
    private Losses() {}

    /**
     * Mean cross-entropy.
     *
     * @param logits {@code [..., classes]}
     * @param labels integer ids with the leading shape of {@code logits}
     * @return a scalar, owned by the logits' manager
     */
    public static NDArray crossEntropy(NDArray logits, NDArray labels) {
        NDArray logProbs = logits.logSoftmax(-1);
        NDArray picked = logProbs.gather(labels.toType(ai.djl.ndarray.types.DataType.INT64, false).expandDims(-1), -1);
        return picked.mean().neg();
    }
}
