package dev.manyfold.runtime.checkpoint;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Reads and writes the safetensors format: an 8-byte little-endian unsigned header length
 * {@code N}, {@code N} bytes of UTF-8 JSON
 * <pre>{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"key": "value"}}</pre>
 * then the data region, holding each tensor's little-endian elements at
 * {@code [begin, end)} relative to the region's start.
 *
 * <p>{@link #write} replaces the target atomically. {@link #read} validates the whole header
 * before it maps any data: a damaged or hostile file fails with a {@link CheckpointException}
 * naming the file, the tensor and what was expected, and never makes the reader allocate
 * more than the file holds. Readers accept gaps between tensors (the reference
 * implementation does not) but reject overlaps, unknown dtypes and unknown entry keys.
 */
public final class SafeTensors {
    /** The largest header accepted, in bytes. */
    public static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;
    /** The header key holding the string-to-string metadata. */
    public static final String METADATA_KEY = "__metadata__";

    private static final String DTYPE = "dtype";
    private static final String SHAPE = "shape";
    private static final String DATA_OFFSETS = "data_offsets";
    private static final Set<String> ENTRY_KEYS = Set.of(DTYPE, SHAPE, DATA_OFFSETS);
    private static final JsonMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private SafeTensors() {}

    /**
     * Writes {@code tensors} and {@code metadata} to {@code file}, replacing it atomically:
     * the bytes go to a temporary file in the same directory, are forced to disk and renamed
     * over {@code file}. Tensors are laid out in name order and the header is padded with
     * spaces to a multiple of 8 bytes. On any failure, including a {@link Tensor#lazy} source
     * that throws, the temporary file is deleted and an existing {@code file} is untouched.
     * The directory must exist.
     *
     * @param tensors by name; each key must equal its tensor's {@link Tensor#name()}
     * @param metadata string pairs stored under {@value #METADATA_KEY}; may be empty
     * @throws IllegalArgumentException when a key differs from its tensor's name or a tensor
     *     is named {@value #METADATA_KEY}
     * @throws CheckpointException when the file cannot be written or a tensor's data cannot be read
     */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) {
        requireNonNull(file, "file is null");
        requireNonNull(tensors, "tensors is null");
        requireNonNull(metadata, "metadata is null");
        TreeMap<String, Tensor> sorted = new TreeMap<>();
        tensors.forEach((name, tensor) -> {
            requireNonNull(name, "tensor name is null");
            requireNonNull(tensor, () -> "tensor " + name + " is null");
            if (!name.equals(tensor.name())) {
                throw new IllegalArgumentException(
                        "tensor map key " + name + " differs from the tensor's name " + tensor.name());
            }
            if (name.equals(METADATA_KEY)) {
                throw new IllegalArgumentException("a tensor may not be named " + METADATA_KEY + ", the metadata key");
            }
            sorted.put(name, tensor);
        });
        TreeMap<String, String> meta = new TreeMap<>();
        metadata.forEach((key, value) -> meta.put(requireNonNull(key, "metadata key is null"),
                requireNonNull(value, () -> "metadata value of " + key + " is null")));

        byte[] header = header(sorted, meta);
        try {
            AtomicFiles.write(file, channel -> {
                ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
                writeFully(channel, length);
                writeFully(channel, ByteBuffer.wrap(header));
                for (Tensor tensor : sorted.values()) {
                    writeFully(channel, dataOf(file, tensor));
                }
            });
        } catch (IOException e) {
            throw new CheckpointException(file + ": could not write checkpoint: " + e, e);
        }
    }

    /**
     * Reads and validates {@code file}. Each tensor's data is memory-mapped read-only, so
     * nothing is copied until {@link Tensor#data()} or {@link Tensor#toNDArray} touches it;
     * the mapping stays valid even if the file is later replaced by {@link #write}.
     *
     * @throws CheckpointException when the file is missing, unreadable or not a valid
     *     safetensors file; the message names the file, the tensor and what was expected
     */
    public static Checkpoint read(Path file) {
        requireNonNull(file, "file is null");
        requireRegular(file);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            Header header = parseHeader(file, channel);
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (Entry entry : header.entries) {
                MappedByteBuffer mapped = channel.map(
                        FileChannel.MapMode.READ_ONLY, header.dataStart + entry.begin, entry.end - entry.begin);
                ByteBuffer bytes = mapped.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
                tensors.put(entry.name, Tensor.lazy(entry.name, entry.dtype, entry.shape, bytes::duplicate));
            }
            return new Checkpoint(file, tensors, header.metadata);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(file + ": no such checkpoint file", e);
        } catch (IOException e) {
            throw new CheckpointException(file + ": could not read checkpoint: " + e, e);
        }
    }

    /** Validates the header of {@code file} without mapping any data. */
    static void validate(Path file) {
        requireRegular(file);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            parseHeader(file, channel);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(file + ": no such checkpoint file", e);
        } catch (IOException e) {
            throw new CheckpointException(file + ": could not read checkpoint: " + e, e);
        }
    }

    /** Opening a pipe would block and a device may never end: only regular files are read. */
    private static void requireRegular(Path file) {
        if (Files.exists(file) && !Files.isRegularFile(file)) {
            throw new CheckpointException(file + ": not a regular file (directories, devices and pipes are not read as checkpoints)");
        }
    }

    // ---- writing ----

    private static byte[] header(TreeMap<String, Tensor> tensors, TreeMap<String, String> metadata) {
        ObjectNode root = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = root.putObject(METADATA_KEY);
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Tensor tensor : tensors.values()) {
            ObjectNode entry = root.putObject(tensor.name());
            entry.put(DTYPE, tensor.dtype().name());
            ArrayNode shape = entry.putArray(SHAPE);
            for (long dim : tensor.shape()) {
                shape.add(dim);
            }
            long end = offset + tensor.byteSize();
            entry.putArray(DATA_OFFSETS).add(offset).add(end);
            offset = end;
        }
        byte[] json;
        try {
            json = JSON.writeValueAsBytes(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("could not serialise a safetensors header", e);
        }
        int padded = (json.length + 7) / 8 * 8;
        byte[] header = Arrays.copyOf(json, padded);
        Arrays.fill(header, json.length, padded, (byte) ' ');
        return header;
    }

    private static ByteBuffer dataOf(Path file, Tensor tensor) {
        try {
            return tensor.data();
        } catch (CheckpointException e) {
            throw new CheckpointException(file + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new CheckpointException(file + ": tensor " + tensor.name() + ": could not read its data: " + e, e);
        }
    }

    private static void writeFully(FileChannel channel, ByteBuffer bytes) throws IOException {
        while (bytes.hasRemaining()) {
            channel.write(bytes);
        }
    }

    // ---- reading ----

    private record Entry(String name, DType dtype, long[] shape, long begin, long end) {}

    private record Header(List<Entry> entries, Map<String, String> metadata, long dataStart) {}

    private static Header parseHeader(Path file, FileChannel channel) throws IOException {
        long size = channel.size();
        if (size < 8) {
            throw new CheckpointException(file + ": file is " + size
                    + " bytes; a safetensors file starts with an 8-byte header length");
        }
        ByteBuffer lengthBytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(channel, lengthBytes, 0);
        long length = lengthBytes.getLong(0);
        if (length < 0 || length > size - 8) {
            throw new CheckpointException(file + ": header length " + Long.toUnsignedString(length)
                    + " is larger than the " + (size - 8) + " bytes after the length field (file truncated or not safetensors)");
        }
        if (length > MAX_HEADER_BYTES) {
            throw new CheckpointException(file + ": header length " + length + " exceeds the limit of "
                    + MAX_HEADER_BYTES + " bytes");
        }
        ByteBuffer headerBytes = ByteBuffer.allocate((int) length);
        readFully(channel, headerBytes, 8);
        headerBytes.flip();
        JsonNode root = parseJson(file, headerBytes);
        if (!root.isObject()) {
            throw new CheckpointException(file + ": header is a JSON " + root.getNodeType().name().toLowerCase()
                    + "; expected an object mapping tensor names to {dtype, shape, data_offsets}");
        }
        long dataStart = 8 + length;
        long dataSize = size - dataStart;
        Map<String, String> metadata = Map.of();
        List<Entry> entries = new ArrayList<>();
        for (Map.Entry<String, JsonNode> field : root.properties()) {
            if (field.getKey().equals(METADATA_KEY)) {
                metadata = metadata(file, field.getValue());
            } else {
                entries.add(entry(file, field.getKey(), field.getValue(), dataSize));
            }
        }
        checkOverlaps(file, entries);
        return new Header(List.copyOf(entries), metadata, dataStart);
    }

    private static JsonNode parseJson(Path file, ByteBuffer bytes) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(bytes)
                    .toString();
        } catch (CharacterCodingException e) {
            throw new CheckpointException(file + ": header is not valid UTF-8: " + e, e);
        }
        try {
            JsonNode root = JSON.readTree(text);
            if (root == null || root.isMissingNode()) {
                throw new CheckpointException(file + ": header is empty; expected a JSON object");
            }
            return root;
        } catch (JsonProcessingException e) {
            String at = e.getLocation() == null ? ""
                    : " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr();
            throw new CheckpointException(file + ": header is not valid JSON: " + e.getOriginalMessage() + at, e);
        }
    }

    private static Map<String, String> metadata(Path file, JsonNode node) {
        if (node.isNull()) {
            return Map.of();
        }
        if (!node.isObject()) {
            throw new CheckpointException(file + ": " + METADATA_KEY + " is a JSON "
                    + node.getNodeType().name().toLowerCase() + "; expected an object of string values");
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> field : node.properties()) {
            if (!field.getValue().isTextual()) {
                throw new CheckpointException(file + ": metadata key " + field.getKey() + " has a JSON "
                        + field.getValue().getNodeType().name().toLowerCase() + " value; metadata values must be strings");
            }
            metadata.put(field.getKey(), field.getValue().textValue());
        }
        return metadata;
    }

    private static Entry entry(Path file, String name, JsonNode node, long dataSize) {
        String where = file + ": tensor " + name + ": ";
        if (!node.isObject()) {
            throw new CheckpointException(where + "entry is a JSON " + node.getNodeType().name().toLowerCase()
                    + "; expected an object with dtype, shape and data_offsets");
        }
        for (Map.Entry<String, JsonNode> field : node.properties()) {
            String key = field.getKey();
            if (!ENTRY_KEYS.contains(key)) {
                throw new CheckpointException(where + "unknown key \"" + key + "\"; accepted keys are dtype, shape, data_offsets");
            }
        }
        JsonNode dtypeNode = required(where, node, DTYPE);
        DType dtype = dtypeNode.isTextual() ? DType.fromHeader(dtypeNode.textValue()).orElse(null) : null;
        if (dtype == null) {
            throw new CheckpointException(where + "unknown dtype " + dtypeNode + "; accepted: " + DType.accepted());
        }
        long[] shape = nonNegativeLongs(where, SHAPE, required(where, node, SHAPE), -1);
        long[] offsets = nonNegativeLongs(where, DATA_OFFSETS, required(where, node, DATA_OFFSETS), 2);
        long begin = offsets[0];
        long end = offsets[1];
        String range = "data_offsets [" + begin + ", " + end + "]";
        if (begin > end) {
            throw new CheckpointException(where + range + " end before they begin; expected [begin, end] with begin <= end");
        }
        if (end > dataSize) {
            throw new CheckpointException(where + range + " run past the end of the data region, which holds "
                    + dataSize + " bytes (file truncated?)");
        }
        long needed = Shapes.byteSize(shape, dtype.byteSize());
        String described = dtype + " " + Arrays.toString(shape);
        if (needed < 0) {
            throw new CheckpointException(where + described + " overflows a 64-bit byte count");
        }
        if (end - begin != needed) {
            throw new CheckpointException(where + range + " hold " + (end - begin) + " bytes but " + described
                    + " needs " + needed);
        }
        if (needed > Tensor.MAX_BYTES) {
            throw new CheckpointException(where + described + " is " + needed + " bytes; at most " + Tensor.MAX_BYTES
                    + " bytes per tensor are supported");
        }
        return new Entry(name, dtype, shape, begin, end);
    }

    private static JsonNode required(String where, JsonNode node, String key) {
        JsonNode value = node.get(key);
        if (value == null) {
            throw new CheckpointException(where + "\"" + key + "\" is missing; an entry needs dtype, shape and data_offsets");
        }
        return value;
    }

    /** Reads an array of non-negative integers; {@code count} is the required length, or -1 for any. */
    private static long[] nonNegativeLongs(String where, String key, JsonNode node, int count) {
        String expected = count < 0 ? "an array of non-negative integers" : "an array of " + count + " non-negative integers";
        if (!node.isArray() || (count >= 0 && node.size() != count)) {
            throw new CheckpointException(where + key + " is " + node + "; expected " + expected);
        }
        long[] values = new long[node.size()];
        for (int i = 0; i < values.length; i++) {
            JsonNode element = node.get(i);
            if (!element.isIntegralNumber() || !element.canConvertToLong() || element.longValue() < 0) {
                throw new CheckpointException(where + key + " is " + node + "; expected " + expected);
            }
            values[i] = element.longValue();
        }
        return values;
    }

    /** Tensors with data must occupy disjoint ranges; an empty tensor owns no bytes and never overlaps. */
    private static void checkOverlaps(Path file, List<Entry> entries) {
        List<Entry> byOffset = new ArrayList<>();
        for (Entry entry : entries) {
            if (entry.end > entry.begin) {
                byOffset.add(entry);
            }
        }
        byOffset.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        Entry furthest = null;
        for (Entry entry : byOffset) {
            if (furthest != null && entry.begin < furthest.end) {
                throw new CheckpointException(file + ": tensor " + entry.name + ": data_offsets [" + entry.begin + ", "
                        + entry.end + "] overlap those of tensor " + furthest.name + " [" + furthest.begin + ", "
                        + furthest.end + "]; tensors must occupy disjoint byte ranges");
            }
            if (furthest == null || entry.end > furthest.end) {
                furthest = entry;
            }
        }
    }

    private static void readFully(FileChannel channel, ByteBuffer target, long position) throws IOException {
        long at = position;
        while (target.hasRemaining()) {
            int read = channel.read(target, at);
            if (read < 0) {
                throw new EOFException("unexpected end of file at byte " + at);
            }
            at += read;
        }
    }
}
