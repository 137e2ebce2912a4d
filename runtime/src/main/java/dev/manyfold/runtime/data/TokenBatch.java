package dev.manyfold.runtime.data;

/**
 * A batch of token windows for next-token prediction; the trainer turns them into NDArrays.
 * Row {@code r} holds {@code tokens[starts[r], starts[r] + context)} as inputs and the same
 * window shifted by one, {@code tokens[starts[r] + 1, starts[r] + context + 1)}, as labels.
 *
 * @param inputs row-major {@code [size, context]}
 * @param labels the next token of each input position, row-major {@code [size, context]}
 * @param starts the stream offset of each row, {@code [size]}
 * @param context tokens per row
 */
public record TokenBatch(int[] inputs, int[] labels, int[] starts, int context) {

    /** The number of rows. */
    public int size() {
        return starts.length;
    }
}
