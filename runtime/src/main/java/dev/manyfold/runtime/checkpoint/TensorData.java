package dev.manyfold.runtime.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Supplies a tensor's raw bytes on demand, so that a writer can stream tensors one at a
 * time instead of holding copies of all of them.
 */
@FunctionalInterface
public interface TensorData {
    /**
     * Returns the tensor's elements in row-major order, little-endian, from the buffer's
     * position to its limit; exactly {@link Tensor#byteSize()} bytes. May be called more than
     * once; the caller may consume the returned buffer but never writes to it.
     */
    ByteBuffer bytes() throws IOException;
}
