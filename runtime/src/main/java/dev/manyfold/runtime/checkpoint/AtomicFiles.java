package dev.manyfold.runtime.checkpoint;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Replaces a file all at once: the content goes to a hidden temporary file in the same
 * directory ({@code .<name>.<random>.tmp}), is forced to disk, and is then renamed over the
 * target. A reader sees the old file or the new one, never a mix; on failure the temporary
 * file is deleted and the target is untouched.
 */
public final class AtomicFiles {
    static final String TEMP_SUFFIX = ".tmp";

    /** Writes the whole content to an open channel positioned at 0. */
    @FunctionalInterface
    interface Content {
        void writeTo(FileChannel channel) throws IOException;
    }

    private AtomicFiles() {}

    static void write(Path target, Content content) throws IOException {
        Path absolute = target.toAbsolutePath();
        Path directory = absolute.getParent();
        Path temp = null;
        boolean moved = false;
        try {
            temp = createTemp(directory, absolute.getFileName().toString());
            try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.WRITE)) {
                content.writeTo(channel);
                channel.force(true);
            }
            move(temp, absolute);
            moved = true;
        } finally {
            if (temp != null && !moved) {
                deleteQuietly(temp);
            }
        }
        syncDirectory(directory);
    }

    /** Replaces {@code target} with {@code bytes} all at once (see the class comment). */
    public static void write(Path target, byte[] bytes) throws IOException {
        write(target, channel -> {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                channel.write(b);
            }
        });
    }

    static boolean isTemp(Path file) {
        String name = file.getFileName().toString();
        return name.startsWith(".") && name.endsWith(TEMP_SUFFIX);
    }

    private static Path createTemp(Path directory, String name) throws IOException {
        for (int attempt = 0; ; attempt++) {
            String random = Long.toHexString(ThreadLocalRandom.current().nextLong());
            Path temp = directory.resolve("." + name + "." + random + TEMP_SUFFIX);
            try {
                return Files.createFile(temp);
            } catch (FileAlreadyExistsException e) {
                if (attempt >= 10) {
                    throw e;
                }
            }
        }
    }

    private static void move(Path temp, Path target) throws IOException {
        try {
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static void deleteQuietly(Path temp) {
        try {
            Files.deleteIfExists(temp);
        } catch (IOException | RuntimeException ignored) {
            // the original failure matters more; a leftover hidden temp file is harmless
        }
    }

    /** Makes the rename durable; not every platform can open a directory, so failures are ignored. */
    private static void syncDirectory(Path directory) {
        try (FileChannel channel = FileChannel.open(directory, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException | RuntimeException ignored) {
            // best effort
        }
    }
}
