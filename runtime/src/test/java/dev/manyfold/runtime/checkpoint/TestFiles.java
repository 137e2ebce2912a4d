package dev.manyfold.runtime.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/** Builds safetensors files byte by byte, independently of {@link SafeTensors}. */
final class TestFiles {
    /**
     * Written by the reference implementation (Python safetensors 0.8.0, safetensors.numpy.save) from
     * {"weight": float32 arange(6).reshape(2, 3), "ids": int64 [7, -1], "scalar": int32 42,
     * "empty": uint8 zeros(0)} with metadata {"step": "3"}.
     */
    static final byte[] REFERENCE_FILE = HexFormat.of().parseHex("08010000000000007b225f5f6d657461646174615f5f223a7b"
            + "2273746570223a2233227d2c22696473223a7b226474797065223a22493634222c227368617065223a5b325d2c2264617461"
            + "5f6f666673657473223a5b302c31365d7d2c22776569676874223a7b226474797065223a22463332222c227368617065223a"
            + "5b322c335d2c22646174615f6f666673657473223a5b31362c34305d7d2c227363616c6172223a7b226474797065223a2249"
            + "3332222c227368617065223a5b5d2c22646174615f6f666673657473223a5b34302c34345d7d2c22656d707479223a7b2264"
            + "74797065223a225538222c227368617065223a5b305d2c22646174615f6f666673657473223a5b34342c34345d7d7d070000"
            + "0000000000ffffffffffffffff000000000000803f0000004000004040000080400000a0402a000000");

    private TestFiles() {}

    /** A file with the given header length field, header text and data bytes. */
    static Path raw(Path file, long headerLength, String header, byte[] data) throws IOException {
        byte[] headerBytes = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buffer = ByteBuffer.allocate(8 + headerBytes.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        buffer.putLong(headerLength).put(headerBytes).put(data);
        return Files.write(file, buffer.array());
    }

    /** A well-formed file: correct header length for {@code header}, followed by {@code data}. */
    static Path raw(Path file, String header, byte[] data) throws IOException {
        return raw(file, header.getBytes(StandardCharsets.UTF_8).length, header, data);
    }

    static byte[] floatsLittleEndian(float... values) {
        ByteBuffer buffer = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float value : values) {
            buffer.putFloat(value);
        }
        return buffer.array();
    }

    static Tensor f32(String name, long[] shape, float... values) {
        return Tensor.of(name, DType.F32, shape, floatsLittleEndian(values));
    }

    /** Hidden temporary files left in {@code directory}. */
    static List<Path> tempFiles(Path directory) throws IOException {
        try (Stream<Path> files = Files.list(directory)) {
            return files.filter(path -> path.getFileName().toString().endsWith(".tmp")).toList();
        }
    }
}
