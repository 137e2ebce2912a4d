package dev.manyfold.runtime.checkpoint;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.types.DataType;
import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The element types of the safetensors format, by their header spelling ({@code "F32"}),
 * with their width in bytes, the DJL {@link DataType} of the same layout, and the DJL type
 * {@link Tensor#toNDArray} produces, if any. Every dtype can be read and written as raw
 * little-endian bytes.
 */
public enum DType {
    F64(8, DataType.FLOAT64, DataType.FLOAT64),
    F32(4, DataType.FLOAT32, DataType.FLOAT32),
    F16(2, DataType.FLOAT16, DataType.FLOAT16),
    BF16(2, DataType.BFLOAT16, DataType.FLOAT32),
    I64(8, DataType.INT64, DataType.INT64),
    I32(4, DataType.INT32, DataType.INT32),
    I16(2, DataType.INT16, null),
    I8(1, DataType.INT8, DataType.INT8),
    U64(8, DataType.UINT64, null),
    U32(4, DataType.UINT32, null),
    U16(2, DataType.UINT16, null),
    U8(1, DataType.UINT8, DataType.UINT8),
    BOOL(1, DataType.BOOLEAN, DataType.BOOLEAN);

    private final int byteSize;
    private final DataType djlType;
    private final DataType ndArrayType;

    DType(int byteSize, DataType djlType, DataType ndArrayType) {
        this.byteSize = byteSize;
        this.djlType = djlType;
        this.ndArrayType = ndArrayType;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** The DJL data type with the same memory layout. */
    public DataType djlType() {
        return djlType;
    }

    /**
     * The data type of the arrays {@link Tensor#toNDArray} makes, if it can make any:
     * {@code djlType()} for F64, F32, F16, I64, I32, I8, U8 and BOOL; FLOAT32 for BF16 (widened
     * exactly); none for I16, U16, U32 and U64. DJL 0.36's PyTorch engine aborts the whole JVM
     * (std::terminate) when asked to create a BFLOAT16, INT16 or unsigned 16/32/64-bit array,
     * so those are never handed to it.
     */
    public Optional<DataType> ndArrayType() {
        return Optional.ofNullable(ndArrayType);
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
