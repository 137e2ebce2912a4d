package dev.manyfold.runtime.checkpoint;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Overflow-checked shape arithmetic and byte-order conversion. */
final class Shapes {
    private Shapes() {}

    /**
     * The number of bytes of a tensor with non-negative dimensions {@code shape} and
     * {@code width} bytes per element, or -1 when that overflows a {@code long}.
     */
    static long byteSize(long[] shape, int width) {
        try {
            long bytes = width;
            for (long dim : shape) {
                bytes = Math.multiplyExact(bytes, dim);
            }
            return bytes;
        } catch (ArithmeticException e) {
            return -1;
        }
    }

    /**
     * Copies {@code source}'s remaining bytes into {@code target}, reversing the bytes of each
     * {@code width}-byte element when the platform is big-endian. Converts either way between
     * native and little-endian order. Leaves {@code source} unchanged.
     */
    static void copyBetweenNativeAndLittleEndian(ByteBuffer source, ByteBuffer target, int width) {
        ByteBuffer from = source.duplicate();
        if (width == 1 || ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN) {
            target.put(from);
            return;
        }
        byte[] element = new byte[width];
        while (from.remaining() >= width) {
            from.get(element);
            for (int i = width - 1; i >= 0; i--) {
                target.put(element[i]);
            }
        }
    }
}
