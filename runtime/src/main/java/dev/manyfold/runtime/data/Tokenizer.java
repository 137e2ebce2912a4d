package dev.manyfold.runtime.data;

/**
 * Turns text into token ids and back.
 *
 * <p>Ids are in {@code [0, vocabularySize())}. {@link #encode} adds no end-of-sequence token:
 * callers append {@link #eosToken()} where a document ends. {@link #decode} renders no text
 * for the end-of-sequence token. A tokenizer may hold native resources; close it when done.
 */
public interface Tokenizer extends AutoCloseable {

    /** The ids of the text as a sequence of its own (a tokenizer may put a beginning-of-sequence token first). */
    int[] encode(String text);

    /** The ids of text that continues a sequence: {@link #encode} without a beginning-of-sequence token. */
    default int[] encodePart(String text) {
        return encode(text);
    }

    /**
     * The text of the ids; end-of-sequence tokens are skipped.
     *
     * @throws IllegalArgumentException when an id is outside {@code [0, vocabularySize())}
     */
    String decode(int[] tokens);

    /** The number of distinct ids; a model's embedding and output layers need this many rows. */
    int vocabularySize();

    /** The id that ends a document. */
    int eosToken();

    /** Releases native resources, if any; the default does nothing. */
    @Override
    default void close() {}
}
