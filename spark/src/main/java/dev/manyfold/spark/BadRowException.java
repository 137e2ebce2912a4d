package dev.manyfold.spark;

/** An input row the job cannot use; the message names the row (its number and id). */
public final class BadRowException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public BadRowException(String message) {
        super(message);
    }
}
