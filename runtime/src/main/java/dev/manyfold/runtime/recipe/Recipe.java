package dev.manyfold.runtime.recipe;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Settings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * A parsed recipe: immutable plain data plus its origin. Sections are handed out as fresh
 * {@link Settings} views, so each consumer's unknown-key check is its own.
 *
 * <p>Top-level structure is checked on load (known sections, each of the right kind);
 * {@link RecipeValidator} then validates every section against the runtime and plugins.
 */
public final class Recipe {
    /** The top-level sections a recipe may have. */
    public static final Set<String> SECTIONS = Set.of("name", "description", "model", "data", "dimensions",
            "objective", "adapters", "masks", "train", "eval", "decode", "stages");

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private final String source;
    private final Map<String, Object> root;

    private Recipe(String source, Map<String, Object> root) {
        this.source = requireNonNull(source, "source is null");
        this.root = Settings.of("", root).asMap();
    }

    /** Loads a YAML file. */
    public static Recipe load(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new ConfigException(file.toString(), "recipe file not found", "a path to a YAML recipe, e.g. examples/mlp-fashion-mnist.yaml");
        } catch (IOException e) {
            throw new ConfigException(file.toString(), "cannot read recipe: " + e.getMessage(), "a readable YAML file");
        }
        return parse(text, file.toString());
    }

    /** Parses YAML text; {@code source} names it in messages. */
    @SuppressWarnings("unchecked")
    public static Recipe parse(String yaml, String source) {
        Object tree;
        try (var parser = YAML.getFactory().createParser(yaml)) {
            // An empty (or comments-only) document has no first token; readValue would call
            // that "no content" and it would be reported as invalid YAML.
            tree = parser.nextToken() == null ? null : YAML.readValue(parser, Object.class);
        } catch (JsonProcessingException e) {
            var loc = e.getLocation();
            String where = loc == null ? "" : " at line " + loc.getLineNr() + ", column " + loc.getColumnNr();
            throw new ConfigException(source, "not valid YAML" + where + ": " + e.getOriginalMessage(), "a YAML mapping of sections");
        } catch (IOException e) {
            throw new ConfigException(source, "cannot read recipe: " + e.getMessage(), "a YAML mapping of sections");
        }
        if (!(tree instanceof Map)) {
            throw new ConfigException(source, "the recipe is " + (tree == null ? "empty" : "not a mapping"),
                    "a YAML mapping with sections " + new TreeSet<>(SECTIONS));
        }
        Map<String, Object> root = (Map<String, Object>) tree;
        for (String key : root.keySet()) {
            if (!SECTIONS.contains(key)) {
                throw new ConfigException(key, "unknown recipe section" + Settings.closest(key, SECTIONS),
                        "sections " + new TreeSet<>(SECTIONS));
            }
        }
        Recipe recipe = new Recipe(source, root);
        recipe.checkShapes();
        return recipe;
    }

    /** What a run name may look like: it becomes a directory name under {@code runs/}. */
    private static final java.util.regex.Pattern NAME = java.util.regex.Pattern.compile("[A-Za-z0-9][A-Za-z0-9._+-]{0,99}");

    private void checkShapes() {
        Object name = root.get("name");
        String shown = String.valueOf(name);
        if (name != null && (!(name instanceof String || name instanceof Integer || name instanceof Long) || !NAME.matcher(shown).matches())) {
            throw new ConfigException("name", "\"" + (shown.length() > 60 ? shown.substring(0, 60) + "..." : shown)
                    + "\" is not a run name (it names a directory under runs/, so no path separators or ..)",
                    "1 to 100 letters, digits, '.', '_', '+' or '-', starting with a letter or digit");
        }
        for (String section : List.of("model", "data", "dimensions", "objective", "train", "eval", "decode")) {
            Object v = root.get(section);
            if (v != null && !(v instanceof Map)) {
                throw new ConfigException(section, "expected a section (key: value pairs), got " + kind(v), "a mapping");
            }
        }
        for (String section : List.of("adapters", "masks", "stages")) {
            Object v = root.get(section);
            if (v != null && !(v instanceof List)) {
                throw new ConfigException(section, "expected a list of sections, got " + kind(v), "a list such as [ { type: ... } ]");
            }
        }
    }

    private static String kind(Object v) {
        return v instanceof List ? "a list" : v instanceof Map ? "a section" : "the value \"" + v + "\"";
    }

    /** Where the recipe came from (a file path or a label). */
    public String source() {
        return source;
    }

    /** The recipe's name, or the file name. */
    public String name() {
        Object n = root.get("name");
        if (n != null) {
            return n.toString();
        }
        Path file = Path.of(source).getFileName();
        String s = file == null ? "" : file.toString().replaceFirst("\\.ya?ml$", "").replaceAll("[^A-Za-z0-9._+-]", "_");
        return NAME.matcher(s).matches() ? s : "run";
    }

    /** The whole recipe as immutable plain data. */
    public Map<String, Object> asMap() {
        return root;
    }

    /** A fresh view of a section (empty when absent). */
    public Settings section(String name) {
        return Settings.of("", root).section(name);
    }

    /** A fresh view of an optional section. */
    public Optional<Settings> optionalSection(String name) {
        return root.containsKey(name) ? Optional.of(section(name)) : Optional.empty();
    }

    /** Fresh views of a list section ({@code adapters}, {@code masks}). */
    public List<Settings> sections(String name) {
        return Settings.of("", root).sections(name);
    }

    /**
     * A copy with some sections replaced and others removed (e.g. an exported plain model:
     * a new {@code model} section, no {@code dimensions} or {@code adapters}).
     */
    public Recipe with(Map<String, Object> replaced, Set<String> removed) {
        Map<String, Object> copy = new java.util.LinkedHashMap<>(root);
        removed.forEach(copy::remove);
        copy.putAll(replaced);
        return new Recipe(source, copy);
    }

    /** The recipe serialised back to YAML (stored in checkpoints and run directories). */
    public String toYaml() {
        try {
            return YAML.writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise recipe", e);
        }
    }
}
