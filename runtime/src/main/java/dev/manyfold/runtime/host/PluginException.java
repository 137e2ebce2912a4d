package dev.manyfold.runtime.host;

/**
 * An exception thrown by plugin code (a factory or anything it created), reported with the
 * plugin, the kind and name of the factory and the method that failed, so a user sees whose
 * bug it is. The plugin's exception is the cause.
 */
public final class PluginException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String plugin;
    private final String factory;

    PluginException(String plugin, String kind, String factory, String method, Throwable cause) {
        super(kind + " \"" + factory + "\" of plugin [" + plugin + "] failed in " + method + ": " + describe(cause), cause);
        this.plugin = plugin;
        this.factory = factory;
    }

    /** The plugin's name. */
    public String plugin() {
        return plugin;
    }

    /** The factory's name, as a recipe writes it. */
    public String factory() {
        return factory;
    }

    /** Whether the plugin refused its input ({@link IllegalArgumentException}) rather than failing. */
    public boolean isBadInput() {
        return getCause() instanceof IllegalArgumentException;
    }

    private static String describe(Throwable t) {
        String m = t.getMessage();
        return t instanceof IllegalArgumentException && m != null ? m : t.getClass().getName() + (m == null ? "" : ": " + m);
    }
}
