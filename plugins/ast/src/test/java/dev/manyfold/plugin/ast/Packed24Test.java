package dev.manyfold.plugin.ast;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.manyfold.api.Settings;
import dev.manyfold.api.export.ExportFormat;
import dev.manyfold.api.export.ExportFormatFactory;
import dev.manyfold.api.export.StoredTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The packed 2:4 format: kept values + a 3-bit pattern per group of 4, bit-exact round trips, sizes; the two export formats. */
class Packed24Test {
    private static StoredTensor f32(String name, float[] values, long... shape) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return new StoredTensor(name, "F32", shape, b.array());
    }

    private static float[] floats(StoredTensor t) {
        ByteBuffer b = ByteBuffer.wrap(t.data()).order(ByteOrder.LITTLE_ENDIAN);
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
        Map<String, StoredTensor> tensors = new LinkedHashMap<>();
        tensors.put("layers.0.q.weight", f32("layers.0.q.weight", w, 6, 16));
        tensors.put("norm.weight", f32("norm.weight", new float[] {1f, 2f, 3f}, 3));
        Map<String, StoredTensor> packed = Packed24.pack(tensors, Map.of("layers.0.q.weight", keep));
        assertThat(packed.keySet()).containsExactlyInAnyOrder("layers.0.q.weight.packed24.values", "layers.0.q.weight.packed24.pattern",
                "norm.weight");
        StoredTensor values = packed.get("layers.0.q.weight.packed24.values");
        StoredTensor pattern = packed.get("layers.0.q.weight.packed24.pattern");
        assertThat(values.shape()).containsExactly(6, 8);
        assertThat(pattern.dtype()).isEqualTo("U8");
        assertThat(pattern.data().length).isEqualTo((3 * 24 + 7) / 8); // 24 groups × 3 bits = 9 bytes
        Map<String, StoredTensor> back = Packed24.unpack(packed);
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
        Map<String, StoredTensor> t = Map.of("w", f32("w", w, 1, 8));
        assertThat(floats(Packed24.unpack(Packed24.pack(t, Map.of("w", oneKept))).get("w"))).containsExactly(w);
        boolean[] three = {true, true, true, false, true, true, false, false};
        assertThatThrownBy(() -> Packed24.pack(t, Map.of("w", three))).hasMessageContaining("more than 2 of 4");
        assertThatThrownBy(() -> Packed24.pack(Map.of("v", f32("v", new float[6], 1, 6)), Map.of("v", new boolean[6])))
                .hasMessageContaining("divisible by 4");
    }

    @Test
    void anInvalidPatternIndexIsRefused() {
        Map<String, StoredTensor> bad = new LinkedHashMap<>();
        bad.put("w.packed24.values", f32("w.packed24.values", new float[] {1f, 2f}, 1, 2));
        bad.put("w.packed24.pattern", new StoredTensor("w.packed24.pattern", "U8", new long[] {1}, new byte[] {7}));
        assertThatThrownBy(() -> Packed24.unpack(bad)).hasMessageContaining("invalid pattern index 7");
        Map<String, StoredTensor> lonely = Map.of("w.packed24.values", f32("w.packed24.values", new float[] {1f, 2f}, 1, 2));
        assertThatThrownBy(() -> Packed24.unpack(lonely)).hasMessageContaining("partner");
    }

    private static ExportFormat format(String name) {
        ExportFormatFactory factory = new AstPlugin().exportFormats().stream().filter(f -> f.name().equals(name)).findFirst().orElseThrow();
        return factory.create(Settings.empty("export"), null);
    }

    @Test
    void thePluginContributesAnExact24FormatThatChecksAndAPackedOneThatRoundTrips() {
        assertThat(new AstPlugin().exportFormats()).extracting(ExportFormatFactory::name).containsExactly("2:4", "packed-2:4");
        Object[] s = sparse(4, 8, 9);
        Map<String, StoredTensor> tensors = Map.of("w", f32("w", (float[]) s[0], 4, 8));
        Map<String, boolean[]> masks = Map.of("w", (boolean[]) s[1]);

        ExportFormat exact = format("2:4");
        assertThat(exact.needsUnpack()).isFalse();
        assertThat(exact.pack(tensors, masks)).isSameAs(tensors);
        boolean[] dense = new boolean[32];
        java.util.Arrays.fill(dense, true);
        assertThatThrownBy(() -> exact.pack(tensors, Map.of("w", dense))).hasMessageContaining("w").hasMessageContaining("more than 2 of 4");

        ExportFormat packed = format("packed-2:4");
        assertThat(packed.needsUnpack()).isTrue();
        Map<String, StoredTensor> stored = packed.pack(tensors, masks);
        assertThat(stored).containsOnlyKeys("w.packed24.values", "w.packed24.pattern");
        assertThat(packed.maskedBytes(stored, masks.keySet())).isEqualTo(4 * 4 * 4 + (3 * 8 + 7) / 8);
        Map<String, StoredTensor> back = packed.unpack(stored);
        assertThat(back).containsOnlyKeys("w");
        assertThat(floats(back.get("w"))).containsExactly((float[]) s[0]);
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
