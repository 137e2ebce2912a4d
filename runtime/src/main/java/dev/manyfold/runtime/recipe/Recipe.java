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

    /** The largest recipe accepted, in characters (a file is checked in bytes before it is read). */
    public static final int MAX_CHARS = 1 << 20;
    /** The longest single string value or key. */
    public static final int MAX_STRING = 64 * 1024;
    /** The deepest nesting of sections and lists. */
    public static final int MAX_DEPTH = 32;

    private static final YAMLFactory FACTORY = limitedFactory();
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    /** SnakeYAML's code-point limit and Jackson's read constraints: a hostile input stops while it is read. */
    private static YAMLFactory limitedFactory() {
        org.yaml.snakeyaml.LoaderOptions loader = new org.yaml.snakeyaml.LoaderOptions();
        loader.setCodePointLimit(MAX_CHARS + 16);
        loader.setNestingDepthLimit(MAX_DEPTH + 2);
        loader.setMaxAliasesForCollections(0);
        return YAMLFactory.builder().loaderOptions(loader).streamReadConstraints(com.fasterxml.jackson.core.StreamReadConstraints.builder()
                .maxStringLength(MAX_STRING).maxNestingDepth(MAX_DEPTH).maxNumberLength(100).maxDocumentLength(MAX_CHARS + 16L)
                .maxNameLength(1024).build()).build();
    }

    private final String source;
    private final Map<String, Object> root;

    private Recipe(String source, Map<String, Object> root) {
        this.source = requireNonNull(source, "source is null");
        this.root = Settings.of("", root).asMap();
    }

    /** Loads a YAML file: a regular file of at most {@link #MAX_CHARS} bytes. */
    public static Recipe load(Path file) {
        String text;
        try {
            if (!Files.exists(file)) {
                throw new NoSuchFileException(file.toString());
            }
            if (!Files.isRegularFile(file)) {
                throw new ConfigException(file.toString(), "not a regular file (a directory, device or pipe is not read)",
                        "a YAML recipe file");
            }
            long size = Files.size(file);
            if (size > MAX_CHARS) {
                throw new ConfigException(file.toString(), "the recipe is " + size + " bytes, more than the limit of " + MAX_CHARS,
                        "a recipe of at most 1 MiB");
            }
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new ConfigException(file.toString(), "recipe file not found", "a path to a YAML recipe, e.g. examples/mlp-fashion-mnist.yaml");
        } catch (java.nio.charset.MalformedInputException e) {
            throw new ConfigException(file.toString(), "the recipe is not valid UTF-8", "a UTF-8 YAML file");
        } catch (IOException e) {
            throw new ConfigException(file.toString(), "cannot read recipe: " + e.getMessage(), "a readable YAML file");
        }
        return parse(text, file.toString());
    }

    /**
     * Parses YAML text; {@code source} names it in messages. Strict and bounded: one
     * document, no duplicate keys, no aliases, finite numbers only, at most
     * {@link #MAX_CHARS} characters, strings of at most {@link #MAX_STRING} and nesting of at
     * most {@link #MAX_DEPTH}.
     */
    @SuppressWarnings("unchecked")
    public static Recipe parse(String yaml, String source) {
        if (yaml.length() > MAX_CHARS) {
            throw new ConfigException(source, "the recipe is " + yaml.length() + " characters, more than the limit of " + MAX_CHARS,
                    "a recipe of at most 1 MiB");
        }
        Object tree;
        try (var parser = FACTORY.createParser(yaml)) {
            // An empty (or comments-only) document has no first token.
            tree = parser.nextToken() == null ? null : readTree(parser, "");
            if (tree != null && parser.nextToken() != null) {
                throw new ConfigException(source, "a second YAML document (---) at line " + parser.currentTokenLocation().getLineNr(),
                        "one YAML document");
            }
        } catch (com.fasterxml.jackson.core.exc.StreamConstraintsException e) {
            throw new ConfigException(source, "the recipe exceeds a size limit: " + e.getOriginalMessage(),
                    "at most " + MAX_CHARS + " characters, strings of at most " + MAX_STRING + ", nesting of at most " + MAX_DEPTH);
        } catch (JsonProcessingException e) {
            var loc = e.getLocation();
            String where = loc == null ? "" : " at line " + loc.getLineNr() + ", column " + loc.getColumnNr();
            throw new ConfigException(source, "not valid YAML" + where + ": " + e.getOriginalMessage(), "a YAML mapping of sections");
        } catch (org.yaml.snakeyaml.error.YAMLException e) {
            String message = String.valueOf(e.getMessage());
            boolean limit = message.contains("limit");
            throw new ConfigException(source, (limit ? "the recipe exceeds a size limit: " : "not valid YAML: ") + firstLine(message),
                    limit ? "at most " + MAX_CHARS + " characters, nesting of at most " + MAX_DEPTH : "a YAML mapping of sections");
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

    private static String firstLine(String text) {
        String line = text.lines().findFirst().orElse(text);
        return line.length() > 200 ? line.substring(0, 200) + "..." : line;
    }

    /** One value at {@code path}: mappings keep their order, keys must be unique, aliases are refused. */
    private static Object readTree(com.fasterxml.jackson.core.JsonParser parser, String path) throws IOException {
        if (parser instanceof com.fasterxml.jackson.dataformat.yaml.YAMLParser yaml && yaml.isCurrentAlias()) {
            throw new ConfigException(path, "the alias *" + parser.getText() + " is not supported", "the value written out in full");
        }
        com.fasterxml.jackson.core.JsonToken token = parser.currentToken();
        switch (token) {
            case START_OBJECT -> {
                Map<String, Object> map = new java.util.LinkedHashMap<>();
                while (parser.nextToken() == com.fasterxml.jackson.core.JsonToken.FIELD_NAME) {
                    String key = parser.currentName();
                    String child = path.isEmpty() ? key : path + "." + key;
                    if (map.containsKey(key)) {
                        throw new ConfigException(child, "duplicate key at line " + parser.currentTokenLocation().getLineNr(),
                                "each key once per section");
                    }
                    parser.nextToken();
                    map.put(key, readTree(parser, child));
                }
                return map;
            }
            case START_ARRAY -> {
                List<Object> list = new java.util.ArrayList<>();
                while (parser.nextToken() != com.fasterxml.jackson.core.JsonToken.END_ARRAY) {
                    list.add(readTree(parser, path + "[" + list.size() + "]"));
                }
                return list;
            }
            case VALUE_NUMBER_INT -> {
                return parser.getNumberValue();
            }
            case VALUE_NUMBER_FLOAT -> {
                String text = parser.getText();
                double value;
                try {
                    value = parser.getDoubleValue();
                } catch (JsonProcessingException e) {
                    value = Double.NaN; // YAML's .nan, .inf, -.inf
                }
                if (!Double.isFinite(value)) {
                    throw new ConfigException(path, text + " is not a finite number", "a finite number");
                }
                return value;
            }
            case VALUE_STRING -> {
                String text = parser.getText();
                if (text.length() > MAX_STRING) {
                    throw new ConfigException(path, "the recipe exceeds a size limit: a string of " + text.length() + " characters",
                            "strings of at most " + MAX_STRING + " characters");
                }
                return text;
            }
            case VALUE_TRUE, VALUE_FALSE -> {
                return parser.getBooleanValue();
            }
            case VALUE_NULL -> {
                return null;
            }
            default -> throw new ConfigException(path, "unexpected YAML content " + token, "a YAML mapping of sections");
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
