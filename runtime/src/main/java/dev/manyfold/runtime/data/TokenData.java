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
 * @param unlabelledFrom the stream positions from here on are inputs only: as next-token
 *     targets they get the label {@link dev.manyfold.api.objective.Batch#UNLABELLED}
 *     (distillation-only text, appended after the labelled documents); {@code tokens.length}
 *     when every position is labelled
 */
public record TokenData(int[] tokens, int documentCount, int vocabularySize, int eosToken, int unlabelledFrom) {
    public TokenData {
        requireNonNull(tokens, "tokens is null");
        if (vocabularySize < 1 || eosToken < 0 || eosToken >= vocabularySize) {
            throw new IllegalArgumentException("eosToken " + eosToken + " is outside the vocabulary [0, " + vocabularySize + ")");
        }
        if (unlabelledFrom < 0 || unlabelledFrom > tokens.length) {
            throw new IllegalArgumentException("unlabelledFrom " + unlabelledFrom + " is outside [0, " + tokens.length + "]");
        }
    }

    /** A stream whose every position is labelled. */
    public TokenData(int[] tokens, int documentCount, int vocabularySize, int eosToken) {
        this(tokens, documentCount, vocabularySize, eosToken, requireNonNull(tokens, "tokens is null").length);
    }

    /**
     * {@code labelled} followed by {@code unlabelled}, whose positions become inputs only
     * ({@link #unlabelledFrom} is where they start).
     *
     * @throws IllegalArgumentException when the two were encoded with different vocabularies
     */
    public static TokenData append(TokenData labelled, TokenData unlabelled) {
        if (labelled.vocabularySize != unlabelled.vocabularySize || labelled.eosToken != unlabelled.eosToken) {
            throw new IllegalArgumentException("cannot append " + unlabelled + " to " + labelled + ": different vocabularies");
        }
        int[] joined = Arrays.copyOf(labelled.tokens, labelled.size() + unlabelled.size());
        System.arraycopy(unlabelled.tokens, 0, joined, labelled.size(), unlabelled.size());
        return new TokenData(joined, labelled.documentCount + unlabelled.documentCount, labelled.vocabularySize, labelled.eosToken,
                labelled.unlabelledFrom);
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
        return "TokenData[tokens=" + size() + (unlabelledFrom < size() ? " (unlabelled from " + unlabelledFrom + ")" : "") + ", documents="
                + documentCount + ", vocabulary=" + vocabularySize + "]";
    }
}
