package dev.manyfold.runtime.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.manyfold.api.export.ExportFormat;
import dev.manyfold.api.export.StoredTensor;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Files written in a plugin's export format are unpacked by that format on read, and refused when it is not loaded. */
class StoredFormatsTest {
    @TempDir
    Path dir;

    /** A toy format: stores each masked weight's bytes reversed under NAME.rev. */
    private static final ExportFormat REVERSED = new ExportFormat() {
        @Override
        public Map<String, StoredTensor> pack(Map<String, StoredTensor> tensors, Map<String, boolean[]> masks) {
            Map<String, StoredTensor> out = new LinkedHashMap<>();
            tensors.forEach((n, t) -> out.put(masks.containsKey(n) ? n + ".rev" : n,
                    masks.containsKey(n) ? new StoredTensor(n + ".rev", t.dtype(), t.shape(), reverse(t.data())) : t));
            return out;
        }

        @Override
        public boolean needsUnpack() {
            return true;
        }

        @Override
        public Map<String, StoredTensor> unpack(Map<String, StoredTensor> stored) {
            Map<String, StoredTensor> out = new LinkedHashMap<>();
            stored.forEach((n, t) -> {
                if (n.equals("bad.rev")) {
                    throw new IllegalArgumentException("tensor bad.rev is malformed");
                }
                String name = n.endsWith(".rev") ? n.substring(0, n.length() - 4) : n;
                out.put(name, n.endsWith(".rev") ? new StoredTensor(name, t.dtype(), t.shape(), reverse(t.data())) : t);
            });
            return out;
        }
    };

    private static byte[] reverse(byte[] b) {
        byte[] r = new byte[b.length];
        for (int i = 0; i < b.length; i++) {
            r[i] = b[b.length - 1 - i];
        }
        return r;
    }

    private Path write(String masked) {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put(masked, Tensor.of(masked, DType.U8, new long[] {2, 2}, new byte[] {1, 2, 3, 4}));
        tensors.put("b", Tensor.of("b", DType.U8, new long[] {1}, new byte[] {9}));
        Map<String, StoredTensor> stored = REVERSED.pack(StoredFormats.toStored(tensors), Map.of(masked, new boolean[4]));
        Path file = dir.resolve(masked + ".safetensors");
        SafeTensors.write(file, StoredFormats.fromStored(stored, "test"), Map.of(ExportFormat.METADATA, "reversed"));
        return file;
    }

    @Test
    void aFileInAnExportFormatIsUnpackedByThatFormatOnLoad() {
        Path file = write("w");
        assertThat(SafeTensors.read(file).tensors()).containsOnlyKeys("w.rev", "b");
        Checkpoint loaded = Checkpoint.load(file, name -> name.equals("reversed") ? Optional.of(REVERSED) : Optional.empty());
        assertThat(loaded.tensors()).containsOnlyKeys("w", "b");
        byte[] w = new byte[4];
        loaded.tensor("w").data().get(w);
        assertThat(w).containsExactly(1, 2, 3, 4);
        assertThat(loaded.tensor("w").shape()).containsExactly(2, 2);
    }

    @Test
    void aFileInAFormatNoLoadedPluginProvidesIsRefusedNamingTheFormat() {
        Path file = write("w");
        assertThatThrownBy(() -> Checkpoint.load(file)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("export format \"reversed\"").hasMessageContaining("no loaded plugin provides");
    }

    @Test
    void aFormatRefusingTheFileIsReportedWithTheFileAndFormat() {
        Path file = write("bad");
        assertThatThrownBy(() -> Checkpoint.load(file, name -> Optional.of(REVERSED))).isInstanceOf(CheckpointException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("export format reversed").hasMessageContaining("malformed");
    }
}
