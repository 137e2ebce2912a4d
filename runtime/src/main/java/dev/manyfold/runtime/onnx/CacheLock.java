package dev.manyfold.runtime.onnx;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The exclusive lock of an ONNX cache directory ({@code RUN/onnx/}) while it is restamped or a
 * graph is exported into it: one thread of this JVM at a time, and one process at a time
 * through an OS file lock on {@value #FILE} in the directory (Spark executors on several
 * machines exporting the same run's cache on a shared file system). Reentrant for the thread
 * holding it.
 */
final class CacheLock implements AutoCloseable {
    /** The lock file in the cache directory (never a graph: it does not end in .onnx). */
    static final String FILE = ".manyfold-cache.lock";
    private static final ConcurrentHashMap<Path, ReentrantLock> IN_JVM = new ConcurrentHashMap<>();

    private final ReentrantLock jvm;
    private final FileChannel channel;
    private final FileLock lock;

    private CacheLock(ReentrantLock jvm, FileChannel channel, FileLock lock) {
        this.jvm = jvm;
        this.channel = channel;
        this.lock = lock;
    }

    /** Waits for the lock of {@code dir} (which must exist). */
    static CacheLock acquire(Path dir) throws IOException {
        Path key = dir.toAbsolutePath().normalize();
        ReentrantLock jvm = IN_JVM.computeIfAbsent(key, k -> new ReentrantLock());
        boolean nested = jvm.isHeldByCurrentThread();
        jvm.lock();
        if (nested) {
            return new CacheLock(jvm, null, null);
        }
        FileChannel channel = null;
        try {
            channel = FileChannel.open(key.resolve(FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            return new CacheLock(jvm, channel, channel.lock());
        } catch (IOException | RuntimeException e) {
            if (channel != null) {
                channel.close();
            }
            jvm.unlock();
            throw e;
        }
    }

    @Override
    public void close() throws IOException {
        try {
            if (channel != null) {
                try {
                    lock.release();
                } finally {
                    channel.close();
                }
            }
        } finally {
            jvm.unlock();
        }
    }
}
