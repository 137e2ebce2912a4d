package dev.manyfold.runtime.checkpoint;

import dev.manyfold.api.export.ExportFormat;
import dev.manyfold.api.export.StoredTensor;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * The bridge between checkpoint {@link Tensor}s and the API's {@link StoredTensor}s for
 * plugin-contributed {@link ExportFormat}s: packing before a write, unpacking a file whose
 * metadata names its format ({@link ExportFormat#METADATA}) on read.
 */
public final class StoredFormats {
    private StoredFormats() {}

    /** Copies of {@code tensors} as the API sees them. */
    public static Map<String, StoredTensor> toStored(Map<String, Tensor> tensors) {
        Map<String, StoredTensor> out = new LinkedHashMap<>();
        for (Tensor t : tensors.values()) {
            ByteBuffer b = t.data();
            byte[] bytes = new byte[b.remaining()];
            b.get(bytes);
            out.put(t.name(), new StoredTensor(t.name(), t.dtype().name(), t.shape(), bytes));
        }
        return out;
    }

    /**
     * Checkpoint tensors from a format's output.
     *
     * @param who the format, for errors
     * @throws IllegalStateException when a tensor has a dtype safetensors does not know or bytes that do not fit its shape
     */
    public static Map<String, Tensor> fromStored(Map<String, StoredTensor> stored, String who) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (StoredTensor t : stored.values()) {
            DType dtype = DType.fromHeader(t.dtype()).orElseThrow(() -> new IllegalStateException(
                    who + " returned tensor " + t.name() + " with unknown dtype \"" + t.dtype() + "\""));
            try {
                out.put(t.name(), Tensor.of(t.name(), dtype, t.shape(), t.data()));
            } catch (IllegalArgumentException e) {
                throw new IllegalStateException(who + " returned an invalid tensor: " + e.getMessage(), e);
            }
        }
        return out;
    }

    /**
     * The checkpoint with its tensors unpacked when its metadata names a format (itself otherwise).
     *
     * @param formats the loaded formats by name (empty when none has the name)
     * @throws CheckpointException when the named format is not loaded or refuses the file
     */
    public static Checkpoint unpack(Checkpoint checkpoint, Function<String, Optional<ExportFormat>> formats) {
        String name = checkpoint.metadata().get(ExportFormat.METADATA);
        if (name == null) {
            return checkpoint;
        }
        ExportFormat format = formats.apply(name).orElseThrow(() -> new CheckpointException(checkpoint.file()
                + " is stored in export format \"" + name + "\", which no loaded plugin provides (see `manyfold plugins`)"));
        try {
            return new Checkpoint(checkpoint.file(), fromStored(format.unpack(toStored(checkpoint.tensors())), "export format " + name),
                    checkpoint.metadata());
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(checkpoint.file() + " (export format " + name + "): " + e.getMessage());
        }
    }
}
