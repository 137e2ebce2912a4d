package dev.manyfold.runtime.hf;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.manyfold.runtime.data.ByteTokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tokenizer files of an exported Hugging Face directory. A model trained on an HF
 * tokenizer gets that tokenizer's files copied; a model trained on Manyfold's byte tokenizer
 * gets an equivalent {@code tokenizer.json}: a BPE model with no merges whose vocabulary is
 * the 256 byte tokens {@code <0x00>}..{@code <0xFF>} (ids 0..255) with {@code byte_fallback},
 * so every UTF-8 byte of the text becomes the token of the same id, plus {@code </s>} (256).
 */
public final class HfTokenizerFiles {
    /** The files copied from a source tokenizer's directory when present. */
    public static final List<String> FILES = List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
            "tokenizer.model");
    /** The end-of-sequence token of the byte tokenizer's {@code tokenizer.json}. */
    public static final String BYTE_EOS = "</s>";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private HfTokenizerFiles() {}

    /** Copies the tokenizer files beside {@code tokenizerJson} into {@code dir}; returns the names copied. */
    public static List<String> copy(Path tokenizerJson, Path dir) {
        Path source = tokenizerJson.toAbsolutePath().getParent();
        List<String> copied = new java.util.ArrayList<>();
        try {
            for (String name : FILES) {
                Path from = name.equals("tokenizer.json") ? tokenizerJson : source.resolve(name);
                if (Files.isRegularFile(from)) {
                    Files.copy(from, dir.resolve(name), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                    copied.add(name);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot copy tokenizer files from " + source + " to " + dir, e);
        }
        return copied;
    }

    /** Writes {@code tokenizer.json} and {@code tokenizer_config.json} equivalent to {@link ByteTokenizer}. */
    public static void writeByteTokenizer(Path dir, int contextLength) {
        Map<String, Object> vocab = new LinkedHashMap<>();
        for (int b = 0; b < 256; b++) {
            vocab.put(String.format("<0x%02X>", b), b);
        }
        vocab.put(BYTE_EOS, ByteTokenizer.EOS);
        Map<String, Object> model = new LinkedHashMap<>();
        model.put("type", "BPE");
        model.put("dropout", null);
        model.put("unk_token", null);
        model.put("continuing_subword_prefix", null);
        model.put("end_of_word_suffix", null);
        model.put("fuse_unk", false);
        model.put("byte_fallback", true);
        model.put("ignore_merges", false);
        model.put("vocab", vocab);
        model.put("merges", List.of());
        Map<String, Object> eos = new LinkedHashMap<>();
        eos.put("id", ByteTokenizer.EOS);
        eos.put("content", BYTE_EOS);
        eos.put("single_word", false);
        eos.put("lstrip", false);
        eos.put("rstrip", false);
        eos.put("normalized", false);
        eos.put("special", true);
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("version", "1.0");
        root.put("truncation", null);
        root.put("padding", null);
        root.put("added_tokens", List.of(eos));
        root.put("normalizer", null);
        root.put("pre_tokenizer", null);
        root.put("post_processor", null);
        root.put("decoder", Map.of("type", "Sequence", "decoders", List.of(Map.of("type", "ByteFallback"), Map.of("type", "Fuse"))));
        root.put("model", model);
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("tokenizer_class", "PreTrainedTokenizerFast");
        config.put("eos_token", BYTE_EOS);
        config.put("model_max_length", contextLength);
        config.put("clean_up_tokenization_spaces", false);
        try {
            JSON.writeValue(dir.resolve("tokenizer.json").toFile(), root);
            JSON.writeValue(dir.resolve("tokenizer_config.json").toFile(), config);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the tokenizer files to " + dir, e);
        }
    }
}
