package dev.manyfold.spark;

import dev.manyfold.runtime.host.Manyfold;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * What an executor JVM loads once and shares between its tasks: models, tokenizers and
 * validation data, keyed by what they were loaded from (path, engine, plugin directories).
 * Tasks of the same job on the same executor, and later jobs naming the same path, reuse
 * the loaded value; nothing is serialized from the driver but the path.
 *
 * <p>Thread-safe: concurrent tasks asking for the same key wait for one load. A load that
 * fails is not cached, so a retried task tries again.
 */
public final class ExecutorModels {
    private static final ConcurrentHashMap<String, Object> CACHE = new ConcurrentHashMap<>();
    private static final ConcurrentHashMap<String, AtomicInteger> LOADS = new ConcurrentHashMap<>();

    private ExecutorModels() {}

    /** The value cached under {@code key}, loading it on first use. */
    @SuppressWarnings("unchecked")
    static <T> T get(String key, Supplier<T> loader) {
        return (T) CACHE.computeIfAbsent(key, k -> {
            LOADS.computeIfAbsent(k, x -> new AtomicInteger()).incrementAndGet();
            return loader.get();
        });
    }

    /** How many times this JVM has loaded something for a job kind ({@code eval}, {@code generate}) from {@code path}. */
    public static int loads(String kind, String path) {
        return LOADS.entrySet().stream().filter(e -> e.getKey().startsWith(kind + "|" + path + "|"))
                .mapToInt(e -> e.getValue().get()).sum();
    }

    /** A host with the plugins of {@code pluginDirs} (and the class path's). */
    static Manyfold host(List<String> pluginDirs) {
        Manyfold.Builder builder = Manyfold.builder();
        pluginDirs.forEach(d -> builder.pluginDir(Path.of(d)));
        return builder.build();
    }
}
