package dev.manyfold.runtime.checkpoint;

import static dev.manyfold.runtime.checkpoint.TestFiles.f32;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsRoundTripTest {
    @TempDir
    Path dir;

    @Test
    void ndArraysOfEveryRequiredDtypeAndShapeComeBackEqual() {
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> arrays = new LinkedHashMap<>();
            arrays.put("f32.matrix", manager.arange(0f, 12f).reshape(3, 4).div(7f));
            arrays.put("f32.scalar", manager.create(3.25f));
            arrays.put("f32.empty", manager.zeros(new Shape(2, 0), DataType.FLOAT32));
            arrays.put("f32.cube", manager.randomNormal(new Shape(2, 3, 5)));
            arrays.put("i64.vector", manager.create(new long[] {Long.MIN_VALUE, -1, 0, 1, Long.MAX_VALUE}));
            arrays.put("i64.scalar", manager.create(-42L));
            arrays.put("i32.matrix", manager.create(new int[] {Integer.MIN_VALUE, -7, 0, Integer.MAX_VALUE}, new Shape(2, 2)));
            arrays.put("i32.empty", manager.create(new int[0], new Shape(0)));
            arrays.put("u8.bytes", manager.create(new byte[] {0, 1, 127, (byte) 128, (byte) 255}).toType(DataType.UINT8, false));
            arrays.put("u8.scalar", manager.create(new byte[] {(byte) 200}, new Shape()).toType(DataType.UINT8, false));
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            arrays.forEach((name, array) -> tensors.put(name, Tensor.of(name, array)));
            Path file = dir.resolve("model.safetensors");

            SafeTensors.write(file, tensors, Map.of("step", "7"));
            Checkpoint checkpoint = SafeTensors.read(file);

            assertThat(checkpoint.tensors()).containsOnlyKeys(arrays.keySet());
            arrays.forEach((name, original) -> {
                NDArray restored = checkpoint.tensor(name).toNDArray(manager);
                assertThat(restored.getShape()).as(name).isEqualTo(original.getShape());
                assertThat(restored.getDataType()).as(name).isEqualTo(original.getDataType());
                assertThat(restored.toByteArray()).as(name).isEqualTo(original.toByteArray());
            });
            assertThat(checkpoint.tensor("f32.scalar").shape()).isEmpty();
            assertThat(checkpoint.tensor("f32.empty").byteSize()).isZero();
            assertThat(checkpoint.tensor("i64.vector").toNDArray(manager).toLongArray())
                    .containsExactly(Long.MIN_VALUE, -1, 0, 1, Long.MAX_VALUE);
            assertThat(checkpoint.tensor("u8.bytes").toNDArray(manager).toUint8Array())
                    .containsExactly(0, 1, 127, 128, 255);
        }
    }

    @Test
    void otherFloatingAndIntegerDtypesRoundTripThroughNdArrays() {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray values = manager.create(new float[] {-2f, -0.5f, 0f, 1.5f, 3f, 65504f}, new Shape(2, 3));
            Map<String, NDArray> arrays = new LinkedHashMap<>();
            arrays.put("f64", values.toType(DataType.FLOAT64, false));
            arrays.put("f16", values.toType(DataType.FLOAT16, false));
            arrays.put("i8", manager.create(new byte[] {-128, -1, 0, 127}));
            arrays.put("bool", manager.create(new boolean[] {true, false, true}));
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            arrays.forEach((name, array) -> tensors.put(name, Tensor.of(name, array)));
            Path file = dir.resolve("more.safetensors");

            SafeTensors.write(file, tensors, Map.of());
            Checkpoint checkpoint = SafeTensors.read(file);

            assertThat(checkpoint.tensor("f16").dtype()).isEqualTo(DType.F16);
            assertThat(checkpoint.tensor("bool").dtype()).isEqualTo(DType.BOOL);
            arrays.forEach((name, original) -> {
                NDArray restored = checkpoint.tensor(name).toNDArray(manager);
                assertThat(restored.getShape()).as(name).isEqualTo(original.getShape());
                assertThat(restored.getDataType()).as(name).isEqualTo(original.getDataType());
                assertThat(restored.toByteArray()).as(name).isEqualTo(original.toByteArray());
            });
            assertThat(checkpoint.tensor("f16").toNDArray(manager).toType(DataType.FLOAT32, false).toFloatArray())
                    .containsExactly(-2f, -0.5f, 0f, 1.5f, 3f, 65504f);
        }
    }

    @Test
    void bf16TensorsBecomeExactlyWidenedFloat32Arrays() {
        // 1.0, -2.5, 3.140625 and the largest finite bfloat16, as little-endian bfloat16 bits
        byte[] bits = {(byte) 0x80, 0x3f, 0x20, (byte) 0xc0, 0x49, 0x40, 0x7f, 0x7f};
        Path file = dir.resolve("bf16.safetensors");
        SafeTensors.write(file, Map.of("w", Tensor.of("w", DType.BF16, new long[] {2, 2}, bits)), Map.of());

        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray array = SafeTensors.read(file).tensor("w").toNDArray(manager);

            assertThat(array.getDataType()).isEqualTo(DataType.FLOAT32);
            assertThat(array.getShape()).isEqualTo(new Shape(2, 2));
            assertThat(array.toFloatArray()).containsExactly(1f, -2.5f, 3.140625f, Float.intBitsToFloat(0x7f7f0000));
        }
    }

    @Test
    void dtypesThePyTorchEngineCannotHoldAreRefusedInsteadOfReachingIt() {
        Tensor tensor = Tensor.of("counts", DType.U16, new long[] {2}, new byte[4]);

        try (NDManager manager = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> tensor.toNDArray(manager))
                    .isInstanceOf(UnsupportedOperationException.class)
                    .hasMessageStartingWith("tensor counts: U16 cannot be converted to an NDArray")
                    .hasMessageContaining("convertible: F64, F32, F16, BF16, I64, I32, I8, U8, BOOL");
        }
        assertThat(DType.I16.ndArrayType()).isEmpty();
        assertThat(DType.U32.ndArrayType()).isEmpty();
        assertThat(DType.U64.ndArrayType()).isEmpty();
    }

    @Test
    void everyDtypeRoundTripsAsRawLittleEndianBytes() {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (DType dtype : DType.values()) {
            byte[] bytes = new byte[3 * dtype.byteSize()];
            for (int i = 0; i < bytes.length; i++) {
                bytes[i] = (byte) (31 * i + dtype.ordinal());
            }
            tensors.put(dtype.name(), Tensor.of(dtype.name(), dtype, new long[] {3, 1}, bytes));
        }
        Path file = dir.resolve("raw.safetensors");

        SafeTensors.write(file, tensors, Map.of());
        Checkpoint checkpoint = SafeTensors.read(file);

        for (DType dtype : DType.values()) {
            Tensor read = checkpoint.tensor(dtype.name());
            assertThat(read.dtype()).isEqualTo(dtype);
            assertThat(read.shape()).containsExactly(3, 1);
            assertThat(read.data()).isEqualTo(tensors.get(dtype.name()).data());
        }
    }

    @Test
    void metadataRoundTripsIncludingMultiLineUnicodeRecipe() {
        String recipe = "dimensions:\n  width:\n    type: matryoshka # \"quoted\" ünïcødé ✓\n    budgets: [0.25, 0.5, 1.0]\n";
        Map<String, String> metadata = Map.of(Checkpoint.RECIPE, recipe, Checkpoint.STEP, "1200",
                Checkpoint.FORMAT_VERSION, "1", "empty", "");
        Path file = dir.resolve("meta.safetensors");

        SafeTensors.write(file, Map.of("w", f32("w", new long[] {1}, 1f)), metadata);
        Checkpoint checkpoint = SafeTensors.read(file);

        assertThat(checkpoint.metadata()).isEqualTo(metadata);
        assertThat(checkpoint.metadata(Checkpoint.RECIPE)).contains(recipe);
        assertThat(checkpoint.step()).hasValue(1200);
    }

    @Test
    void fileWrittenByTheReferenceImplementationIsReadCorrectly() throws Exception {
        Path file = java.nio.file.Files.write(dir.resolve("reference.safetensors"), TestFiles.REFERENCE_FILE);

        Checkpoint checkpoint = SafeTensors.read(file);

        assertThat(checkpoint.metadata()).containsExactly(Map.entry("step", "3"));
        assertThat(checkpoint.tensors()).containsOnlyKeys("weight", "ids", "scalar", "empty");
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray weight = checkpoint.tensor("weight").toNDArray(manager);
            assertThat(weight.getShape()).isEqualTo(new Shape(2, 3));
            assertThat(weight.toFloatArray()).containsExactly(0f, 1f, 2f, 3f, 4f, 5f);
            assertThat(checkpoint.tensor("ids").toNDArray(manager).toLongArray()).containsExactly(7L, -1L);
            NDArray scalar = checkpoint.tensor("scalar").toNDArray(manager);
            assertThat(scalar.getShape()).isEqualTo(new Shape());
            assertThat(scalar.toIntArray()).containsExactly(42);
            NDArray empty = checkpoint.tensor("empty").toNDArray(manager);
            assertThat(empty.getShape()).isEqualTo(new Shape(0));
            assertThat(empty.getDataType()).isEqualTo(DataType.UINT8);
        }
    }

    @Test
    void ndArrayFromTensorIsIndependentOfTheFileAndOfTheTensor() {
        Path file = dir.resolve("independent.safetensors");
        SafeTensors.write(file, Map.of("w", f32("w", new long[] {2}, 1f, 2f)), Map.of());
        Checkpoint checkpoint = SafeTensors.read(file);
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray array = checkpoint.tensor("w").toNDArray(manager);

            array.addi(10f);
            SafeTensors.write(file, Map.of("w", f32("w", new long[] {2}, 5f, 6f)), Map.of());

            assertThat(array.toFloatArray()).containsExactly(11f, 12f);
            assertThat(checkpoint.tensor("w").data().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(1)).isEqualTo(2f);
            assertThat(SafeTensors.read(file).tensor("w").toNDArray(manager).toFloatArray()).containsExactly(5f, 6f);
        }
    }

    @Test
    void tensorCopiesItsInputSoLaterChangesDoNotLeakIn() {
        byte[] bytes = TestFiles.floatsLittleEndian(1f, 2f);
        Tensor tensor = Tensor.of("w", DType.F32, new long[] {2}, bytes);
        long[] shape = tensor.shape();

        bytes[0] = 99;
        shape[0] = 5;

        assertThat(tensor.data().get(0)).isEqualTo(TestFiles.floatsLittleEndian(1f)[0]);
        assertThat(tensor.shape()).containsExactly(2);
        assertThat(tensor.data().isReadOnly()).isTrue();
    }

    @Test
    void tensorRejectsBytesThatDoNotMatchDtypeAndShape() {
        assertThatThrownBy(() -> Tensor.of("w", DType.F32, new long[] {2, 3}, new byte[12]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("tensor w: data holds 12 bytes but F32 [2, 3] needs 24");
        assertThatThrownBy(() -> Tensor.of("w", DType.F32, new long[] {-1}, new byte[0]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("negative dimension");
        assertThatThrownBy(() -> Tensor.of("w", DType.F32, new long[] {1L << 40, 1L << 40}, ByteBuffer.allocate(0)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("larger than 2147483647 bytes");
    }

    @Test
    void writerRejectsMapKeysThatDifferFromTensorNamesAndTheReservedName() {
        Path file = dir.resolve("bad.safetensors");
        assertThatThrownBy(() -> SafeTensors.write(file, Map.of("a", f32("b", new long[] {1}, 1f)), Map.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("key a differs from the tensor's name b");
        assertThatThrownBy(() -> SafeTensors.write(file,
                        Map.of(SafeTensors.METADATA_KEY, f32(SafeTensors.METADATA_KEY, new long[] {1}, 1f)), Map.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("__metadata__");
        assertThat(file).doesNotExist();
    }

    @Test
    void writingAnEmptyTensorMapGivesAReadableEmptyCheckpoint() {
        Path file = dir.resolve("empty.safetensors");

        SafeTensors.write(file, Map.of(), Map.of());

        assertThat(SafeTensors.read(file).tensors()).isEmpty();
        assertThat(List.of(SafeTensors.read(file).metadata())).containsExactly(Map.of());
    }
}
