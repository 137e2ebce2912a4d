package dev.manyfold.runtime.data;

import static java.util.Objects.requireNonNull;

import java.util.Arrays;
import java.util.List;

/**
 * One long token stream for language modelling: encoded documents, each followed by the
 * end-of-sequence token. The array is shared, not copied: treat it as read-only.
 *
 * @param tokens the stream, {@code [size]}
 * @param documentCount how many documents the stream holds
 * @param vocabularySize the tokenizer's vocabulary size; every token is below it
 * @param eosToken the id that ends each document
 */
public record TokenData(int[] tokens, int documentCount, int vocabularySize, int eosToken) {
    public TokenData {
        requireNonNull(tokens, "tokens is null");
        if (vocabularySize < 1 || eosToken < 0 || eosToken >= vocabularySize) {
            throw new IllegalArgumentException("eosToken " + eosToken + " is outside the vocabulary [0, " + vocabularySize + ")");
        }
    }

    /**
     * Encodes documents in order, appending {@code tokenizer.eosToken()} after each.
     *
     * @throws IllegalArgumentException when the tokenizer returns an id outside its vocabulary
     */
    public static TokenData encode(List<String> documents, Tokenizer tokenizer) {
        requireNonNull(documents, "documents is null");
        requireNonNull(tokenizer, "tokenizer is null");
        int vocabulary = tokenizer.vocabularySize();
        int eos = tokenizer.eosToken();
        int[] stream = new int[1024];
        int size = 0;
        for (String document : documents) {
            int[] ids = tokenizer.encode(document);
            if (size + ids.length + 1 > stream.length) {
                stream = Arrays.copyOf(stream, Math.max(stream.length * 2, size + ids.length + 1));
            }
            for (int id : ids) {
                if (id < 0 || id >= vocabulary) {
                    throw new IllegalArgumentException("tokenizer " + tokenizer + " returned id " + id
                            + " outside its vocabulary [0, " + vocabulary + ")");
                }
                stream[size++] = id;
            }
            stream[size++] = eos;
        }
        return new TokenData(Arrays.copyOf(stream, size), documents.size(), vocabulary, eos);
    }

    /** The number of tokens. */
    public int size() {
        return tokens.length;
    }

    @Override
    public String toString() {
        return "TokenData[tokens=" + size() + ", documents=" + documentCount + ", vocabulary=" + vocabularySize + "]";
    }
}
