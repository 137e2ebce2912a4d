package dev.manyfold.api.objective;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * Multiplying or dividing an array that is part of a gradient computation by a constant.
 *
 * <p>Use these instead of DJL's {@code NDArray.mul(Number)} / {@code div(Number)} on any array
 * a backward pass will go through. On DJL's PyTorch engine those create the scalar operand
 * from a Java direct buffer that libtorch uses in place ({@code from_blob}) and close it as
 * soon as the product exists. Autograd keeps the scalar for the backward pass ({@code d(x·c)/dx
 * = c}) but nothing keeps its buffer: once the JVM collects it, the backward pass reads freed
 * memory and gradients come out wrong or NaN, at random (whenever a garbage collection falls
 * between forward and backward). The scalars made here are allocated by the engine itself
 * ({@code NDManager.full}), so the graph's reference keeps them valid.
 */
public final class Scalars {
    private Scalars() {}

    /** {@code x · c}, with {@code c} an engine-owned scalar of {@code x}'s data type. */
    public static NDArray times(NDArray x, double c) {
        try (NDArray s = x.getManager().full(new Shape(), (float) c, x.getDataType())) {
            return x.mul(s);
        }
    }

    /** {@code x / c}, with {@code c} an engine-owned scalar of {@code x}'s data type. */
    public static NDArray dividedBy(NDArray x, double c) {
        try (NDArray s = x.getManager().full(new Shape(), (float) c, x.getDataType())) {
            return x.div(s);
        }
    }
}
