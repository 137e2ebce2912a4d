package dev.manyfold.runtime.checkpoint;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WeightChecksTest {
    @TempDir
    Path dir;

    private Checkpoint file(Tensor... tensors) {
        Map<String, Tensor> map = new LinkedHashMap<>();
        for (Tensor t : tensors) {
            map.put(t.name(), t);
        }
        Path path = dir.resolve("c" + System.nanoTime() + ".safetensors");
        SafeTensors.write(path, map, Map.of());
        return Checkpoint.load(path);
    }

    private static Tensor shorts(String name, DType type, int... bits) {
        ByteBuffer b = ByteBuffer.allocate(2 * bits.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : bits) {
            b.putShort((short) v);
        }
        return Tensor.of(name, type, new long[] {bits.length}, b.array());
    }

    @Test
    void nonFiniteWeightsAreRefusedWithTheTensorAndIndexNamed() {
        for (Tensor bad : new Tensor[] {TestFiles.f32("w", new long[] {3}, 1f, Float.NaN, 2f), TestFiles.f32("w", new long[] {2}, 0f,
                Float.NEGATIVE_INFINITY), shorts("w", DType.F16, 0x3C00, 0x7C00), shorts("w", DType.BF16, 0x7FC0),
                Tensor.of("w", DType.F64, new long[] {1}, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putDouble(Double.NaN).array())}) {
            Checkpoint c = file(bad);
            assertThatThrownBy(() -> WeightChecks.check(c, n -> true)).as(bad.dtype().toString()).isInstanceOf(CheckpointException.class)
                    .hasMessageContaining(c.file() + ": tensor w").hasMessageContaining("non-finite");
        }
        assertThatCode(() -> WeightChecks.check(file(TestFiles.f32("w", new long[] {2}, 1f, -3e38f), shorts("h", DType.F16, 0x7BFF)),
                n -> true)).doesNotThrowAnyException();
    }

    @Test
    void integerTensorsWhereFloatWeightsAreExpectedAreRefused() {
        for (DType type : new DType[] {DType.I64, DType.I32, DType.U8, DType.BOOL, DType.I16, DType.U16, DType.U32, DType.U64}) {
            Checkpoint c = file(Tensor.of("w", type, new long[] {2}, new byte[2 * type.byteSize()]));
            assertThatThrownBy(() -> WeightChecks.check(c, n -> true)).as(type.toString()).isInstanceOf(CheckpointException.class)
                    .hasMessageContaining("tensor w is " + type + " where float weights are expected");
        }
    }

    @Test
    void buffersMayBeIntegersButNotTypesTheEngineCannotHold() {
        assertThatCode(() -> WeightChecks.check(file(Tensor.of("idx", DType.I64, new long[] {1}, new byte[8])), n -> false))
                .doesNotThrowAnyException();
        for (DType type : new DType[] {DType.I16, DType.U16, DType.U32, DType.U64}) {
            Checkpoint c = file(Tensor.of("idx", type, new long[] {1}, new byte[type.byteSize()]));
            assertThatThrownBy(() -> WeightChecks.check(c, n -> false)).isInstanceOf(CheckpointException.class)
                    .hasMessageContaining("tensor idx is " + type + ", which the engine cannot hold");
        }
    }
}
