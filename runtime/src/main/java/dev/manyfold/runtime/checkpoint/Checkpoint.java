package dev.manyfold.runtime.checkpoint;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * A checkpoint file as read by {@link SafeTensors#read}: its tensors by name (sorted) and
 * its string metadata. A run stores its recipe YAML under {@link #RECIPE}, the training step
 * under {@link #STEP} and the layout version under {@link #FORMAT_VERSION}. Immutable; the
 * tensors' data is memory-mapped from the file and copied only when asked for.
 */
public final class Checkpoint {
    /** Metadata key of the recipe YAML the run was started with. */
    public static final String RECIPE = "recipe";
    /** Metadata key of the optimiser step, a non-negative decimal integer. */
    public static final String STEP = "step";
    /** Metadata key of the checkpoint layout version. */
    public static final String FORMAT_VERSION = "format-version";

    private static final int NAMES_IN_MESSAGES = 20;

    private final Path file;
    private final Map<String, Tensor> tensors;
    private final Map<String, String> metadata;

    Checkpoint(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) {
        this.file = requireNonNull(file, "file is null");
        this.tensors = Collections.unmodifiableMap(new TreeMap<>(requireNonNull(tensors, "tensors is null")));
        this.metadata = Collections.unmodifiableMap(new TreeMap<>(requireNonNull(metadata, "metadata is null")));
    }

    /**
     * Same as {@link SafeTensors#read}, for files in the model's own layout.
     *
     * @throws CheckpointException when the file is stored in a plugin's export format
     *     ({@link dev.manyfold.api.export.ExportFormat#METADATA}); read those with {@link #load(Path, java.util.function.Function)}
     */
    public static Checkpoint load(Path file) {
        return load(file, name -> Optional.empty());
    }

    /**
     * Same as {@link SafeTensors#read}; a file stored in an export format (e.g. the AST
     * plugin's packed 2:4) comes back unpacked by that format.
     *
     * @param formats the loaded export formats by name, e.g. {@code host.extensions()::exportFormat}
     */
    public static Checkpoint load(Path file, java.util.function.Function<String, Optional<dev.manyfold.api.export.ExportFormat>> formats) {
        return StoredFormats.unpack(SafeTensors.read(file), formats);
    }

    /** The file this checkpoint was read from. */
    public Path file() {
        return file;
    }

    /** All tensors, by name in sorted order; unmodifiable. */
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    /**
     * The tensor called {@code name}.
     *
     * @throws CheckpointException when there is none; the message lists the names there are
     */
    public Tensor tensor(String name) {
        requireNonNull(name, "name is null");
        Tensor tensor = tensors.get(name);
        if (tensor == null) {
            throw new CheckpointException(file + ": no tensor " + name + "; the checkpoint holds " + tensors.size()
                    + " tensors: " + abbreviated(tensors.keySet()));
        }
        return tensor;
    }

    /** All metadata, by key in sorted order; unmodifiable. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** The metadata value under {@code key}, if any. */
    public Optional<String> metadata(String key) {
        return Optional.ofNullable(metadata.get(requireNonNull(key, "key is null")));
    }

    /**
     * The step stored under {@link #STEP}, if present.
     *
     * @throws CheckpointException when the value is not a non-negative decimal integer
     */
    public OptionalLong step() {
        String value = metadata.get(STEP);
        if (value == null) {
            return OptionalLong.empty();
        }
        try {
            long step = Long.parseLong(value);
            if (step >= 0) {
                return OptionalLong.of(step);
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new CheckpointException(file + ": metadata " + STEP + " is \"" + value
                + "\"; expected a non-negative decimal integer");
    }

    /**
     * The differences between this checkpoint and a model's parameters: one line per
     * missing tensor, unexpected tensor and shape mismatch, in that order, each sorted by
     * name; empty when every expected tensor is present with its shape and nothing else is.
     *
     * @param expectedShapes parameter name to shape ({@code []} for a scalar)
     */
    public List<String> mismatches(Map<String, long[]> expectedShapes) {
        requireNonNull(expectedShapes, "expectedShapes is null");
        TreeMap<String, long[]> expected = new TreeMap<>();
        expectedShapes.forEach((name, shape) -> expected.put(requireNonNull(name, "expected tensor name is null"),
                requireNonNull(shape, () -> "expected shape of " + name + " is null")));
        List<String> missing = new ArrayList<>();
        List<String> shapes = new ArrayList<>();
        expected.forEach((name, shape) -> {
            Tensor tensor = tensors.get(name);
            if (tensor == null) {
                missing.add("missing tensor " + name + " (expected shape " + Arrays.toString(shape) + ")");
            } else if (!Arrays.equals(shape, tensor.shape())) {
                shapes.add("tensor " + name + ": expected shape " + Arrays.toString(shape) + " but found "
                        + Arrays.toString(tensor.shape()) + " (" + tensor.dtype() + ")");
            }
        });
        List<String> problems = new ArrayList<>(missing);
        tensors.values().stream()
                .filter(tensor -> !expected.containsKey(tensor.name()))
                .map(tensor -> "unexpected tensor " + tensor.name() + " " + tensor.dtype() + " "
                        + Arrays.toString(tensor.shape()))
                .forEach(problems::add);
        problems.addAll(shapes);
        return List.copyOf(problems);
    }

    /**
     * Checks that this checkpoint holds exactly the expected tensors with the expected shapes.
     *
     * @throws CheckpointException listing every {@link #mismatches mismatch} when there is any
     */
    public void validateAgainst(Map<String, long[]> expectedShapes) {
        List<String> problems = mismatches(expectedShapes);
        if (!problems.isEmpty()) {
            throw new CheckpointException(file + ": checkpoint does not match the model (" + problems.size()
                    + (problems.size() == 1 ? " problem" : " problems") + "):\n  "
                    + String.join("\n  ", problems));
        }
    }

    @Override
    public String toString() {
        return "Checkpoint[" + file + ", " + tensors.size() + " tensors, metadata " + metadata.keySet() + "]";
    }

    private static String abbreviated(Collection<String> names) {
        String shown = names.stream().limit(NAMES_IN_MESSAGES).collect(Collectors.joining(", "));
        return names.size() > NAMES_IN_MESSAGES ? shown + ", ..." : shown;
    }
}
