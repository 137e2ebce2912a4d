package dev.manyfold.api.export;

import java.util.Map;
import java.util.Set;

/**
 * A checkpoint layout for {@code manyfold export --format NAME} of a masked run. The host
 * hands {@link #pack} every parameter of the full model with each mask folded into its weight
 * ({@code M⊙W}, exact zeros at pruned positions; masks themselves are not stored, adapters
 * are kept as their own tensors) together with the keep masks, and writes what it returns
 * as a safetensors file.
 *
 * <p>A format whose stored tensors are not the model's tensors ({@link #needsUnpack()})
 * is recorded in the file's metadata under {@link #METADATA}; every command that reads a
 * checkpoint then calls {@link #unpack} of the format of that name, so a packed file loads
 * like any other as long as its plugin is loaded.
 *
 * <p>Implementations must be stateless and thread-safe. Throw
 * {@link IllegalArgumentException} from {@code pack} for tensors the format cannot store
 * (naming the tensor), and from {@code unpack} for a malformed file.
 *
 * @since 1.1
 */
public interface ExportFormat {
    /** Checkpoint metadata key naming the format a file must be unpacked with. */
    String METADATA = "packed-format";

    /**
     * The tensors to store.
     *
     * @param tensors the full model's parameters, masks folded in, by name
     * @param masks the keep mask of each masked weight (row-major, one entry per element), by
     *     the weight's name; never empty
     */
    Map<String, StoredTensor> pack(Map<String, StoredTensor> tensors, Map<String, boolean[]> masks);

    /** Whether {@link #pack} changes tensors, so reading a file needs {@link #unpack}; false by default. */
    default boolean needsUnpack() {
        return false;
    }

    /** The model's tensors back from stored ones; the identity by default. */
    default Map<String, StoredTensor> unpack(Map<String, StoredTensor> stored) {
        return stored;
    }

    /**
     * Bytes the masked weights take in {@code stored} (for the export's size report); by
     * default the bytes of the tensors named in {@code maskedWeights}.
     */
    default long maskedBytes(Map<String, StoredTensor> stored, Set<String> maskedWeights) {
        long bytes = 0;
        for (String name : maskedWeights) {
            StoredTensor t = stored.get(name);
            bytes += t == null ? 0 : t.data().length;
        }
        return bytes;
    }
}
