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
    /** The beginning-of-sequence id {@link #encode} puts first, or -1. */
    private final int bos;

    private HuggingFaceTokenizer(ai.djl.huggingface.tokenizers.HuggingFaceTokenizer tokenizer, Path file,
            Map<String, Integer> vocabulary, int vocabularySize, int eos, int bos) {
        this.tokenizer = requireNonNull(tokenizer, "tokenizer is null");
        this.file = requireNonNull(file, "file is null");
        this.vocabulary = Map.copyOf(vocabulary);
        this.vocabularySize = vocabularySize;
        this.eos = eos;
        this.bos = bos;
    }

    /**
     * Loads a tokenizer as {@code transformers} uses it for a causal LM. Its end-of-sequence
     * token is the {@code eos_token} of a {@code tokenizer_config.json} beside the file (a string
     * or {@code {content: ...}}) when there is one, else the first of {@link #EOS_CANDIDATES} in
     * the vocabulary. {@link #encode} puts a beginning-of-sequence token first when
     * {@code tokenizer_config.json} says {@code add_bos_token: true} (its {@code bos_token}), or,
     * unless it says {@code false}, when {@code tokenizer.json}'s post-processor template starts
     * with a special token (Llama 2 and 3, Mistral); Qwen2 and GPT-2 tokenizers add none.
     */
    public static HuggingFaceTokenizer load(Path path) {
        Path file = Files.isDirectory(path) ? path.resolve("tokenizer.json") : path;
        Path config = file.toAbsolutePath().getParent().resolve("tokenizer_config.json");
        String eos = null;
        String bos = null;
        Boolean addBos = null;
        if (Files.isRegularFile(config)) {
            try {
                JsonNode root = new ObjectMapper().readTree(config.toFile());
                eos = tokenText(root.path("eos_token"));
                bos = tokenText(root.path("bos_token"));
                addBos = root.path("add_bos_token").isBoolean() ? root.get("add_bos_token").asBoolean() : null;
            } catch (IOException e) {
                throw new DataException("tokenizer config " + config + " is not valid JSON: " + e.getMessage(), e);
            }
        }
        HuggingFaceTokenizer t = load(path, eos);
        int bosId = -1;
        if (Boolean.TRUE.equals(addBos) && bos != null) {
            bosId = t.tokenId(bos).orElse(-1);
        } else if (addBos == null) {
            bosId = templateBos(t.file);
        }
        return bosId < 0 ? t : new HuggingFaceTokenizer(t.tokenizer, t.file, t.vocabulary, t.vocabularySize, t.eos, bosId);
    }

    private static String tokenText(JsonNode node) {
        return node.isTextual() ? node.asText() : node.path("content").isTextual() ? node.path("content").asText() : null;
    }

    /** The id of the special token a TemplateProcessing post-processor puts first in a single sequence, or -1. */
    private static int templateBos(Path file) {
        try {
            JsonNode post = new ObjectMapper().readTree(file.toFile()).path("post_processor");
            List<JsonNode> processors = new java.util.ArrayList<>();
            if ("Sequence".equals(post.path("type").asText())) {
                post.path("processors").forEach(processors::add);
            } else {
                processors.add(post);
            }
            for (JsonNode p : processors) {
                if ("TemplateProcessing".equals(p.path("type").asText())) {
                    JsonNode first = p.path("single").path(0).path("SpecialToken");
                    JsonNode ids = p.path("special_tokens").path(first.path("id").asText()).path("ids");
                    return first.isMissingNode() || !ids.isArray() || ids.isEmpty() ? -1 : ids.get(0).asInt();
                }
            }
            return -1;
        } catch (IOException e) {
            throw new DataException("tokenizer file " + file + " is not valid JSON: " + e.getMessage(), e);
        }
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
        return new HuggingFaceTokenizer(handle, file, vocabulary, size, eos, -1);
    }

    @Override
    public int[] encode(String text) {
        int[] part = encodePart(text);
        if (bos < 0) {
            return part;
        }
        int[] out = new int[part.length + 1];
        out[0] = bos;
        System.arraycopy(part, 0, out, 1, part.length);
        return out;
    }

    @Override
    public int[] encodePart(String text) {
        long[] ids = tokenizer.encode(text, false, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    /** The beginning-of-sequence token {@link #encode} puts first, if any (see {@link #load(Path)}). */
    public OptionalInt bosToken() {
        return bos < 0 ? OptionalInt.empty() : OptionalInt.of(bos);
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
            if (id != eos && id != bos) {
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
