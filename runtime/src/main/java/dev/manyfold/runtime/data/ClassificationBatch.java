package dev.manyfold.runtime.data;

/**
 * A batch of labelled examples as plain arrays; the trainer turns them into NDArrays.
 *
 * @param features row-major {@code [size, featureCount]}
 * @param labels {@code [size]}
 * @param indices the example index in the data set of each row, {@code [size]}
 * @param featureCount features per example
 */
public record ClassificationBatch(float[] features, int[] labels, int[] indices, int featureCount) {

    /** The number of rows. */
    public int size() {
        return labels.length;
    }
}
