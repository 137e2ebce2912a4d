package dev.manyfold.api;

import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * A typed, path-aware view of one recipe section.
 *
 * <p>Values are plain data (strings, numbers, booleans, lists and maps) as they came from the
 * recipe. Every getter reports a wrong type or a missing key as a {@link ConfigException}
 * naming the full recipe path ({@code adapters[0].rank}), what was found and what is
 * accepted. The view remembers which keys were read; {@link #rejectUnknown()} then refuses
 * any key nobody asked for, listing the keys that are accepted. The host calls it after a
 * factory's {@code create}, so plugins get strict sections for free.
 *
 * <p>The underlying data is immutable; the read-tracking is per view and thread-safe enough
 * for the single thread that validates a section.
 */
public final class Settings {
    private final String path;
    private final Map<String, Object> values;
    private final Set<String> read = Collections.synchronizedSet(new LinkedHashSet<>());
    private final List<Settings> children = Collections.synchronizedList(new ArrayList<>());

    private Settings(String path, Map<String, Object> values) {
        this.path = requireNonNull(path, "path is null");
        this.values = values;
    }

    /**
     * Creates a view of a section.
     *
     * @param path the recipe path of the section, e.g. {@code "adapters[0]"}; empty for the root
     * @param values plain data; deep-copied into immutable collections
     */
    public static Settings of(String path, Map<String, ?> values) {
        requireNonNull(values, "values is null");
        @SuppressWarnings("unchecked")
        Map<String, Object> copy = (Map<String, Object>) immutableCopy(values);
        return new Settings(path, copy);
    }

    /** An empty section at the given path. */
    public static Settings empty(String path) {
        return of(path, Map.of());
    }

    /** The recipe path of this section; empty for the root. */
    public String path() {
        return path;
    }

    /** The recipe path of a key in this section. */
    public String pathOf(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    /**
     * Whether the key is present (does not mark it as read: a key only ever tested with
     * {@code has} is missing from the "accepted" list of errors; read it with an optional getter
     * such as {@link #optionalString} or mark it with {@link #markRead}).
     */
    public boolean has(String key) {
        return values.containsKey(key);
    }

    /** All keys present, in recipe order. */
    public Set<String> keys() {
        return values.keySet();
    }

    /** The raw values of this section as an immutable map (marks nothing as read). */
    public Map<String, Object> asMap() {
        return values;
    }

    /** Marks a key as accepted without reading it (for keys consumed by the host). */
    public Settings markRead(String key) {
        read.add(key);
        return this;
    }

    // ---- strings ------------------------------------------------------------------------

    /** A required string. */
    public String getString(String key) {
        return require(key, "a string", this::asString);
    }

    /** An optional string. */
    public String getString(String key, String defaultValue) {
        return optional(key, "a string", this::asString).orElse(defaultValue);
    }

    /** A string that must be one of {@code choices}. */
    public String getChoice(String key, List<String> choices, String defaultValue) {
        String value = defaultValue == null ? getString(key) : getString(key, defaultValue);
        if (!choices.contains(value)) {
            throw invalid(key, "unknown value \"" + value + "\"" + closest(value, choices), "one of " + choices);
        }
        return value;
    }

    /**
     * An optional string without a default: empty when absent. The key is accepted (listed in
     * errors) whether or not it is present. @since 1.1
     */
    public Optional<String> optionalString(String key) {
        return optional(key, "a string", this::asString);
    }

    /**
     * An enum constant, written in the recipe as its kebab-case name ({@code IN_ADAM} is
     * {@code in-adam}; case-insensitive).
     *
     * @param defaultValue returned when the key is absent; null makes the key required
     * @throws ConfigException naming the path, the closest constant and every accepted one
     * @since 1.1
     */
    public <E extends Enum<E>> E getEnum(String key, Class<E> type, E defaultValue) {
        requireNonNull(type, "type is null");
        Map<String, E> byName = new LinkedHashMap<>();
        for (E constant : type.getEnumConstants()) {
            byName.put(kebab(constant.name()), constant);
        }
        Optional<String> value = optionalString(key);
        if (value.isEmpty()) {
            if (defaultValue == null) {
                throw new ConfigException(pathOf(key), "required key is missing", "one of " + byName.keySet());
            }
            return defaultValue;
        }
        E found = byName.get(kebab(value.get().trim()));
        if (found == null) {
            throw invalid(key, "unknown value \"" + value.get() + "\"" + closest(value.get(), byName.keySet()), "one of " + byName.keySet());
        }
        return found;
    }

    private static String kebab(String name) {
        return name.toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }

    /**
     * Site globs (see {@link Globs}): a list of non-blank strings, or one string; refused when
     * empty or when a glob is blank, naming the path.
     *
     * @param defaultValue the globs when the key is absent
     * @since 1.1
     */
    public List<String> getTargets(String key, List<String> defaultValue) {
        List<String> globs = getStringList(key, defaultValue);
        check(!globs.isEmpty(), key, "no target globs", "a list of site globs such as [\"layers.*.attn.q_proj\", \"*.v_proj\"]");
        for (String g : globs) {
            check(!g.isBlank(), key, "an empty glob", "site globs such as layers.*.attn.q_proj");
        }
        return globs;
    }

    // ---- numbers ------------------------------------------------------------------------

    /** A required integer. */
    public int getInt(String key) {
        return require(key, "an integer", this::asInt);
    }

    /** An optional integer. */
    public int getInt(String key, int defaultValue) {
        return optional(key, "an integer", this::asInt).orElse(defaultValue);
    }

    /** An optional integer within {@code [min, max]}. */
    public int getInt(String key, int defaultValue, int min, int max) {
        int value = getInt(key, defaultValue);
        if (value < min || value > max) {
            throw invalid(key, "value " + value + " is out of range", "an integer in [" + min + ", " + max + "]");
        }
        return value;
    }

    /** An optional integer without a default: empty when absent, the key still accepted. @since 1.1 */
    public java.util.OptionalInt optionalInt(String key) {
        Optional<Integer> v = optional(key, "an integer", this::asInt);
        return v.isPresent() ? java.util.OptionalInt.of(v.get()) : java.util.OptionalInt.empty();
    }

    /** An optional number without a default: empty when absent, the key still accepted. @since 1.1 */
    public java.util.OptionalDouble optionalDouble(String key) {
        Optional<Double> v = optional(key, "a number", this::asDouble);
        return v.isPresent() ? java.util.OptionalDouble.of(v.get()) : java.util.OptionalDouble.empty();
    }

    /** A required long. */
    public long getLong(String key) {
        return require(key, "an integer", this::asLong);
    }

    /** An optional long. */
    public long getLong(String key, long defaultValue) {
        return optional(key, "an integer", this::asLong).orElse(defaultValue);
    }

    /** A required number. */
    public double getDouble(String key) {
        return require(key, "a number", this::asDouble);
    }

    /** An optional number. */
    public double getDouble(String key, double defaultValue) {
        return optional(key, "a number", this::asDouble).orElse(defaultValue);
    }

    /** An optional boolean. */
    public boolean getBoolean(String key, boolean defaultValue) {
        return optional(key, "true or false", this::asBoolean).orElse(defaultValue);
    }

    // ---- lists --------------------------------------------------------------------------

    /** An optional list of strings; a single string is accepted as a one-element list. */
    public List<String> getStringList(String key, List<String> defaultValue) {
        return optional(key, "a list of strings", v -> listOf(v, this::asString)).orElse(defaultValue);
    }

    /** An optional list of integers; a single integer is accepted as a one-element list. */
    public List<Integer> getIntList(String key, List<Integer> defaultValue) {
        return optional(key, "a list of integers", v -> listOf(v, this::asInt)).orElse(defaultValue);
    }

    /** An optional list of numbers; a single number is accepted as a one-element list. */
    public List<Double> getDoubleList(String key, List<Double> defaultValue) {
        return optional(key, "a list of numbers", v -> listOf(v, this::asDouble)).orElse(defaultValue);
    }

    /**
     * An optional list of integers without a default: empty when absent, the key still
     * accepted. @since 1.1
     */
    public Optional<List<Integer>> optionalIntList(String key) {
        return optional(key, "a list of integers", v -> listOf(v, this::asInt));
    }

    /**
     * An optional list of numbers without a default: empty when absent, the key still
     * accepted. @since 1.1
     */
    public Optional<List<Double>> optionalDoubleList(String key) {
        return optional(key, "a list of numbers", v -> listOf(v, this::asDouble));
    }

    /** The raw value of a key (a string, number, boolean, list or map), marked as read. */
    public Optional<Object> getRaw(String key) {
        read.add(key);
        return Optional.ofNullable(values.get(key));
    }

    // ---- nested sections ----------------------------------------------------------------

    /** A nested section; an absent key gives an empty section. */
    public Settings section(String key) {
        return optionalSection(key).orElseGet(() -> child(pathOf(key), Map.of()));
    }

    /** A nested section, if present. */
    @SuppressWarnings("unchecked")
    public Optional<Settings> optionalSection(String key) {
        return optional(key, "a section (key: value pairs)", v -> {
            if (!(v instanceof Map)) {
                throw new IllegalArgumentException();
            }
            return child(pathOf(key), (Map<String, Object>) v);
        });
    }

    /** A list of sections, e.g. {@code adapters}; absent gives an empty list. */
    @SuppressWarnings("unchecked")
    public List<Settings> sections(String key) {
        return optional(key, "a list of sections", v -> {
            if (!(v instanceof List)) {
                throw new IllegalArgumentException();
            }
            List<Object> items = (List<Object>) v;
            List<Settings> result = new ArrayList<>();
            for (int i = 0; i < items.size(); i++) {
                String itemPath = pathOf(key) + "[" + i + "]";
                if (!(items.get(i) instanceof Map)) {
                    throw new ConfigException(itemPath, "expected a section (key: value pairs), got " + describe(items.get(i)), "a section such as { type: ... }");
                }
                result.add(child(itemPath, (Map<String, Object>) items.get(i)));
            }
            return List.copyOf(result);
        }).orElse(List.of());
    }

    // ---- validation ---------------------------------------------------------------------

    /**
     * Refuses keys that no getter asked for, in this section and in every nested section
     * obtained from it.
     *
     * @throws ConfigException naming the first unknown key, the closest accepted key and all
     *     accepted keys
     */
    public void rejectUnknown() {
        for (String key : values.keySet()) {
            if (!read.contains(key)) {
                Set<String> accepted = new TreeSet<>(read);
                throw new ConfigException(pathOf(key), "unknown key" + closest(key, accepted),
                        accepted.isEmpty() ? "no keys in this section" : "keys " + accepted);
            }
        }
        synchronized (children) {
            for (Settings child : children) {
                child.rejectUnknown();
            }
        }
    }

    /** An error about a key of this section, to throw from validation code. */
    public ConfigException invalid(String key, String problem, String accepted) {
        return new ConfigException(key == null ? path : pathOf(key), problem, accepted);
    }

    /** Throws {@link #invalid} unless the condition holds. */
    public void check(boolean condition, String key, String problem, String accepted) {
        if (!condition) {
            throw invalid(key, problem, accepted);
        }
    }

    /**
     * Returns " (did you mean "x"?)" for the candidate closest to {@code value} by edit
     * distance, or an empty string when nothing is close.
     */
    public static String closest(String value, java.util.Collection<String> candidates) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String candidate : candidates) {
            int d = editDistance(value.toLowerCase(java.util.Locale.ROOT), candidate.toLowerCase(java.util.Locale.ROOT));
            if (d < bestDistance) {
                bestDistance = d;
                best = candidate;
            }
        }
        if (best == null || bestDistance > Math.max(2, value.length() / 2)) {
            return "";
        }
        return " (did you mean \"" + best + "\"?)";
    }

    /** Levenshtein distance. */
    public static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    @Override
    public String toString() {
        return (path.isEmpty() ? "<root>" : path) + values;
    }

    // ---- internals ----------------------------------------------------------------------

    private Settings child(String childPath, Map<String, Object> childValues) {
        Settings child = new Settings(childPath, childValues);
        children.add(child);
        return child;
    }

    private <T> T require(String key, String expected, Function<Object, T> converter) {
        return optional(key, expected, converter).orElseThrow(() ->
                new ConfigException(pathOf(key), "required key is missing", expected));
    }

    private <T> Optional<T> optional(String key, String expected, Function<Object, T> converter) {
        read.add(key);
        Object value = values.get(key);
        if (value == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(converter.apply(value));
        } catch (ConfigException e) {
            throw e;
        } catch (NotFinite e) {
            throw new ConfigException(pathOf(key), describe(value) + " is not a finite number", expected);
        } catch (RuntimeException e) {
            throw new ConfigException(pathOf(key), "expected " + expected + ", got " + describe(value), expected);
        }
    }

    private String asString(Object v) {
        if (v instanceof String || v instanceof Number || v instanceof Boolean) {
            return v.toString();
        }
        throw new IllegalArgumentException();
    }

    private Integer asInt(Object v) {
        long l = asLong(v);
        if (l < Integer.MIN_VALUE || l > Integer.MAX_VALUE) {
            throw new IllegalArgumentException();
        }
        return (int) l;
    }

    private Long asLong(Object v) {
        if (v instanceof java.math.BigInteger) {
            // longValueExact refuses values beyond a long instead of silently wrapping around.
            return ((java.math.BigInteger) v).longValueExact();
        }
        if (v instanceof Integer || v instanceof Long || v instanceof Short) {
            return ((Number) v).longValue();
        }
        if (v instanceof Number) {
            double d = ((Number) v).doubleValue();
            if (d == Math.rint(d) && Math.abs(d) < 9e15) {
                return (long) d;
            }
        }
        if (v instanceof String) {
            return Long.parseLong(((String) v).trim().replace("_", ""));
        }
        throw new IllegalArgumentException();
    }

    private Double asDouble(Object v) {
        double d;
        if (v instanceof Number) {
            d = ((Number) v).doubleValue();
        } else if (v instanceof String && DECIMAL.matcher(((String) v).trim()).matches()) {
            // YAML 1.1 reads "3e-4" as a string; accept it as the number it means.
            d = Double.parseDouble(((String) v).trim());
        } else if (v instanceof String && NON_FINITE.matcher(((String) v).trim()).matches()) {
            throw new NotFinite();
        } else {
            throw new IllegalArgumentException();
        }
        if (!Double.isFinite(d)) {
            throw new NotFinite(); // NaN, Infinity, or a literal beyond the double range
        }
        return d;
    }

    /** Decimal numbers as written in a recipe (not Java's hex floats or "1d"). */
    private static final java.util.regex.Pattern DECIMAL = java.util.regex.Pattern.compile("[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?");
    private static final java.util.regex.Pattern NON_FINITE = java.util.regex.Pattern.compile("[+-]?(?i)(nan|infinity|inf|\\.nan|\\.inf)");

    /** A number that is NaN or infinite. */
    private static final class NotFinite extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;
    }

    private Boolean asBoolean(Object v) {
        if (v instanceof Boolean) {
            return (Boolean) v;
        }
        throw new IllegalArgumentException();
    }

    private static <T> List<T> listOf(Object v, Function<Object, T> item) {
        if (v instanceof List) {
            List<T> out = new ArrayList<>();
            for (Object o : (List<?>) v) {
                if (o == null) {
                    throw new IllegalArgumentException();
                }
                out.add(item.apply(o));
            }
            return List.copyOf(out);
        }
        if (v instanceof Map) {
            throw new IllegalArgumentException();
        }
        return List.of(item.apply(v));
    }

    static String describe(Object value) {
        if (value == null) {
            return "nothing (an empty value)";
        }
        if (value instanceof String) {
            return "string \"" + value + "\"";
        }
        if (value instanceof Map) {
            return "a section";
        }
        if (value instanceof List) {
            return "a list";
        }
        if (value instanceof Boolean) {
            return "boolean " + value;
        }
        return "number " + value;
    }

    private static Object immutableCopy(Object value) {
        if (value instanceof Map) {
            Map<String, Object> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) {
                out.put(String.valueOf(e.getKey()), immutableCopy(e.getValue()));
            }
            return Collections.unmodifiableMap(out);
        }
        if (value instanceof List) {
            List<Object> out = new ArrayList<>();
            for (Object o : (List<?>) value) {
                out.add(immutableCopy(o));
            }
            return Collections.unmodifiableList(out);
        }
        return value;
    }
}
