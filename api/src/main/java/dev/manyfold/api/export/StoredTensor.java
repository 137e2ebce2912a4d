package dev.manyfold.api.export;

import static java.util.Objects.requireNonNull;

import java.util.Arrays;

/**
 * One tensor of a checkpoint file as an {@link ExportFormat} sees it: its name, its
 * safetensors dtype ({@code "F32"}, {@code "BF16"}, {@code "U8"}, ...), its shape and its
 * elements in row-major order as little-endian bytes. The host converts to and from its own
 * tensor type; a format never touches files.
 *
 * @param name the tensor name, e.g. {@code layers.0.attn.q_proj.weight}
 * @param dtype the safetensors dtype name
 * @param shape the dimensions ({@code []} for a scalar)
 * @param data the bytes, exactly {@code elements × dtype width} of them; not copied
 * @since 1.1
 */
public record StoredTensor(String name, String dtype, long[] shape, byte[] data) {
    public StoredTensor {
        requireNonNull(name, "name is null");
        requireNonNull(dtype, "dtype is null");
        requireNonNull(shape, "shape is null");
        requireNonNull(data, "data is null");
    }

    /** The number of elements, the product of the shape. */
    public long elementCount() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /** Bytes per element: {@code data.length / elementCount()} (0 for an empty tensor). */
    public int width() {
        long n = elementCount();
        return n == 0 ? 0 : Math.toIntExact(data.length / n);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}
