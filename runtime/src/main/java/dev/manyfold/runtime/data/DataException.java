package dev.manyfold.runtime.data;

/**
 * A data set that cannot be read: missing, corrupt or inconsistent.
 *
 * <p>The message names the file or directory, says what was wrong and, for a missing
 * data set, how to install it.
 */
public class DataException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public DataException(String message) {
        super(message);
    }

    public DataException(String message, Throwable cause) {
        super(message, cause);
    }
}
