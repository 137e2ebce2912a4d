package dev.manyfold.runtime.data;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.manyfold.api.objective.Batch;

/**
 * A micro-batch in Java arrays, before it becomes NDArrays in a step's manager.
 *
 * @param features float inputs {@code [batch, features]} for vision, or null
 * @param tokens token inputs {@code [batch, seq]} for language models, or null
 * @param inputShape the input shape
 * @param labels class ids {@code [batch]} or next-token ids {@code [batch, seq]}
 * @param labelShape the label shape
 */
public record HostBatch(float[] features, int[] tokens, long[] inputShape, int[] labels, long[] labelShape) {
    /** Number of examples. */
    public int size() {
        return (int) inputShape[0];
    }

    /** Number of label positions that count (examples, or tokens for language models); negative labels are ignored. */
    public long labelCount() {
        long n = 0;
        for (int label : labels) {
            if (label >= 0) {
                n++;
            }
        }
        return n;
    }

    /** The batch as NDArrays owned by {@code manager}. */
    public Batch toBatch(NDManager manager) {
        NDArray in = features != null ? manager.create(features, new Shape(inputShape)) : manager.create(tokens, new Shape(inputShape));
        NDArray out = manager.create(labels, new Shape(labelShape));
        return new Batch() {
            @Override
            public NDArray inputs() {
                return in;
            }

            @Override
            public NDArray labels() {
                return out;
            }
        };
    }
}
