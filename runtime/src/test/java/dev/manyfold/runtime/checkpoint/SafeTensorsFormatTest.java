package dev.manyfold.runtime.checkpoint;

import static dev.manyfold.runtime.checkpoint.TestFiles.f32;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checks the bytes {@link SafeTensors#write} produces with a minimal parser of its own. */
class SafeTensorsFormatTest {
    @TempDir
    Path dir;

    @Test
    void writtenBytesFollowTheSafetensorsLayout() throws Exception {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("zeta", f32("zeta", new long[] {2}, 1.5f, -2.5f));
        tensors.put("alpha", Tensor.of("alpha", DType.I64, new long[] {}, ByteBuffer.allocate(8)
                .order(ByteOrder.LITTLE_ENDIAN).putLong(0, 123456789012L)));
        tensors.put("mid", Tensor.of("mid", DType.U8, new long[] {0, 3}, new byte[0]));
        tensors.put("beta", Tensor.of("beta", DType.I32, new long[] {1, 3}, ByteBuffer.allocate(12)
                .order(ByteOrder.LITTLE_ENDIAN).putInt(0, 1).putInt(4, -2).putInt(8, 3)));
        Path file = dir.resolve("layout.safetensors");

        SafeTensors.write(file, tensors, Map.of("format-version", "1"));

        byte[] bytes = Files.readAllBytes(file);
        long headerLength = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertThat(headerLength % 8).as("header padded to a multiple of 8").isZero();
        String header = new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8);
        assertThat(header).startsWith("{");
        assertThat(header.strip()).endsWith("}");
        assertThat(header.substring(header.strip().length())).as("padding").matches(" {0,7}");

        JsonNode root = new ObjectMapper().readTree(header);
        assertThat(root.get("__metadata__").get("format-version").textValue()).isEqualTo("1");
        List<String> names = new ArrayList<>();
        for (Map.Entry<String, JsonNode> field : root.properties()) {
            if (!field.getKey().equals("__metadata__")) {
                names.add(field.getKey());
            }
        }
        assertThat(names).as("tensors in sorted-name order").containsExactly("alpha", "beta", "mid", "zeta");

        long expectedBegin = 0;
        for (String name : names) {
            JsonNode entry = root.get(name);
            long begin = entry.get("data_offsets").get(0).longValue();
            long end = entry.get("data_offsets").get(1).longValue();
            assertThat(begin).as(name + " starts where the previous tensor ended").isEqualTo(expectedBegin);
            int start = (int) (8 + headerLength + begin);
            assertThat(Arrays.copyOfRange(bytes, start, (int) (8 + headerLength + end)))
                    .as(name + " bytes").isEqualTo(bytesOf(tensors.get(name)));
            expectedBegin = end;
        }
        assertThat(bytes.length).isEqualTo(8 + headerLength + expectedBegin);

        JsonNode zeta = root.get("zeta");
        assertThat(zeta.get("dtype").textValue()).isEqualTo("F32");
        assertThat(zeta.get("shape").toString()).isEqualTo("[2]");
        assertThat(root.get("alpha").get("shape").toString()).isEqualTo("[]");
        assertThat(root.get("mid").get("shape").toString()).isEqualTo("[0,3]");
        int zetaData = (int) (8 + headerLength + zeta.get("data_offsets").get(0).longValue());
        ByteBuffer data = ByteBuffer.wrap(bytes, zetaData, 8).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(data.getFloat()).isEqualTo(1.5f);
        assertThat(data.getFloat()).isEqualTo(-2.5f);
    }

    @Test
    void headerWithoutMetadataHasNoMetadataEntry() throws Exception {
        Path file = dir.resolve("plain.safetensors");

        SafeTensors.write(file, Map.of("w", f32("w", new long[] {1}, 1f)), Map.of());

        byte[] bytes = Files.readAllBytes(file);
        int headerLength = (int) ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        JsonNode root = new ObjectMapper().readTree(new String(bytes, 8, headerLength, StandardCharsets.UTF_8));
        assertThat(root.has("__metadata__")).isFalse();
        assertThat(root.get("w").get("data_offsets").toString()).isEqualTo("[0,4]");
    }

    private static byte[] bytesOf(Tensor tensor) {
        ByteBuffer data = tensor.data();
        byte[] bytes = new byte[data.remaining()];
        data.get(bytes);
        return bytes;
    }
}
