package dev.manyfold.runtime.checkpoint;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Checks on a checkpoint's values before they are assigned to a model: tensors that are
 * float weights must have a floating dtype and hold only finite values; every other tensor
 * must have a dtype the engine can hold. Errors name the file and the tensor.
 */
public final class WeightChecks {
    /** The dtypes accepted where float weights are expected. */
    public static final Set<DType> FLOATS = Set.of(DType.F32, DType.F16, DType.BF16, DType.F64);

    private WeightChecks() {}

    /**
     * Checks dtypes only (reads the header, not the data): {@code isFloat} says which tensor
     * names are float weights.
     *
     * @throws CheckpointException for the first tensor that fails
     */
    public static void checkTypes(Checkpoint checkpoint, Predicate<String> isFloat) {
        checkTypes(checkpoint.file(), checkpoint.tensors(), isFloat);
    }

    private static void checkTypes(java.nio.file.Path file, java.util.Map<String, Tensor> tensors, Predicate<String> isFloat) {
        for (var e : tensors.entrySet()) {
            Tensor t = e.getValue();
            if (isFloat.test(e.getKey())) {
                if (!FLOATS.contains(t.dtype())) {
                    throw new CheckpointException(file + ": tensor " + t.name() + " is " + t.dtype()
                            + " where float weights are expected (accepted: " + String.join(", ", names()) + ")");
                }
            } else if (t.dtype().ndArrayType().isEmpty()) {
                throw new CheckpointException(file + ": tensor " + t.name() + " is " + t.dtype()
                        + ", which the engine cannot hold (accepted: F64, F32, F16, BF16, I64, I32, I8, U8, BOOL)");
            }
        }
    }

    /**
     * {@link #checkTypes}, then reads every float tensor and refuses NaN or infinite values.
     *
     * @throws CheckpointException for the first tensor that fails, with the index of its first bad value
     */
    public static void check(Checkpoint checkpoint, Predicate<String> isFloat) {
        check(checkpoint.file(), checkpoint.tensors(), isFloat);
    }

    /** {@link #check(Checkpoint, Predicate)} for some tensors of {@code file}, keyed by the name the model gives them. */
    public static void check(java.nio.file.Path file, java.util.Map<String, Tensor> tensors, Predicate<String> isFloat) {
        checkTypes(file, tensors, isFloat);
        for (var e : tensors.entrySet()) {
            Tensor t = e.getValue();
            if (isFloat.test(e.getKey())) {
                long bad = firstNonFinite(t);
                if (bad >= 0) {
                    throw new CheckpointException(file + ": tensor " + t.name() + " " + Arrays.toString(t.shape())
                            + " holds a non-finite value (NaN or infinity) at flat index " + bad
                            + " (accepted: finite weights; the run that wrote it diverged or the file was altered)");
                }
            }
        }
    }

    /** The flat index of the first NaN or infinity, or -1. */
    static long firstNonFinite(Tensor t) {
        ByteBuffer b = t.data();
        long n = t.elementCount();
        switch (t.dtype()) {
            case F32 -> {
                for (int i = 0; i < n; i++) {
                    if ((b.getInt(4 * i) & 0x7F800000) == 0x7F800000) {
                        return i;
                    }
                }
            }
            case F64 -> {
                for (int i = 0; i < n; i++) {
                    if ((b.getLong(8 * i) & 0x7FF0000000000000L) == 0x7FF0000000000000L) {
                        return i;
                    }
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    if ((b.getShort(2 * i) & 0x7C00) == 0x7C00) {
                        return i;
                    }
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    if ((b.getShort(2 * i) & 0x7F80) == 0x7F80) {
                        return i;
                    }
                }
            }
            default -> {
                return -1;
            }
        }
        return -1;
    }

    private static java.util.List<String> names() {
        return FLOATS.stream().map(Enum::name).sorted().toList();
    }
}
