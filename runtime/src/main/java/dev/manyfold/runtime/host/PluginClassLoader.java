package dev.manyfold.runtime.host;

import java.net.URL;
import java.net.URLClassLoader;
import java.util.List;

/**
 * An isolated class loader for one plugin directory. Its parent is the platform loader, so
 * the plugin sees the JDK and its own jars only; classes under the shared prefixes (the
 * Manyfold API, DJL, SLF4J) come from the host so that plugin and host agree on them.
 */
final class PluginClassLoader extends URLClassLoader {
    static final List<String> SHARED_PREFIXES = List.of("dev.manyfold.api.", "ai.djl.", "org.slf4j.");

    static {
        ClassLoader.registerAsParallelCapable();
    }

    private final ClassLoader host;

    PluginClassLoader(String name, URL[] urls, ClassLoader host) {
        super("plugin-" + name, urls, ClassLoader.getPlatformClassLoader());
        this.host = host;
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
        for (String prefix : SHARED_PREFIXES) {
            if (name.startsWith(prefix)) {
                return host.loadClass(name);
            }
        }
        return super.loadClass(name, resolve);
    }
}
