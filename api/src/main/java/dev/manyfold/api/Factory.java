package dev.manyfold.api;

/**
 * A named factory contributed by a plugin. The name is what a recipe writes as {@code type}
 * (or as the key of a dimension); it must be unique across all loaded plugins.
 *
 * <p>Factories are created once per host and must be cheap, stateless and thread-safe:
 * {@link #create} may be called concurrently and many times (validation, training, eval).
 *
 * @param <T> the extension point produced
 */
public interface Factory<T> {
    /** The name a recipe uses, kebab-case, e.g. {@code "self-speculative"}. */
    String name();

    /** One line for {@code manyfold plugins}; empty by default. */
    default String description() {
        return "";
    }

    /**
     * Creates a configured instance.
     *
     * <p>Read every setting you accept from {@code settings}; the host rejects keys that were
     * never read, naming their recipe path. Throw {@link ConfigException} (easiest through
     * {@link Settings#invalid}) for values you cannot accept.
     *
     * @param settings the recipe section of this instance, without its {@code type} key
     * @param context host services
     */
    T create(Settings settings, Context context);
}
