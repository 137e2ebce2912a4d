package dev.manyfold.runtime.data;

import java.nio.charset.StandardCharsets;

/**
 * Tokens are the UTF-8 bytes of the text ({@code 0..255}) plus one end-of-sequence token,
 * {@code 256}: a vocabulary of 257 that needs no files and round-trips any text exactly.
 * Stateless and thread-safe.
 */
public final class ByteTokenizer implements Tokenizer {
    /** The end-of-sequence id. */
    public static final int EOS = 256;
    /** Byte values plus {@link #EOS}. */
    public static final int VOCABULARY_SIZE = 257;

    @Override
    public int[] encode(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            ids[i] = bytes[i] & 0xFF;
        }
        return ids;
    }

    /** {@inheritDoc} Byte sequences that are not valid UTF-8 decode to U+FFFD. */
    @Override
    public String decode(int[] tokens) {
        byte[] bytes = new byte[tokens.length];
        int n = 0;
        for (int i = 0; i < tokens.length; i++) {
            int id = tokens[i];
            if (id == EOS) {
                continue;
            }
            if (id < 0 || id > 255) {
                throw new IllegalArgumentException("token " + id + " at position " + i + " is outside the byte vocabulary [0, "
                        + VOCABULARY_SIZE + ")");
            }
            bytes[n++] = (byte) id;
        }
        return new String(bytes, 0, n, StandardCharsets.UTF_8);
    }

    @Override
    public int vocabularySize() {
        return VOCABULARY_SIZE;
    }

    @Override
    public int eosToken() {
        return EOS;
    }

    @Override
    public String toString() {
        return "ByteTokenizer[vocabulary=" + VOCABULARY_SIZE + ", eos=" + EOS + "]";
    }
}
