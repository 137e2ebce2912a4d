package dev.manyfold.api.objective;

import ai.djl.ndarray.NDArray;

/** Loss helpers built from DJL operations only, so plugins share one definition. */
public final class Losses {
    private Losses() {}

    /**
     * Mean cross-entropy over the positions whose label is not negative. A negative label
     * (such as -100, Hugging Face's ignore index) marks a position that does not count: the
     * prompt and padding of instruction data. When every label is negative the loss is 0.
     *
     * @param logits {@code [..., classes]}
     * @param labels integer ids with the leading shape of {@code logits}
     * @return a scalar, owned by the logits' manager
     */
    public static NDArray crossEntropy(NDArray logits, NDArray labels) {
        NDArray logProbs = logits.logSoftmax(-1);
        if (labels.lt(0).any().getBoolean()) {
            return ignoringNegative(logProbs, labels);
        }
        NDArray picked = logProbs.gather(labels.toType(ai.djl.ndarray.types.DataType.INT64, false).expandDims(-1), -1);
        return picked.mean().neg();
    }

    /** Mean of the picked negative log-probabilities over the positions with a label of 0 or more. */
    private static NDArray ignoringNegative(NDArray logProbs, NDArray labels) {
        NDArray ids = labels.toType(ai.djl.ndarray.types.DataType.INT64, false);
        NDArray weight = ids.gte(0).toType(logProbs.getDataType(), false);
        NDArray picked = logProbs.gather(ids.maximum(0).expandDims(-1), -1).squeeze(-1);
        return picked.mul(weight).sum().div(weight.sum().maximum(1)).neg();
    }
}
