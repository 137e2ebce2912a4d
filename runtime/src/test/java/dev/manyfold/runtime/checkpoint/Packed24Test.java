package dev.manyfold.runtime.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The packed 2:4 format: kept values + a 3-bit pattern per group of 4, bit-exact round trips, sizes. */
class Packed24Test {
    @TempDir
    Path dir;

    private static Tensor f32(String name, float[] values, long... shape) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return Tensor.of(name, DType.F32, shape, b.array());
    }

    private static float[] floats(Tensor t) {
        ByteBuffer b = t.data();
        float[] out = new float[(int) t.elementCount()];
        for (int i = 0; i < out.length; i++) {
            out[i] = b.getFloat(4 * i);
        }
        return out;
    }

    /** A random [rows, cols] 2:4 weight (all six patterns occur) with its mask; pruned entries are 0. */
    private static Object[] sparse(int rows, int cols, long seed) {
        Random r = new Random(seed);
        float[] w = new float[rows * cols];
        boolean[] keep = new boolean[w.length];
        for (int g = 0; g < w.length / 4; g++) {
            int[] pattern = Packed24.PATTERNS[g % 6 == 5 ? 5 : r.nextInt(6)];
            for (int k : pattern) {
                keep[4 * g + k] = true;
                w[4 * g + k] = (float) r.nextGaussian();
            }
        }
        return new Object[] {w, keep};
    }

    @Test
    void packingKeepsTwoValuesAndThreeBitsPerGroupAndUnpacksBitForBit() {
        Object[] s = sparse(6, 16, 3);
        float[] w = (float[]) s[0];
        boolean[] keep = (boolean[]) s[1];
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("layers.0.q.weight", f32("layers.0.q.weight", w, 6, 16));
        tensors.put("norm.weight", f32("norm.weight", new float[] {1f, 2f, 3f}, 3));
        Map<String, Tensor> packed = Packed24.pack(tensors, Map.of("layers.0.q.weight", keep));
        assertThat(packed.keySet()).containsExactlyInAnyOrder("layers.0.q.weight.packed24.values", "layers.0.q.weight.packed24.pattern",
                "norm.weight");
        Tensor values = packed.get("layers.0.q.weight.packed24.values");
        Tensor pattern = packed.get("layers.0.q.weight.packed24.pattern");
        assertThat(values.shape()).containsExactly(6, 8);
        assertThat(pattern.dtype()).isEqualTo(DType.U8);
        assertThat(pattern.byteSize()).isEqualTo((3 * 24 + 7) / 8); // 24 groups × 3 bits = 9 bytes
        Map<String, Tensor> back = Packed24.unpack(packed);
        assertThat(back.keySet()).containsExactlyInAnyOrder("layers.0.q.weight", "norm.weight");
        assertThat(back.get("layers.0.q.weight").shape()).containsExactly(6, 16);
        assertThat(floats(back.get("layers.0.q.weight"))).containsExactly(w);
        assertThat(floats(back.get("norm.weight"))).containsExactly(1f, 2f, 3f);

        Packed24.Sizes sizes = Packed24.sizes(packed);
        assertThat(sizes.packedSparseBytes()).isEqualTo(6 * 8 * 4 + 9);
        assertThat(sizes.denseSparseBytes()).isEqualTo(6 * 16 * 4);
        assertThat(sizes.packedBytes()).isEqualTo(6 * 8 * 4 + 9 + 12);
        assertThat(sizes.denseBytes()).isEqualTo(6 * 16 * 4 + 12);
        assertThat(sizes.packedTensors()).isEqualTo(1);
        assertThat(sizes.sparseRatio()).isCloseTo(201.0 / 384, within(1e-12));
    }

    @Test
    void aGroupKeepingFewerThanTwoIsCompletedAndMoreThanTwoIsRefused() {
        float[] w = {0f, 5f, 0f, 0f, 0f, 0f, 0f, 0f};
        boolean[] oneKept = {false, true, false, false, false, false, false, false};
        Map<String, Tensor> t = Map.of("w", f32("w", w, 1, 8));
        assertThat(floats(Packed24.unpack(Packed24.pack(t, Map.of("w", oneKept))).get("w"))).containsExactly(w);
        boolean[] three = {true, true, true, false, true, true, false, false};
        assertThatThrownBy(() -> Packed24.pack(t, Map.of("w", three))).hasMessageContaining("more than 2 of 4");
        assertThatThrownBy(() -> Packed24.pack(Map.of("v", f32("v", new float[6], 1, 6)), Map.of("v", new boolean[6])))
                .hasMessageContaining("divisible by 4");
    }

    @Test
    void anInvalidPatternIndexIsRefused() {
        Map<String, Tensor> bad = new LinkedHashMap<>();
        bad.put("w.packed24.values", f32("w.packed24.values", new float[] {1f, 2f}, 1, 2));
        bad.put("w.packed24.pattern", Tensor.of("w.packed24.pattern", DType.U8, new long[] {1}, new byte[] {7}));
        assertThatThrownBy(() -> Packed24.unpack(bad)).hasMessageContaining("invalid pattern index 7");
        Map<String, Tensor> lonely = Map.of("w.packed24.values", f32("w.packed24.values", new float[] {1f, 2f}, 1, 2));
        assertThatThrownBy(() -> Packed24.unpack(lonely)).hasMessageContaining("partner");
    }

    @Test
    void aPackedFileIsReadBackUnpackedByCheckpointLoad() {
        Object[] s = sparse(4, 8, 9);
        Map<String, Tensor> tensors = Map.of("w", f32("w", (float[]) s[0], 4, 8));
        Path file = dir.resolve("packed.safetensors");
        SafeTensors.write(file, Packed24.pack(tensors, Map.of("w", (boolean[]) s[1])), Map.of(Packed24.METADATA, Packed24.FORMAT));
        assertThat(SafeTensors.read(file).tensors()).containsOnlyKeys("w.packed24.values", "w.packed24.pattern");
        Checkpoint loaded = Checkpoint.load(file);
        assertThat(loaded.tensors()).containsOnlyKeys("w");
        assertThat(floats(loaded.tensor("w"))).containsExactly((float[]) s[0]);
    }

    @Test
    void theCompressionFormulaOfAppendix61Gives11Over128For24AndStaysBelow3Over32() {
        assertThat(Packed24.compression(2, 4, 32)).isEqualTo(11.0 / 128);
        assertThat(Packed24.compression(2, 32, 32)).isEqualTo(67.0 / 128);
        for (int n = 1; n <= 30; n++) {
            assertThat(Packed24.compression(n, 4, 32)).as("n = %d", n).isLessThanOrEqualTo(3.0 / 32);
        }
    }
}
