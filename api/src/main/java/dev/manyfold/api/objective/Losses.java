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
        NDArray ids = labels.toType(ai.djl.ndarray.types.DataType.INT64, false);
        NDArray keep = ids.gte(0);
        if (keep.all().getBoolean()) {
            return logProbs.gather(ids.expandDims(-1), -1).mean().neg();
        }
        NDArray weight = keep.toType(logProbs.getDataType(), false);
        NDArray picked = logProbs.gather(ids.maximum(0).expandDims(-1), -1).squeeze(-1);
        return picked.mul(weight).sum().div(weight.sum().maximum(1)).neg();
    }
}
