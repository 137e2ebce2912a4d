package dev.manyfold.runtime.job;

import static java.util.Objects.requireNonNull;

import dev.manyfold.api.ConfigException;
import dev.manyfold.runtime.checkpoint.Checkpoint;
import dev.manyfold.runtime.checkpoint.CheckpointStore;
import dev.manyfold.runtime.recipe.Recipe;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Stream;

/**
 * A run directory held by one process. {@link #open} takes an exclusive lock on
 * {@value #LOCK} (an OS file lock, released when the process ends however it ends, so a
 * kill -9 leaves no stale lock; the holder's pid is written inside for the message), then
 * checks what the directory may be used for:
 * <ul>
 *   <li>{@link Mode#NEW}: the directory must be missing or empty;</li>
 *   <li>{@link Mode#OVERWRITE}: existing contents are moved aside to a sibling
 *       {@code <dir>.replaced-<timestamp>} directory, nothing is deleted;</li>
 *   <li>{@link Mode#RESUME}: the directory must hold a checkpoint and a {@code recipe.yaml}
 *       equal (as data) to the recipe given, checked before anything is written.</li>
 * </ul>
 * Leftover {@code .*.tmp} files of a killed atomic write are removed. Close to release the lock.
 */
public final class RunDirectory implements AutoCloseable {
    /** The lock file inside a run directory. */
    public static final String LOCK = ".lock";
    /** The recipe copy inside a run directory. */
    public static final String RECIPE = "recipe.yaml";
    /** The metrics file inside a run directory. */
    public static final String METRICS = "metrics.jsonl";

    /** How a run directory is to be used. */
    public enum Mode {
        NEW, RESUME, OVERWRITE
    }

    private final Path directory;
    private final FileChannel channel;
    private final FileLock lock;
    private Path movedAside;
    private boolean created;

    private RunDirectory(Path directory, FileChannel channel, FileLock lock) {
        this.directory = directory;
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Locks {@code directory} (created when missing) and checks it for {@code mode}.
     *
     * @throws ConfigException when the directory is a file, is in use, holds a run that
     *     {@code mode} may not replace, or (resume) holds a different recipe or no checkpoint
     */
    public static RunDirectory open(Path directory, Mode mode, Recipe recipe) {
        requireNonNull(directory, "directory is null");
        requireNonNull(mode, "mode is null");
        requireNonNull(recipe, "recipe is null");
        String where = directory.toString();
        if (Files.exists(directory) && !Files.isDirectory(directory)) {
            throw new ConfigException(where, "the run directory is an existing file, not a directory", "a new or existing directory");
        }
        if (mode == Mode.RESUME && !Files.isDirectory(directory)) {
            throw new ConfigException(where, "no run directory to resume", "the run directory of an earlier train");
        }
        boolean created = !Files.exists(directory);
        try {
            Files.createDirectories(directory);
        } catch (IOException e) {
            throw new ConfigException(where, "cannot create the run directory: " + e.getMessage(), "a writable directory");
        }
        RunDirectory run = lock(directory);
        run.created = created;
        try {
            removeTemporaryFiles(directory);
            switch (mode) {
                case NEW -> {
                    List<String> used = contents(directory);
                    if (!used.isEmpty()) {
                        throw new ConfigException(where, "the directory already holds a run (" + summary(used) + ")",
                                "--resume to continue it, --overwrite to move its contents aside, or another --run-dir");
                    }
                }
                case OVERWRITE -> run.movedAside = moveAside(directory);
                case RESUME -> checkResumable(directory, recipe);
                default -> throw new IllegalStateException(mode.toString());
            }
            return run;
        } catch (RuntimeException e) {
            run.close();
            throw e;
        }
    }

    /** Where {@link Mode#OVERWRITE} moved the previous contents, if there were any. */
    public java.util.Optional<Path> movedAside() {
        return java.util.Optional.ofNullable(movedAside);
    }

    /** The directory. */
    public Path directory() {
        return directory;
    }

    /** Writes the recipe copy ({@value #RECIPE}). */
    public void writeRecipe(Recipe recipe) {
        try {
            Files.writeString(directory.resolve(RECIPE), recipe.toYaml());
        } catch (IOException e) {
            throw new ConfigException(directory.resolve(RECIPE).toString(), "cannot write the recipe copy: " + e.getMessage(),
                    "a writable run directory with free space");
        }
    }

    /** Releases the lock; a directory this run created and left empty is removed again. */
    @Override
    public void close() {
        try {
            if (created && lock.isValid() && contents(directory).isEmpty()) {
                Files.deleteIfExists(directory.resolve(LOCK));
                Files.deleteIfExists(directory);
            }
        } catch (IOException | RuntimeException ignored) {
            // an empty directory left behind is harmless
        }
        try {
            if (lock.isValid()) {
                lock.release();
            }
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot release " + directory.resolve(LOCK), e);
        }
    }

    private static RunDirectory lock(Path directory) {
        Path file = directory.resolve(LOCK);
        FileChannel channel;
        try {
            if (Files.exists(file, LinkOption.NOFOLLOW_LINKS) && !Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
                throw new ConfigException(file.toString(), "the lock file is not a regular file", "a run directory made by manyfold train");
            }
            channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE,
                    LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            throw new ConfigException(directory.toString(), "cannot create the lock file " + LOCK + ": " + e.getMessage(),
                    "a writable directory");
        }
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null; // held by this JVM
        } catch (IOException e) {
            closeQuietly(channel);
            throw new ConfigException(directory.toString(), "cannot lock the run directory: " + e.getMessage(), "a writable directory");
        }
        if (lock == null) {
            String holder = holder(file);
            closeQuietly(channel);
            throw new ConfigException(directory.toString(), "the run directory is in use by process " + holder + " (lock " + file + ")",
                    "wait for that run to finish, or use another --run-dir");
        }
        try {
            channel.truncate(0);
            channel.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
            channel.force(false);
        } catch (IOException e) {
            closeQuietly(channel);
            throw new ConfigException(file.toString(), "cannot write the lock file: " + e.getMessage(), "a writable directory");
        }
        return new RunDirectory(directory, channel, lock);
    }

