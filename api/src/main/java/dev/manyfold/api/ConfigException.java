package dev.manyfold.api;

import static java.util.Objects.requireNonNull;

/**
 * A recipe, settings or plugin descriptor that cannot be accepted.
 *
 * <p>The message always has three parts: <em>where</em> (a recipe path such as
 * {@code adapters[0].rank}, or a plugin name), <em>what</em> was wrong, and <em>what would be
 * accepted</em>. Thrown before any training starts, so nothing is lost.
 */
public class ConfigException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String path;
    private final String problem;
    private final String accepted;

    public ConfigException(String path, String problem, String accepted) {
        super(format(path, problem, accepted));
        this.path = requireNonNull(path, "path is null");
        this.problem = requireNonNull(problem, "problem is null");
        this.accepted = accepted == null ? "" : accepted;
    }

    /** Where the problem is: a recipe path ({@code train.steps}) or a plugin name. */
    public String path() {
        return path;
    }

    /** What was wrong. */
    public String problem() {
        return problem;
    }

    /** What would have been accepted; may be empty. */
    public String accepted() {
        return accepted;
    }

    private static String format(String path, String problem, String accepted) {
        String where = path == null || path.isEmpty() ? "<recipe>" : path;
        return accepted == null || accepted.isEmpty()
                ? where + ": " + problem
                : where + ": " + problem + " (accepted: " + accepted + ")";
    }
}
