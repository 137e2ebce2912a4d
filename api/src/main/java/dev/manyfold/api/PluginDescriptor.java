package dev.manyfold.api;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;

/**
 * The descriptor every plugin ships as {@code META-INF/manyfold-plugin.properties}:
 *
 * <pre>
 * name=sorted                  # unique plugin name, [a-z0-9-]+
 * version=0.1.0                # the plugin's own version
 * api-version=[1.0,2.0)        # API versions it works with (see VersionRange)
 * description=Sorted training  # one line
 * </pre>
 *
 * Parsing is strict: a missing key, an empty value or any other key is refused with a
 * message naming the plugin and the key. Immutable.
 */
public final class PluginDescriptor {
    /** Resource path of the descriptor inside a plugin jar. */
    public static final String RESOURCE = "META-INF/manyfold-plugin.properties";
    /** The keys a descriptor must have, and the only ones it may have. */
    public static final List<String> KEYS = List.of("name", "version", "api-version", "description");

    private final String name;
    private final String version;
    private final VersionRange apiRange;
    private final String description;

    private PluginDescriptor(String name, String version, VersionRange apiRange, String description) {
        this.name = name;
        this.version = version;
        this.apiRange = apiRange;
        this.description = description;
    }

    /** Creates a descriptor in code (for plugins registered as instances). */
    public static PluginDescriptor of(String name, String version, String apiRange, String description) {
        Properties p = new Properties();
        p.setProperty("name", name);
        p.setProperty("version", version);
        p.setProperty("api-version", apiRange);
        p.setProperty("description", description);
        return parse(p, name);
    }

    /**
     * Parses descriptor properties.
     *
     * @param source where the descriptor came from, used in messages (a path or jar)
     * @throws ConfigException naming the plugin (or the source when the name is unknown)
     */
    public static PluginDescriptor parse(Properties properties, String source) {
        requireNonNull(properties, "properties is null");
        String who = properties.getProperty("name", "").isBlank()
                ? "plugin at " + source : "plugin [" + properties.getProperty("name").trim() + "]";
        for (String key : KEYS) {
            if (properties.getProperty(key) == null || properties.getProperty(key).isBlank()) {
                throw new ConfigException(who, "descriptor property [" + key + "] is missing in " + RESOURCE,
                        "a descriptor with keys " + KEYS);
            }
        }
        Set<String> unknown = new TreeSet<>(properties.stringPropertyNames());
        unknown.removeAll(KEYS);
        if (!unknown.isEmpty()) {
            throw new ConfigException(who, "unknown descriptor properties " + unknown + " in " + RESOURCE,
                    "only the keys " + KEYS);
        }
        String name = properties.getProperty("name").trim();
        if (!name.matches("[a-z0-9][a-z0-9-]*")) {
            throw new ConfigException(who, "invalid plugin name \"" + name + "\"", "lower-case letters, digits and '-'");
        }
        VersionRange range;
        try {
            range = VersionRange.parse(properties.getProperty("api-version"));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(who, "descriptor property [api-version]: " + e.getMessage(), "");
        }
        return new PluginDescriptor(name, properties.getProperty("version").trim(), range,
                properties.getProperty("description").trim());
    }

    public String name() {
        return name;
    }

    public String version() {
        return version;
    }

    /** The API versions this plugin works with. */
    public VersionRange apiRange() {
        return apiRange;
    }

    public String description() {
        return description;
    }

    @Override
    public String toString() {
        return name + " " + version;
    }
}