    private static String holder(Path lockFile) {
        try (FileChannel read = FileChannel.open(lockFile, StandardOpenOption.READ)) {
            ByteBuffer buffer = ByteBuffer.allocate(32);
            read.read(buffer, 0);
            String pid = new String(buffer.array(), 0, buffer.position(), StandardCharsets.US_ASCII).strip();
            return pid.matches("[0-9]{1,19}") ? pid : "(unknown pid)";
        } catch (IOException e) {
            return "(unknown pid)";
        }
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // already failing
        }
    }

    /** Entries other than the lock file, sorted. */
    private static List<String> contents(Path directory) {
        try (Stream<Path> entries = Files.list(directory)) {
            return entries.map(p -> p.getFileName().toString()).filter(n -> !n.equals(LOCK)).sorted().toList();
        } catch (IOException e) {
            throw new ConfigException(directory.toString(), "cannot list the run directory: " + e.getMessage(), "a readable directory");
        }
    }

    private static String summary(List<String> names) {
        return names.size() <= 4 ? String.join(", ", names) : String.join(", ", names.subList(0, 4)) + " and " + (names.size() - 4) + " more";
    }

    private static void removeTemporaryFiles(Path directory) {
        try (Stream<Path> entries = Files.list(directory)) {
            for (Path p : (Iterable<Path>) entries::iterator) {
                String name = p.getFileName().toString();
                if (name.startsWith(".") && name.endsWith(".tmp") && Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                    Files.deleteIfExists(p);
                }
            }
        } catch (IOException e) {
            throw new ConfigException(directory.toString(), "cannot clean leftover temporary files: " + e.getMessage(), "a writable directory");
        }
    }

    private static Path moveAside(Path directory) {
        List<String> used = contents(directory);
        if (used.isEmpty()) {
            return null;
        }
        Path absolute = directory.toAbsolutePath().normalize();
        String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        Path aside = absolute.resolveSibling(absolute.getFileName() + ".replaced-" + stamp);
        for (int i = 2; Files.exists(aside); i++) {
            aside = absolute.resolveSibling(absolute.getFileName() + ".replaced-" + stamp + "-" + i);
        }
        try {
            Files.createDirectory(aside);
            for (String name : used) {
                Files.move(absolute.resolve(name), aside.resolve(name));
            }
        } catch (IOException e) {
            throw new ConfigException(directory.toString(), "cannot move the old run aside to " + aside + ": " + e.getMessage(),
                    "a writable directory");
        }
        return aside;
    }

    private static void checkResumable(Path directory, Recipe recipe) {
        Path latest = CheckpointStore.keepingAll().latest(directory).orElseThrow(() -> new ConfigException(directory.toString(),
                "no checkpoint to resume from", "a run directory with a checkpoint"));
        Path stored = directory.resolve(RECIPE);
        Recipe before;
        if (Files.isRegularFile(stored)) {
            before = Recipe.load(stored);
        } else {
            String yaml = Checkpoint.load(latest).metadata().get(Checkpoint.RECIPE);
            if (yaml == null) {
                return; // a bare checkpoint: nothing to compare with
            }
            before = Recipe.parse(yaml, latest + "#recipe");
        }
        String difference = difference("", before.asMap(), recipe.asMap());
        if (difference != null) {
            throw new ConfigException(recipe.source(), "the recipe differs from the one the run in " + directory + " was started with ("
                    + difference + ")", "the same recipe to --resume, or a new --run-dir for a changed recipe");
        }
    }

    /** The first key path where two recipe trees differ, or null when equal. */
    static String difference(String path, Object a, Object b) {
        if (a instanceof Map<?, ?> ma && b instanceof Map<?, ?> mb) {
            List<Object> keys = new ArrayList<>(ma.keySet());
            mb.keySet().stream().filter(k -> !ma.containsKey(k)).forEach(keys::add);
            for (Object k : keys) {
                String d = difference(path.isEmpty() ? k.toString() : path + "." + k, ma.get(k), mb.get(k));
                if (d != null) {
                    return d;
                }
            }
            return null;
        }
        if (a instanceof List<?> la && b instanceof List<?> lb && la.size() == lb.size()) {
            for (int i = 0; i < la.size(); i++) {
                String d = difference(path + "[" + i + "]", la.get(i), lb.get(i));
                if (d != null) {
                    return d;
                }
            }
            return null;
        }
        if (Objects.equals(a, b) || a instanceof Number x && b instanceof Number y && x.doubleValue() == y.doubleValue()) {
            return null;
        }
        return (path.isEmpty() ? "the recipe" : path) + " was " + (a == null ? "absent" : a) + ", now " + (b == null ? "absent" : b);
    }

    /**
     * Refuses an output file that would replace a part of a run: a checkpoint, the
     * {@value CheckpointStore#LATEST} pointer, {@value #RECIPE}, {@value #METRICS} or the
     * lock, in a directory that holds a run.
     *
     * Also refuses the {@code input} file itself.
     *
     * @param option the option naming the file, e.g. {@code --out}
     */
    public static void checkOutsideRun(Path output, Path input, String option) {
        Path out = output.toAbsolutePath().normalize();
        if (out.equals(input.toAbsolutePath().normalize()) || Files.isSymbolicLink(out)) {
            throw new ConfigException(option, output + " is the input or a symbolic link; writing it would replace what is read",
                    "a new output file");
        }
        Path parent = out.getParent();
        Path name = output.getFileName();
        if (parent == null || name == null) {
            return;
        }
        boolean isRun = Files.exists(parent.resolve(CheckpointStore.LATEST)) || Files.exists(parent.resolve(RECIPE))
                || !CheckpointStore.keepingAll().checkpoints(parent).isEmpty();
        String n = name.toString();
        boolean runFile = CheckpointStore.stepOf(name).isPresent() || n.equals(CheckpointStore.LATEST) || n.equals(RECIPE)
                || n.equals(METRICS) || n.equals(LOCK);
        if (isRun && runFile) {
            throw new ConfigException(option, output + " would replace a file of the run in " + parent,
                    "an output path that is not a run's checkpoint, latest pointer, recipe.yaml or metrics.jsonl");
        }
    }
}
