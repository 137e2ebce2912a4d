package dev.manyfold.runtime.host;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.Map;

/**
 * What the host knows about one plugin it tried to load: for {@code manyfold plugins}.
 *
 * @param name plugin name (from the descriptor, or the source when the descriptor is unreadable)
 * @param version plugin version, or "?" when unknown
 * @param apiRange required API range, or "?" when unknown
 * @param source where it was loaded from (a directory, jar, class-path entry or "instance")
 * @param contributions factory names per extension kind (empty when refused)
 * @param error null when loaded; otherwise why it was refused
 * @param description the descriptor's one-line description, or "" when unknown
 */
public record PluginRecord(String name, String version, String apiRange, String source,
        Map<ExtensionKind, List<String>> contributions, String error, String description) {
    public PluginRecord {
        requireNonNull(name, "name is null");
        requireNonNull(source, "source is null");
        contributions = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(contributions));
        description = description == null ? "" : description;
    }

    public PluginRecord(String name, String version, String apiRange, String source, Map<ExtensionKind, List<String>> contributions,
            String error) {
        this(name, version, apiRange, source, contributions, error, "");
    }

    public boolean loaded() {
        return error == null;
    }

    /** "loaded" or "refused: why". */
    public String status() {
        return loaded() ? "loaded" : "refused: " + error;
    }
}
