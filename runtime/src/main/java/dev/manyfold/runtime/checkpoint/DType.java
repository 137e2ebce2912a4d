package dev.manyfold.runtime.checkpoint;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.types.DataType;
import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The element types of the safetensors format, by their header spelling ({@code "F32"}),
 * with their width in bytes and the DJL {@link DataType} they convert to, if any.
 * Every dtype can be read and written as raw little-endian bytes.
 */
public enum DType {
    F64(8, DataType.FLOAT64),
    F32(4, DataType.FLOAT32),
    F16(2, DataType.FLOAT16),
    BF16(2, DataType.BFLOAT16),
    I64(8, DataType.INT64),
    I32(4, DataType.INT32),
    I16(2, DataType.INT16),
    I8(1, DataType.INT8),
    U64(8, DataType.UINT64),
    U32(4, DataType.UINT32),
    U16(2, DataType.UINT16),
    U8(1, DataType.UINT8),
    BOOL(1, DataType.BOOLEAN);

    private final int byteSize;
    private final DataType djlType;

    DType(int byteSize, DataType djlType) {
        this.byteSize = byteSize;
        this.djlType = djlType;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** The DJL data type with the same memory layout. */
    public DataType djlType() {
        return djlType;
    }

    /** The dtype spelled {@code name} in a safetensors header, if the name is known (case-sensitive). */
    public static Optional<DType> fromHeader(String name) {
        requireNonNull(name, "name is null");
        for (DType type : values()) {
            if (type.name().equals(name)) {
                return Optional.of(type);
            }
        }
        return Optional.empty();
    }

    /**
     * The dtype for a DJL data type.
     *
     * @throws IllegalArgumentException when the data type has no safetensors equivalent
     */
    public static DType of(DataType dataType) {
        requireNonNull(dataType, "dataType is null");
        for (DType type : values()) {
            if (type.djlType == dataType) {
                return type;
            }
        }
        throw new IllegalArgumentException("DJL data type " + dataType + " has no safetensors dtype; accepted: "
                + Arrays.stream(values()).map(t -> t.djlType.toString()).collect(Collectors.joining(", ")));
    }

    /** The accepted header spellings, for error messages. */
    static String accepted() {
        return Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", "));
    }
}
