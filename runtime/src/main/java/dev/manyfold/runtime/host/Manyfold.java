package dev.manyfold.runtime.host;

import static java.util.Objects.requireNonNull;

import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Module;
import dev.manyfold.api.Plugin;
import dev.manyfold.api.PluginDescriptor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The Manyfold host: loads plugins, binds their factories with Guice and resolves recipe
 * names to them. Build one with {@link #builder()}; close it to release plugin class
 * loaders. No static state: several hosts may live in one JVM.
 *
 * <pre>{@code
 * try (Manyfold host = Manyfold.builder().pluginDir(Path.of("plugins")).build()) {
 *     host.extensions().dimensions().keySet();
 * }
 * }</pre>
 */
public final class Manyfold implements AutoCloseable {
    private final List<PluginRecord> records;
    private final ManyfoldModule module;
    private final Injector injector;
    private final List<PluginLoader.URLClassLoaderHolder> loaders;

    private Manyfold(PluginLoader loader) {
        this.records = loader.records();
        this.module = new ManyfoldModule(loader.factories(), records);
        this.injector = Guice.createInjector(module);
        this.loaders = List.copyOf(loader.loaders());
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Every plugin the host tried to load, loaded or refused, in load order. */
    public List<PluginRecord> plugins() {
        return records;
    }

    /** The contributed factories by kind and name. */
    public Extensions extensions() {
        return injector.getInstance(Extensions.class);
    }

    /** The host's injector. */
    public Injector injector() {
        return injector;
    }

    /**
     * The Guice module binding the loaded contributions ({@code Map<String, DimensionFactory>}
     * and the other maps, {@link Extensions}); install it into a platform's own injector.
     */
    public Module module() {
        return module;
    }

    @Override
    public void close() {
        for (PluginLoader.URLClassLoaderHolder holder : loaders) {
            try {
                holder.loader().close();
            } catch (IOException ignored) {
                // closing a URLClassLoader only releases jar handles
            }
        }
    }

    /** Configures where plugins come from. */
    public static final class Builder {
        private final List<Path> pluginDirs = new ArrayList<>();
        private final List<Object[]> instances = new ArrayList<>();
        private boolean classpath = true;
        private ClassLoader hostLoader = Manyfold.class.getClassLoader();

        private Builder() {}

        /** Adds a plugin root: each sub-directory or jar in it is one isolated plugin. */
        public Builder pluginDir(Path dir) {
            pluginDirs.add(requireNonNull(dir, "dir is null"));
            return this;
        }

        /** Registers a plugin instance; its descriptor is read from its jar or synthesised. */
        public Builder addPlugin(Plugin plugin) {
            requireNonNull(plugin, "plugin is null");
            instances.add(new Object[] {null, plugin});
            return this;
        }

        /** Registers a plugin instance with an explicit descriptor. */
        public Builder addPlugin(PluginDescriptor descriptor, Plugin plugin) {
            instances.add(new Object[] {requireNonNull(descriptor, "descriptor is null"), requireNonNull(plugin, "plugin is null")});
            return this;
        }

        /** Whether to load plugins found by {@code ServiceLoader} on the host class path (default true). */
        public Builder classpathPlugins(boolean enabled) {
            this.classpath = enabled;
            return this;
        }

        /** The class loader for class-path plugins and shared classes (default: the runtime's). */
        public Builder hostClassLoader(ClassLoader loader) {
            this.hostLoader = requireNonNull(loader, "loader is null");
            return this;
        }

        public Manyfold build() {
            PluginLoader loader = new PluginLoader();
            // Plugin directories first: a plugin that is both in a directory and on the embedder's class path
            // (a common build setup) loads isolated from its directory, and the class-path copy is refused as a
            // duplicate, not the other way round.
            for (Path dir : pluginDirs) {
                loader.loadDirectory(dir, Manyfold.class.getClassLoader());
            }
            if (classpath) {
                loader.loadClasspath(hostLoader);
            }
            for (Object[] entry : instances) {
                Plugin plugin = (Plugin) entry[1];
                PluginDescriptor descriptor = entry[0] != null ? (PluginDescriptor) entry[0] : PluginLoader.descriptorOf(plugin);
                loader.loadInstance(descriptor, plugin);
            }
            return new Manyfold(loader);
        }
    }
}
