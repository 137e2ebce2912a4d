package dev.manyfold.api;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

/**
 * NDArray helpers every plugin needs.
 *
 * <p><b>Ownership.</b> A DJL operation attaches its result to the manager of its first
 * operand. Inside {@link dev.manyfold.api.adapter.AttachedAdapter#delta}, operations on the
 * adapter's parameters would therefore attach every intermediate to the long-lived parameter
 * manager, where nothing frees them. Move each result to the manager you were given with
 * {@link #own}: {@code NDArray uv = own(manager, u.matMul(v));}.
 *
 * @since 1.1
 */
public final class Tensors {
    private Tensors() {}

    /**
     * Attaches {@code array} to {@code manager} (so it is freed with it) and returns it, for
     * chaining. A no-op when it already belongs there.
     */
    public static NDArray own(NDManager manager, NDArray array) {
        if (array.getManager() != manager) {
            array.attach(manager);
        }
        return array;
    }

    /**
     * The values of an array of any floating or integer type as a row-major {@code float[]}
     * (a copy; the array is not modified or closed).
     */
    public static float[] floats(NDArray array) {
        if (array.getDataType() == DataType.FLOAT32) {
            return array.toFloatArray();
        }
        try (NDArray converted = array.toType(DataType.FLOAT32, true)) {
            return converted.toFloatArray();
        }
    }
}
