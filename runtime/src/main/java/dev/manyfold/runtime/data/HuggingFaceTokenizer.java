package dev.manyfold.runtime.data;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * A Hugging Face tokenizer read from a local {@code tokenizer.json}, offline, through DJL's
 * native {@code tokenizers} binding.
 *
 * <p>Encoding adds no special tokens and neither truncates nor pads. The vocabulary size is
 * the largest id in the model vocabulary or the added tokens, plus one. The end-of-sequence
 * token is given by name, or the first of {@link #EOS_CANDIDATES} the vocabulary holds.
 * Thread-safe for encoding and decoding; close it to free the native tokenizer.
 */
public final class HuggingFaceTokenizer implements Tokenizer {
    /** Names tried, in order, when no end-of-sequence token is named. */
    public static final List<String> EOS_CANDIDATES = List.of("<|endoftext|>", "</s>", "<eos>", "<|eos|>",
            "<|end_of_text|>", "[EOS]", "[SEP]");

    private final ai.djl.huggingface.tokenizers.HuggingFaceTokenizer tokenizer;
    private final Path file;
    private final Map<String, Integer> vocabulary;
    private final int vocabularySize;
    private final int eos;

    private HuggingFaceTokenizer(ai.djl.huggingface.tokenizers.HuggingFaceTokenizer tokenizer, Path file,
            Map<String, Integer> vocabulary, int vocabularySize, int eos) {
        this.tokenizer = requireNonNull(tokenizer, "tokenizer is null");
        this.file = requireNonNull(file, "file is null");
        this.vocabulary = Map.copyOf(vocabulary);
        this.vocabularySize = vocabularySize;
        this.eos = eos;
    }

    /**
     * Loads a tokenizer. Its end-of-sequence token is the {@code eos_token} of a
     * {@code tokenizer_config.json} beside the file (a string or {@code {content: ...}}) when
     * there is one, else the first of {@link #EOS_CANDIDATES} in the vocabulary.
     */
    public static HuggingFaceTokenizer load(Path path) {
        Path file = Files.isDirectory(path) ? path.resolve("tokenizer.json") : path;
        Path config = file.toAbsolutePath().getParent().resolve("tokenizer_config.json");
        String eos = null;
        if (Files.isRegularFile(config)) {
            try {
                JsonNode node = new ObjectMapper().readTree(config.toFile()).path("eos_token");
                eos = node.isTextual() ? node.asText() : node.path("content").isTextual() ? node.path("content").asText() : null;
            } catch (IOException e) {
                throw new DataException("tokenizer config " + config + " is not valid JSON: " + e.getMessage(), e);
            }
        }
        return load(path, eos);
    }

    /**
     * Loads a tokenizer.
     *
     * @param path a {@code tokenizer.json}, or a directory holding one
     * @param eosToken the name of the end-of-sequence token; {@code null} to try
     *     {@link #EOS_CANDIDATES}
     * @throws DataException when the file is missing or unreadable, or the end-of-sequence
     *     token is not in the vocabulary
     */
    public static HuggingFaceTokenizer load(Path path, String eosToken) {
        requireNonNull(path, "path is null");
        Path file = Files.isDirectory(path) ? path.resolve("tokenizer.json") : path;
        if (!Files.isRegularFile(file)) {
            throw new DataException("tokenizer file " + file + " does not exist (data.tokenizer accepts `byte` or the path "
                    + "of a Hugging Face tokenizer.json)");
        }
        Map<String, Integer> vocabulary = new HashMap<>();
        try {
            JsonNode root = new ObjectMapper().readTree(file.toFile());
            JsonNode vocab = root.path("model").path("vocab");
            if (vocab.isObject()) {
                for (Map.Entry<String, JsonNode> e : vocab.properties()) {
                    vocabulary.put(e.getKey(), e.getValue().asInt());
                }
            } else if (vocab.isArray()) {
                for (int i = 0; i < vocab.size(); i++) {
                    vocabulary.put(vocab.get(i).path(0).asText(), i);
                }
            }
            for (JsonNode added : root.path("added_tokens")) {
                vocabulary.put(added.path("content").asText(), added.path("id").asInt());
            }
        } catch (IOException e) {
            throw new DataException("tokenizer file " + file + " is not valid JSON: " + e.getMessage(), e);
        }
        if (vocabulary.isEmpty()) {
            throw new DataException("tokenizer file " + file + " has an empty vocabulary (no model.vocab, no added_tokens)");
        }
        int size = vocabulary.values().stream().mapToInt(Integer::intValue).max().getAsInt() + 1;
        int eos = findEos(file, vocabulary, eosToken);
        ai.djl.huggingface.tokenizers.HuggingFaceTokenizer handle;
        try {
            handle = ai.djl.huggingface.tokenizers.HuggingFaceTokenizer.newInstance(file,
                    Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false"));
        } catch (IOException | RuntimeException e) {
            throw new DataException("cannot load tokenizer " + file + ": " + e.getMessage(), e);
        }
        return new HuggingFaceTokenizer(handle, file, vocabulary, size, eos);
    }

    @Override
    public int[] encode(String text) {
        long[] ids = tokenizer.encode(text, false, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    @Override
    public String decode(int[] tokens) {
        long[] ids = new long[tokens.length];
        int n = 0;
        for (int i = 0; i < tokens.length; i++) {
            int id = tokens[i];
            if (id < 0 || id >= vocabularySize) {
                throw new IllegalArgumentException("token " + id + " at position " + i + " is outside the vocabulary [0, "
                        + vocabularySize + ") of " + file);
            }
            if (id != eos) {
                ids[n++] = id;
            }
        }
        return tokenizer.decode(Arrays.copyOf(ids, n), false);
    }

    @Override
    public int vocabularySize() {
        return vocabularySize;
    }

    @Override
    public int eosToken() {
        return eos;
    }

    /** The id of a token by its exact text, if the vocabulary holds it. */
    public OptionalInt tokenId(String token) {
        Integer id = vocabulary.get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /** The file the tokenizer was read from. */
    public Path file() {
        return file;
    }

    @Override
    public void close() {
        tokenizer.close();
    }

    @Override
    public String toString() {
        return "HuggingFaceTokenizer[" + file + ", vocabulary=" + vocabularySize + ", eos=" + eos + "]";
    }

    private static int findEos(Path file, Map<String, Integer> vocabulary, String eosToken) {
        if (eosToken != null) {
            Integer id = vocabulary.get(eosToken);
            if (id == null) {
                throw new DataException("tokenizer " + file + " has no token \"" + eosToken + "\" to end documents with");
            }
            return id;
        }
        for (String candidate : EOS_CANDIDATES) {
            Integer id = vocabulary.get(candidate);
            if (id != null) {
                return id;
            }
        }
        throw new DataException("tokenizer " + file + " has no end-of-sequence token: none of " + EOS_CANDIDATES
                + " is in its vocabulary; add one to added_tokens");
    }
}
