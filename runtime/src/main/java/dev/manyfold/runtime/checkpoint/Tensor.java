package dev.manyfold.runtime.checkpoint;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * One named tensor of a checkpoint: a {@link DType}, a shape ({@code []} for a scalar, a
 * zero dimension for an empty tensor) and its elements in row-major order as
 * little-endian bytes. Immutable: the factories copy what they are given, except
 * {@link #lazy}, whose {@link TensorData} is asked for the bytes each time they are needed.
 * A tensor holds at most {@link #MAX_BYTES} bytes. The factories throw
 * {@link IllegalArgumentException} when the shape has a negative dimension, the tensor is
 * too large, or the given bytes do not match dtype and shape.
 */
public final class Tensor {
    /** The largest tensor supported, in bytes (the capacity of one {@link ByteBuffer}). */
    public static final long MAX_BYTES = Integer.MAX_VALUE;

    private final String name;
    private final DType dtype;
    private final long[] shape;
    private final long elementCount;
    private final TensorData data;

    private Tensor(String name, DType dtype, long[] shape, TensorData data) {
        this.name = requireNonNull(name, "name is null");
        this.dtype = requireNonNull(dtype, "dtype is null");
        this.shape = requireNonNull(shape, "shape is null").clone();
        this.data = requireNonNull(data, "data is null");
        this.elementCount = elementCount(name, dtype, this.shape);
    }

    /** A tensor holding a copy of {@code littleEndian}, which must hold exactly the tensor's bytes. */
    public static Tensor of(String name, DType dtype, long[] shape, byte[] littleEndian) {
        requireNonNull(littleEndian, "littleEndian is null");
        return of(name, dtype, shape, ByteBuffer.wrap(littleEndian));
    }

    /**
     * A tensor holding a copy of the bytes between the buffer's position and limit, which
     * must be exactly the tensor's bytes in little-endian order. The buffer is not modified.
     */
    public static Tensor of(String name, DType dtype, long[] shape, ByteBuffer littleEndian) {
        requireNonNull(littleEndian, "littleEndian is null");
        byte[] copy = new byte[littleEndian.remaining()];
        littleEndian.duplicate().get(copy);
        ByteBuffer frozen = ByteBuffer.wrap(copy).asReadOnlyBuffer();
        Tensor tensor = new Tensor(name, dtype, shape, frozen::duplicate);
        if (copy.length != tensor.byteSize()) {
            throw new IllegalArgumentException(tensor.sizeMismatch(copy.length));
        }
        return tensor;
    }

    /**
     * A tensor whose bytes come from {@code data} when they are written or converted; the
     * length is checked then, and a failure of {@code data} fails that write or conversion.
     */
    public static Tensor lazy(String name, DType dtype, long[] shape, TensorData data) {
        return new Tensor(name, dtype, shape, data);
    }

    /**
     * A copy of a DJL array, taken now: the array stays owned by its manager and may be
     * closed afterwards.
     *
     * @throws IllegalArgumentException when the array's data type has no safetensors dtype
     */
    public static Tensor of(String name, NDArray array) {
        requireNonNull(name, "name is null");
        requireNonNull(array, "array is null");
        DType dtype;
        try {
            dtype = DType.of(array.getDataType());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("tensor " + name + ": " + e.getMessage(), e);
        }
        ByteBuffer nativeBytes = array.toByteBuffer();
        ByteBuffer littleEndian = ByteBuffer.allocate(nativeBytes.remaining());
        Shapes.copyBetweenNativeAndLittleEndian(nativeBytes, littleEndian, dtype.byteSize());
        littleEndian.flip();
        return of(name, dtype, array.getShape().getShape(), littleEndian);
    }

    public String name() {
        return name;
    }

    public DType dtype() {
        return dtype;
    }

    /** The shape; a copy, {@code []} for a scalar. */
    public long[] shape() {
        return shape.clone();
    }

    /** The product of the shape: 1 for a scalar, 0 for an empty tensor. */
    public long elementCount() {
        return elementCount;
    }

    /** {@code elementCount() * dtype().byteSize()}. */
    public long byteSize() {
        return elementCount * dtype.byteSize();
    }

    /**
     * The elements as a read-only little-endian buffer of exactly {@link #byteSize()} bytes,
     * positioned at 0. A tensor read from a file is backed by a read-only memory mapping.
     *
     * @throws CheckpointException when a lazy source fails or supplies the wrong number of bytes
     */
    public ByteBuffer data() {
        ByteBuffer bytes;
        try {
            bytes = data.bytes();
        } catch (IOException e) {
            throw new CheckpointException("tensor " + name + ": could not read its data: " + e.getMessage(), e);
        }
        if (bytes == null) {
            throw new CheckpointException("tensor " + name + ": its data source returned null");
        }
        checkLength(bytes.remaining());
        return bytes.slice().asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Copies the tensor into a new array attached to {@code manager}, which owns it: close
     * the manager (or the array) to free it. The array does not share memory with this tensor.
     * Its data type is {@link DType#ndArrayType()}: BF16 tensors are widened exactly to
     * FLOAT32, because DJL's PyTorch engine cannot hold BFLOAT16 arrays.
     *
     * @throws CheckpointException when the data cannot be read
     * @throws UnsupportedOperationException for I16, U16, U32 and U64, which DJL's PyTorch
     *     engine cannot hold; use {@link #data()} for their raw bytes
     */
    public NDArray toNDArray(NDManager manager) {
        requireNonNull(manager, "manager is null");
        DataType type = dtype.ndArrayType().orElseThrow(() -> new UnsupportedOperationException("tensor " + name
                + ": " + dtype + " cannot be converted to an NDArray (DJL's PyTorch engine aborts on it); convertible: "
                + Arrays.stream(DType.values()).filter(t -> t.ndArrayType().isPresent()).map(Enum::name)
                        .collect(Collectors.joining(", "))));
        ByteBuffer source = data();
        // A direct buffer is used by PyTorch in place (from_blob) and kept alive by the array;
        // copying into a fresh one keeps the array independent of a memory-mapped file.
        ByteBuffer target = manager.allocateDirect(Math.toIntExact(elementCount * type.getNumOfBytes()));
        if (dtype == DType.BF16) {
            target.order(ByteOrder.nativeOrder());
            for (int i = 0; i < elementCount; i++) {
                target.putInt((source.getShort(2 * i) & 0xFFFF) << 16);
            }
        } else {
            Shapes.copyBetweenNativeAndLittleEndian(source, target, dtype.byteSize());
        }
        target.flip();
        return manager.create(target, new Shape(shape), type);
    }

    @Override
    public String toString() {
        return name + " " + dtype + " " + Arrays.toString(shape);
    }

    private void checkLength(long actual) {
        if (actual != byteSize()) {
            throw new CheckpointException(sizeMismatch(actual));
        }
    }

    private String sizeMismatch(long actual) {
        return "tensor " + name + ": data holds " + actual + " bytes but " + dtype + " " + Arrays.toString(shape)
                + " needs " + byteSize();
    }

    private static long elementCount(String name, DType dtype, long[] shape) {
        for (long dim : shape) {
            if (dim < 0) {
                throw new IllegalArgumentException("tensor " + name + ": shape " + Arrays.toString(shape)
                        + " has a negative dimension; dimensions must be >= 0");
            }
        }
        long bytes = Shapes.byteSize(shape, dtype.byteSize());
        if (bytes < 0 || bytes > MAX_BYTES) {
            throw new IllegalArgumentException("tensor " + name + ": " + dtype + " " + Arrays.toString(shape)
                    + " is larger than " + MAX_BYTES + " bytes, the largest tensor supported");
        }
        return bytes / dtype.byteSize();
    }
}
