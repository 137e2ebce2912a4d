package dev.manyfold.plugin.ast;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

/**
 * N:M masks by magnitude: in every row of a {@code [rows, cols]} weight, each group of M
 * consecutive input columns keeps exactly the N entries of largest |w|. Ties are broken by
 * position: the lower column index wins, so recomputing from the same weight always gives the
 * same mask.
 */
public final class NmMasks {
    private NmMasks() {}

    /**
     * The keep mask of a row-major {@code [rows, cols]} weight.
     *
     * @return row-major {@code [rows, cols]}, true where kept
     * @throws IllegalArgumentException when M does not divide {@code cols} or N ∉ [1, M)
     */
    public static boolean[] magnitude(float[] weight, int rows, int cols, int n, int m) {
        return wanda(weight, null, rows, cols, n, m);
    }

    /**
     * The Wanda keep mask: in each group, the N largest {@code |W_ij|·‖X_j‖₂}, where
     * {@code inputNorms[j]} is the norm of input feature j over the calibration data; the
     * same tie-break as {@link #magnitude} (lower column index wins). With {@code inputNorms}
     * null it is {@link #magnitude}.
     *
     * @throws IllegalArgumentException when M does not divide {@code cols}, N ∉ [1, M), or
     *     the norms are not {@code cols} finite values ≥ 0
     */
    public static boolean[] wanda(float[] weight, float[] inputNorms, int rows, int cols, int n, int m) {
        if (inputNorms != null) {
            if (inputNorms.length != cols) {
                throw new IllegalArgumentException("expected " + cols + " input norms, got " + inputNorms.length);
            }
            for (float v : inputNorms) {
                if (!(v >= 0) || Float.isInfinite(v)) {
                    throw new IllegalArgumentException("input norms must be finite and ≥ 0, got " + v);
                }
            }
        }
        if (n < 1 || n >= m) {
            throw new IllegalArgumentException("N:M needs 1 ≤ N < M, got " + n + ":" + m);
        }
        if (cols % m != 0) {
            throw new IllegalArgumentException("M = " + m + " does not divide the input dimension " + cols);
        }
        if (weight.length != rows * cols) {
            throw new IllegalArgumentException("expected " + rows + " × " + cols + " values, got " + weight.length);
        }
        float[] score = weight;
        if (inputNorms != null) {
            score = new float[weight.length];
            for (int i = 0; i < weight.length; i++) {
                score[i] = Math.abs(weight[i]) * inputNorms[i % cols];
            }
        }
        boolean[] keep = new boolean[weight.length];
        for (int start = 0; start < weight.length; start += m) {
            for (int j = 0; j < m; j++) {
                float a = Math.abs(score[start + j]);
                int rank = 0;
                for (int p = 0; p < m; p++) {
                    float b = Math.abs(score[start + p]);
                    // Float.compare orders NaN above everything, so a NaN weight is kept, not lost silently.
                    int c = Float.compare(b, a);
                    if (c > 0 || (c == 0 && p < j)) {
                        rank++;
                    }
                }
                keep[start + j] = rank < n;
            }
        }
        return keep;
    }
    /** A {@code [rows, cols]} array of 0 and 1 of {@code type}, owned by {@code manager}. */
    public static NDArray toArray(boolean[] keep, int rows, int cols, DataType type, NDManager manager) {
        float[] values = new float[keep.length];
        for (int i = 0; i < keep.length; i++) {
            values[i] = keep[i] ? 1f : 0f;
        }
        NDArray mask = manager.create(values, new ai.djl.ndarray.types.Shape(rows, cols));
        if (type == DataType.FLOAT32) {
            return mask;
        }
        NDArray converted = mask.toType(type, false);
        if (converted != mask) {
            mask.close();
        }
        return converted;
    }
}
