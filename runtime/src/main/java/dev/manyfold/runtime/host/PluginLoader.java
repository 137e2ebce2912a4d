package dev.manyfold.runtime.host;

import dev.manyfold.api.ApiVersion;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Factory;
import dev.manyfold.api.Plugin;
import dev.manyfold.api.PluginDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads plugins and decides which are accepted. A plugin is refused, with a message naming
 * it, for a missing or malformed descriptor, an API range that excludes
 * {@link ApiVersion#provided()}, a constructor that throws, a plugin name already taken, or a
 * factory name another plugin already contributed (the message names both). Refusing one
 * plugin never stops the others from loading.
 */
final class PluginLoader {
    private static final Logger LOG = LoggerFactory.getLogger(PluginLoader.class);

    private final List<PluginRecord> records = new ArrayList<>();
    private final Map<ExtensionKind, Map<String, Factory<?>>> factories = new EnumMap<>(ExtensionKind.class);
    private final Map<ExtensionKind, Map<String, String>> owners = new EnumMap<>(ExtensionKind.class);
    private final Map<String, String> pluginSources = new LinkedHashMap<>();
    private final List<URLClassLoaderHolder> loaders = new ArrayList<>();

    PluginLoader() {
        for (ExtensionKind kind : ExtensionKind.values()) {
            factories.put(kind, new LinkedHashMap<>());
            owners.put(kind, new LinkedHashMap<>());
        }
    }

    List<PluginRecord> records() {
        return List.copyOf(records);
    }

    Map<ExtensionKind, Map<String, Factory<?>>> factories() {
        return factories;
    }

    List<URLClassLoaderHolder> loaders() {
        return loaders;
    }

    /** Plugins found by ServiceLoader on the given (host) class loader. */
    void loadClasspath(ClassLoader classLoader) {
        ServiceLoader<Plugin> services = ServiceLoader.load(Plugin.class, classLoader);
        services.stream().forEach(provider -> {
            Class<? extends Plugin> type;
            try {
                type = provider.type();
            } catch (ServiceConfigurationError e) {
                refuse("classpath", "classpath", null, "cannot load plugin class: " + rootMessage(e));
                return;
            }
            String source = "classpath:" + codeSourceOf(type);
            PluginDescriptor descriptor;
            try {
                descriptor = classpathDescriptor(type, source);
            } catch (ConfigException e) {
                refuse(type.getName(), source, null, e.getMessage());
                return;
            }
            instantiateAndRegister(descriptor, source, provider::get);
        });
    }

    /**
     * Plugins from a plugin root: each sub-directory (all its jars) and each jar directly in
     * the root is one plugin with its own isolated class loader.
     */
    void loadDirectory(Path root, ClassLoader host) {
        if (!Files.isDirectory(root)) {
            throw new IllegalArgumentException("plugin directory " + root + " does not exist or is not a directory");
        }
        List<Path> entries;
        try (Stream<Path> s = Files.list(root)) {
            entries = s.filter(p -> Files.isDirectory(p) || p.toString().endsWith(".jar")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list plugin directory " + root, e);
        }
        for (Path entry : entries) {
            loadOne(entry, host);
        }
    }

    private void loadOne(Path entry, ClassLoader host) {
        String source = entry.toAbsolutePath().toString();
        List<URL> urls = new ArrayList<>();
        try {
            if (Files.isDirectory(entry)) {
                try (Stream<Path> s = Files.list(entry)) {
                    for (Path jar : s.filter(p -> p.toString().endsWith(".jar")).sorted().toList()) {
                        urls.add(jar.toUri().toURL());
                    }
                }
            } else {
                urls.add(entry.toUri().toURL());
            }
        } catch (IOException e) {
            refuse(entry.getFileName().toString(), source, null, "cannot read plugin files: " + e.getMessage());
            return;
        }
        if (urls.isEmpty()) {
            refuse(entry.getFileName().toString(), source, null, "no jar files in plugin directory");
            return;
        }
        PluginClassLoader loader = new PluginClassLoader(entry.getFileName().toString(), urls.toArray(URL[]::new), host);
        PluginDescriptor descriptor;
        try {
            URL url = loader.findResource(PluginDescriptor.RESOURCE);
            if (url == null) {
                throw new ConfigException("plugin at " + source, "no " + PluginDescriptor.RESOURCE + " in its jars",
                        "a descriptor with keys " + PluginDescriptor.KEYS);
            }
            descriptor = PluginDescriptor.parse(readProperties(url), source);
        } catch (ConfigException e) {
            closeQuietly(loader);
            refuse(entry.getFileName().toString(), source, null, e.getMessage());
            return;
        }
        List<ServiceLoader.Provider<Plugin>> providers;
        try {
            checkServiceFiles(loader);
            providers = ServiceLoader.load(Plugin.class, loader).stream().toList();
        } catch (IOException e) {
            closeQuietly(loader);
            refuse(descriptor.name(), source, descriptor, "plugin [" + descriptor.name() + "] cannot be loaded: " + e.getMessage());
            return;
        } catch (ServiceConfigurationError e) {
            closeQuietly(loader);
            refuse(descriptor.name(), source, descriptor, "plugin [" + descriptor.name() + "] cannot be loaded: " + rootMessage(e));
            return;
        }
        if (providers.size() != 1) {
            closeQuietly(loader);
            refuse(descriptor.name(), source, descriptor, "plugin [" + descriptor.name() + "] must list exactly one "
                    + Plugin.class.getName() + " in META-INF/services, found " + providers.size());
            return;
        }
        if (instantiateAndRegister(descriptor, source, providers.get(0)::get, !isShipped(entry, descriptor))) {
            loaders.add(new URLClassLoaderHolder(loader));
        } else {
            closeQuietly(loader);
        }
    }

    /** An instance registered by an embedder or a test. */
    void loadInstance(PluginDescriptor descriptor, Plugin plugin) {
        instantiateAndRegister(descriptor, "instance:" + plugin.getClass().getName(), () -> plugin);
    }

    /** Descriptor of an instance: its code source's descriptor if it has one, else synthesised. */
    static PluginDescriptor descriptorOf(Plugin plugin) {
        try {
            return classpathDescriptor(plugin.getClass(), plugin.getClass().getName());
        } catch (ConfigException e) {
            String simple = plugin.getClass().getSimpleName().replaceAll("([a-z0-9])([A-Z])", "$1-$2").toLowerCase(java.util.Locale.ROOT);
            return PluginDescriptor.of(simple.isEmpty() ? "anonymous" : simple, "embedded", "[" + ApiVersion.provided() + ",)",
                    "registered as an instance by the embedding application");
        }
    }

    private boolean instantiateAndRegister(PluginDescriptor descriptor, String source, java.util.function.Supplier<Plugin> constructor) {
        return instantiateAndRegister(descriptor, source, constructor, false);
    }

    /**
     * Whether a plugin directory was shipped with this build: it lies in the bundle's own
     * {@code plugins/} and has the runtime's version. Those start without the exit guard.
     */
    private static boolean isShipped(Path entry, PluginDescriptor descriptor) {
        String home = System.getProperty("manyfold.home");
        if (home == null || runtimeVersion() == null) {
            return false;
        }
        Path bundled = Path.of(home, "plugins").toAbsolutePath().normalize();
        return entry.toAbsolutePath().normalize().getParent().equals(bundled) && descriptor.version().equals(runtimeVersion());
    }

    private static String runtimeVersion;

    private static synchronized String runtimeVersion() {
        if (runtimeVersion == null) {
            try {
                runtimeVersion = classpathDescriptor(dev.manyfold.runtime.builtin.CorePlugin.class, "runtime").version();
            } catch (ConfigException e) {
                runtimeVersion = "";
            }
        }
        return runtimeVersion.isEmpty() ? null : runtimeVersion;
    }

    private boolean instantiateAndRegister(PluginDescriptor descriptor, String source, java.util.function.Supplier<Plugin> constructor,
            boolean guardExit) {
        String name = descriptor.name();
        if (!descriptor.apiRange().contains(ApiVersion.provided())) {
            refuse(name, source, descriptor, "plugin [" + name + "] requires API version " + descriptor.apiRange()
                    + " but this host provides " + ApiVersion.provided());
            return false;
        }
        if (pluginSources.containsKey(name)) {
            refuse(name, source, descriptor, "plugin [" + name + "] is already loaded from " + pluginSources.get(name));
            return false;
        }
        Plugin plugin;
        Map<ExtensionKind, List<Factory<?>>> contributed = new EnumMap<>(ExtensionKind.class);
        try {
            // The plugin's own code runs bounded: its own thread, a time limit, no System.exit, OOM refused.
            plugin = PluginGuard.start(name, () -> {
                Plugin started = constructor.get();
                for (ExtensionKind kind : ExtensionKind.values()) {
                    contributed.put(kind, List.copyOf(kind.read(started)));
                }
                return started;
            }, guardExit);
        } catch (PluginGuard.Refused e) {
            refuse(name, source, descriptor, "plugin [" + name + "] " + e.getMessage());
            return false;
        } catch (RuntimeException | LinkageError | ServiceConfigurationError e) {
            // ServiceLoader wraps a throwing constructor in ServiceConfigurationError (an Error).
            refuse(name, source, descriptor, "plugin [" + name + "] failed to start: " + rootMessage(e));
            return false;
        }
        for (ExtensionKind kind : ExtensionKind.values()) {
            Map<String, String> seen = new LinkedHashMap<>();
            for (Factory<?> factory : contributed.get(kind)) {
                String factoryName;
                try {
                    factoryName = factory.name();
                } catch (RuntimeException e) {
                    refuse(name, source, descriptor, "plugin [" + name + "] has a " + kind.label() + " whose name() failed: " + rootMessage(e));
                    return false;
                }
                if (!kind.validName(factoryName)) {
                    refuse(name, source, descriptor, "plugin [" + name + "] contributes " + kind.label() + " with invalid name \""
                            + factoryName + "\" (accepted: " + kind.nameRule() + ")");
                    return false;
                }
                String owner = owners.get(kind).get(factoryName);
                if (owner != null || seen.containsKey(factoryName)) {
                    refuse(name, source, descriptor, "plugin [" + name + "] contributes " + kind.label() + " \"" + factoryName
                            + "\" which plugin [" + (owner != null ? owner : name) + "] already provides; factory names must be unique");
                    return false;
                }
                seen.put(factoryName, name);
            }
        }
        Map<ExtensionKind, List<String>> names = new EnumMap<>(ExtensionKind.class);
        for (ExtensionKind kind : ExtensionKind.values()) {
            List<String> list = new ArrayList<>();
            for (Factory<?> factory : contributed.get(kind)) {
                factories.get(kind).put(factory.name(), PluginCalls.wrap(factory, name, kind.label(), factory.name()));
                owners.get(kind).put(factory.name(), name);
                list.add(factory.name());
            }
            names.put(kind, List.copyOf(list));
        }
        pluginSources.put(name, source);
        records.add(new PluginRecord(name, descriptor.version(), descriptor.apiRange().toString(), source, names, null,
                descriptor.description()));
        LOG.debug("loaded plugin {} {} from {}", name, descriptor.version(), source);
        return true;
    }

    private void refuse(String name, String source, PluginDescriptor descriptor, String why) {
        LOG.warn("refused plugin from {}: {}", source, why);
        records.add(new PluginRecord(name, descriptor == null ? "?" : descriptor.version(),
                descriptor == null ? "?" : descriptor.apiRange().toString(), source, Map.of(), why,
                descriptor == null ? "" : descriptor.description()));
    }

    private static PluginDescriptor classpathDescriptor(Class<?> type, String source) {
        URL location = codeSourceUrl(type);
        if (location == null) {
            throw new ConfigException(type.getName(), "no code source to read " + PluginDescriptor.RESOURCE + " from", "");
        }
        try {
            Path path = Path.of(location.toURI());
            if (Files.isDirectory(path)) {
                Path file = path.resolve(PluginDescriptor.RESOURCE);
                if (!Files.exists(file)) {
                    throw missing(type, source);
                }
                return PluginDescriptor.parse(readProperties(file.toUri().toURL()), source);
            }
            try (JarFile jar = new JarFile(path.toFile())) {
                var entry = jar.getJarEntry(PluginDescriptor.RESOURCE);
                if (entry == null) {
                    throw missing(type, source);
                }
                try (InputStream in = jar.getInputStream(entry)) {
                    return PluginDescriptor.parse(properties(in, source), source);
                }
            }
        } catch (java.net.URISyntaxException | IOException | RuntimeException e) {
            if (e instanceof ConfigException) {
                throw (ConfigException) e;
            }
            throw new ConfigException(type.getName(), "cannot read descriptor: " + e.getMessage(), "");
        }
    }

    private static ConfigException missing(Class<?> type, String source) {
        return new ConfigException("plugin " + type.getName() + " at " + source, "no " + PluginDescriptor.RESOURCE,
                "a descriptor with keys " + PluginDescriptor.KEYS);
    }

    private static URL codeSourceUrl(Class<?> type) {
        CodeSource cs = type.getProtectionDomain().getCodeSource();
        return cs == null ? null : cs.getLocation();
    }

    private static String codeSourceOf(Class<?> type) {
        URL url = codeSourceUrl(type);
        return url == null ? type.getName() : url.getPath();
    }

    private static Properties readProperties(URL url) {
        try (InputStream in = url.openStream()) {
            return properties(in, url.toString());
        } catch (IOException e) {
            throw new ConfigException(url.toString(), "cannot read descriptor: " + e.getMessage(), "");
        }
    }

    /** A descriptor read with a size cap; a malformed escape is a refusal of this descriptor, not a crash. */
    private static Properties properties(InputStream in, String where) throws IOException {
        byte[] bytes = PluginGuard.readCapped(in, PluginDescriptor.RESOURCE);
        Properties p = new Properties();
        try {
            p.load(new java.io.StringReader(new String(bytes, java.nio.charset.StandardCharsets.UTF_8)));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(where, "malformed descriptor: " + e.getMessage(), "java.util.Properties syntax with valid \\uXXXX escapes");
        }
        return p;
    }

    /** Every service file of the plugin's jars, read with a size cap before ServiceLoader reads them whole. */
    private static void checkServiceFiles(PluginClassLoader loader) throws IOException {
        var files = loader.findResources("META-INF/services/" + Plugin.class.getName());
        while (files.hasMoreElements()) {
            URL url = files.nextElement();
            try (InputStream in = url.openStream()) {
                PluginGuard.readCapped(in, "META-INF/services/" + Plugin.class.getName());
            }
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        String msg = t.getMessage();
        return t.getClass().getSimpleName() + (msg == null ? "" : ": " + msg);
    }

    private static void closeQuietly(java.io.Closeable c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // nothing to do: the loader held no open resources of ours
        }
    }

    /** Keeps a plugin class loader so the host can close it. */
    record URLClassLoaderHolder(PluginClassLoader loader) {}

}
