package dev.manyfold.runtime.checkpoint;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The checkpoints of one run directory: {@code checkpoint-<step>.safetensors} files (step
 * in decimal, no padding) and a {@value #LATEST} pointer file holding the file name of the
 * newest one. Both are replaced atomically, so a crash at any point leaves the previous
 * checkpoint and a pointer to a complete file. Optionally keeps only the newest N
 * checkpoints. Stateless apart from the retention policy; safe to share.
 */
public final class CheckpointStore {
    /** The name of the pointer file in the run directory. */
    public static final String LATEST = "latest";

    private static final Logger LOG = LoggerFactory.getLogger(CheckpointStore.class);
    private static final Pattern FILE_NAME = Pattern.compile("checkpoint-(0|[1-9][0-9]{0,18})\\.safetensors");
    private static final long MAX_POINTER_BYTES = 4096;

    private final int keepLast;

    private CheckpointStore(int keepLast) {
        this.keepLast = keepLast;
    }

    /** A store that never deletes checkpoints. */
    public static CheckpointStore keepingAll() {
        return new CheckpointStore(0);
    }

    /**
     * A store that, after each save, deletes older checkpoints so that the one just saved
     * and the {@code count - 1} next-highest steps below it remain. Checkpoints with a higher
     * step than the one saved (left by an abandoned branch of the run) are never deleted.
     *
     * @param count at least 1
     */
    public static CheckpointStore keepingLast(int count) {
        if (count < 1) {
            throw new IllegalArgumentException("keep-last count is " + count + "; expected at least 1");
        }
        return new CheckpointStore(count);
    }

    /** {@code checkpoint-<step>.safetensors}. */
    public static String fileName(long step) {
        checkStep(step);
        return "checkpoint-" + step + ".safetensors";
    }

    /**
     * Writes {@code runDir/checkpoint-<step>.safetensors} atomically (see
     * {@link SafeTensors#write}), then atomically points {@value #LATEST} at it, then prunes.
     * Creates {@code runDir} if needed. The metadata gets {@link Checkpoint#STEP} set to
     * {@code step} unless it already holds that value.
     *
     * @return the checkpoint file written
     * @throws IllegalArgumentException when {@code step} is negative or the metadata holds a different step
     * @throws CheckpointException when writing fails; the previous checkpoint and pointer are then intact
     */
    public Path save(Path runDir, long step, Map<String, Tensor> tensors, Map<String, String> metadata) {
        requireNonNull(runDir, "runDir is null");
        requireNonNull(tensors, "tensors is null");
        requireNonNull(metadata, "metadata is null");
        checkStep(step);
        Map<String, String> withStep = new TreeMap<>(metadata);
        String stored = withStep.putIfAbsent(Checkpoint.STEP, Long.toString(step));
        if (stored != null && !stored.equals(Long.toString(step))) {
            throw new IllegalArgumentException("metadata " + Checkpoint.STEP + " is \"" + stored
                    + "\" but the checkpoint is saved as step " + step);
        }
        try {
            Files.createDirectories(runDir);
        } catch (IOException e) {
            throw new CheckpointException(runDir + ": could not create the run directory: " + e, e);
        }
        Path file = runDir.resolve(fileName(step));
        SafeTensors.write(file, tensors, withStep);
        Path pointer = runDir.resolve(LATEST);
        byte[] content = (file.getFileName() + "\n").getBytes(StandardCharsets.UTF_8);
        try {
            AtomicFiles.write(pointer, channel -> {
                ByteBuffer bytes = ByteBuffer.wrap(content);
                while (bytes.hasRemaining()) {
                    channel.write(bytes);
                }
            });
        } catch (IOException e) {
            throw new CheckpointException(pointer + ": wrote " + file.getFileName()
                    + " but could not update the latest pointer: " + e, e);
        }
        prune(runDir, step);
        return file;
    }

    /**
     * The newest valid checkpoint of {@code runDir}: the file named by {@value #LATEST} when
     * that names a {@code checkpoint-<step>.safetensors} file in {@code runDir} whose header
     * is valid; otherwise (no pointer, or a damaged pointer or file) the valid checkpoint with
     * the highest step. Empty when the directory holds no valid checkpoint or does not exist.
     */
    public Optional<Path> latest(Path runDir) {
        requireNonNull(runDir, "runDir is null");
        if (!Files.isDirectory(runDir)) {
            return Optional.empty();
        }
        Optional<Path> pointed = pointedTo(runDir);
        if (pointed.isPresent() && isValid(pointed.get())) {
            return pointed;
        }
        List<Path> files = checkpoints(runDir);
        for (int i = files.size() - 1; i >= 0; i--) {
            if (isValid(files.get(i))) {
                return Optional.of(files.get(i));
            }
        }
        return Optional.empty();
    }

    /** Reads {@link #latest}, if there is one. */
    public Optional<Checkpoint> loadLatest(Path runDir) {
        return latest(runDir).map(SafeTensors::read);
    }

    /**
     * The {@code checkpoint-<step>.safetensors} files of {@code runDir} by ascending step,
     * without validating them; empty when the directory does not exist.
     */
    public List<Path> checkpoints(Path runDir) {
        requireNonNull(runDir, "runDir is null");
        if (!Files.isDirectory(runDir)) {
            return List.of();
        }
        List<Path> files = new ArrayList<>();
        try (Stream<Path> entries = Files.list(runDir)) {
            entries.filter(path -> stepOf(path).isPresent() && Files.isRegularFile(path)).forEach(files::add);
        } catch (IOException e) {
            throw new CheckpointException(runDir + ": could not list checkpoints: " + e, e);
        }
        files.sort(Comparator.comparingLong(path -> stepOf(path).getAsLong()));
        return List.copyOf(files);
    }

    /** The step in a {@code checkpoint-<step>.safetensors} file name, if the name has that form. */
    public static OptionalLong stepOf(Path file) {
        requireNonNull(file, "file is null");
        Path name = file.getFileName();
        Matcher matcher = name == null ? null : FILE_NAME.matcher(name.toString());
        if (matcher == null || !matcher.matches()) {
            return OptionalLong.empty();
        }
        try {
            return OptionalLong.of(Long.parseLong(matcher.group(1)));
        } catch (NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    private Optional<Path> pointedTo(Path runDir) {
        Path pointer = runDir.resolve(LATEST);
        try {
            if (!Files.isRegularFile(pointer)) {
                return Optional.empty();
            }
            if (Files.size(pointer) > MAX_POINTER_BYTES) {
                LOG.warn("ignoring {}: {} bytes is too large for a checkpoint file name", pointer, Files.size(pointer));
                return Optional.empty();
            }
            String name = Files.readString(pointer, StandardCharsets.UTF_8).strip();
            if (!FILE_NAME.matcher(name).matches()) {
                LOG.warn("ignoring {}: \"{}\" is not a checkpoint-<step>.safetensors file name", pointer, name);
                return Optional.empty();
            }
            return Optional.of(runDir.resolve(name));
        } catch (IOException | RuntimeException e) {
            LOG.warn("ignoring {}: {}", pointer, e.toString());
            return Optional.empty();
        }
    }

    private static boolean isValid(Path file) {
        try {
            SafeTensors.validate(file);
            return true;
        } catch (CheckpointException e) {
            LOG.warn("skipping invalid checkpoint: {}", e.getMessage());
            return false;
        }
    }

    private void prune(Path runDir, long savedStep) {
        if (keepLast == 0) {
            return;
        }
        List<Path> older = new ArrayList<>();
        for (Path file : checkpoints(runDir)) {
            if (stepOf(file).getAsLong() < savedStep) {
                older.add(file);
            }
        }
        int keepOlder = keepLast - 1;
        for (int i = 0; i < older.size() - keepOlder; i++) {
            try {
                Files.deleteIfExists(older.get(i));
            } catch (IOException e) {
                LOG.warn("could not delete old checkpoint {}: {}", older.get(i), e.toString());
            }
        }
    }

    private static void checkStep(long step) {
        if (step < 0) {
            throw new IllegalArgumentException("step is " + step + "; expected a non-negative step");
        }
    }
}
