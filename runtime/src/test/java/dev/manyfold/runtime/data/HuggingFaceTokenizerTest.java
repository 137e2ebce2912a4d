package dev.manyfold.runtime.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HuggingFaceTokenizerTest {
    @TempDir
    Path dir;

    /** A word-level tokenizer: lower-cases, splits on white space and punctuation. */
    private Path wordLevelTokenizer(String eos) throws IOException {
        String json = """
                {
                  "version": "1.0",
                  "truncation": null,
                  "padding": null,
                  "added_tokens": [
                    {"id": 0, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false,
                     "normalized": false, "special": true},
                    {"id": 1, "content": "%EOS%", "single_word": false, "lstrip": false, "rstrip": false,
                     "normalized": false, "special": true}
                  ],
                  "normalizer": {"type": "Lowercase"},
                  "pre_tokenizer": {"type": "Whitespace"},
                  "post_processor": null,
                  "decoder": null,
                  "model": {
                    "type": "WordLevel",
                    "vocab": {"[UNK]": 0, "%EOS%": 1, "the": 2, "cat": 3, "sat": 4, "on": 5, "mat": 6, ".": 7},
                    "unk_token": "[UNK]"
                  }
                }
                """.replace("%EOS%", eos);
        return Files.writeString(dir.resolve("tokenizer.json"), json);
    }

    @Test
    void wordLevelTokenizerEncodesWordsToTheirIds() throws IOException {
        try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.load(wordLevelTokenizer("</s>"))) {
            assertThat(tokenizer.encode("The cat sat on the mat.")).containsExactly(2, 3, 4, 5, 2, 6, 7);
            assertThat(tokenizer.encode("the dog sat")).containsExactly(2, 0, 4);
        }
    }

    @Test
    void decodeJoinsWordsAndSkipsEos() throws IOException {
        try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.load(wordLevelTokenizer("</s>"))) {
            assertThat(tokenizer.decode(new int[] {2, 3, 4, 1})).isEqualTo("the cat sat");
            assertThat(tokenizer.decode(tokenizer.encode("the cat sat on the mat"))).isEqualTo("the cat sat on the mat");
        }
    }

    @Test
    void vocabularySizeAndEosComeFromTheFile() throws IOException {
        try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.load(wordLevelTokenizer("</s>"))) {
            assertThat(tokenizer.vocabularySize()).isEqualTo(8);
            assertThat(tokenizer.eosToken()).isEqualTo(1);
            assertThat(tokenizer.tokenId("mat")).hasValue(6);
        }
    }

    @Test
    void directoryHoldingTokenizerJsonIsAccepted() throws IOException {
        wordLevelTokenizer("<|endoftext|>");

        try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.load(dir)) {
            assertThat(tokenizer.eosToken()).isEqualTo(1);
            assertThat(tokenizer.encode("cat")).containsExactly(3);
        }
    }

    @Test
    void namedEosTokenMustBeInTheVocabulary() throws IOException {
        Path file = wordLevelTokenizer("</s>");

        try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.load(file, "mat")) {
            assertThat(tokenizer.eosToken()).isEqualTo(6);
        }
        assertThatThrownBy(() -> HuggingFaceTokenizer.load(file, "<eot>"))
                .isInstanceOf(DataException.class)
                .hasMessageContaining("no token \"<eot>\"");
    }

    @Test
    void tokenizerWithoutAnyEosCandidateIsRejected() throws IOException {
        Path file = wordLevelTokenizer("[PAD]");

        assertThatThrownBy(() -> HuggingFaceTokenizer.load(file))
                .isInstanceOf(DataException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("no end-of-sequence token");
    }

    @Test
    void missingFileNamesTheAcceptedValues() {
        Path missing = dir.resolve("nope.json");

        assertThatThrownBy(() -> HuggingFaceTokenizer.load(missing))
                .isInstanceOf(DataException.class)
                .hasMessageContaining(missing.toString())
                .hasMessageContaining("data.tokenizer accepts `byte`");
    }

    @Test
    void longTextIsNotTruncated() throws IOException {
        try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.load(wordLevelTokenizer("</s>"))) {
            String text = "the cat sat on the mat . ".repeat(200);

            assertThat(tokenizer.encode(text)).hasSize(1400);
        }
    }

    @Test
    void beginningOfSequenceComesFromTokenizerConfigOrThePostProcessorTemplateAndIsNotRendered() throws IOException {
        Path file = wordLevelTokenizer("</s>");
        Files.writeString(file, Files.readString(file).replace("\"[UNK]\": 0,", "\"[UNK]\": 0, \"<s>\": 8,"));
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"add_bos_token\": true, \"bos_token\": {\"content\": \"<s>\"},"
                + " \"eos_token\": \"</s>\"}");
        try (HuggingFaceTokenizer t = HuggingFaceTokenizer.load(file)) {
            assertThat(t.encode("the cat")).containsExactly(8, 2, 3);
            assertThat(t.encodePart("the cat")).containsExactly(2, 3);
            assertThat(t.decode(new int[] {8, 2, 3, 1})).isEqualTo("the cat");
        }

        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": \"</s>\"}");
        Files.writeString(file, Files.readString(file).replace("\"post_processor\": null", "\"post_processor\": {\"type\": \"Sequence\","
                + " \"processors\": [{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": false, \"use_regex\": true},"
                + " {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\", \"type_id\": 0}},"
                + " {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}], \"pair\": [{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}},"
                + " {\"Sequence\": {\"id\": \"B\", \"type_id\": 1}}],"
                + " \"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [8], \"tokens\": [\"<s>\"]}}}]}"));
        try (HuggingFaceTokenizer t = HuggingFaceTokenizer.load(file)) {
            assertThat(t.bosToken()).hasValue(8);
        }

        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"add_bos_token\": false}");
        try (HuggingFaceTokenizer t = HuggingFaceTokenizer.load(file)) {
            assertThat(t.bosToken()).isEmpty();
            assertThat(t.encode("the cat")).containsExactly(2, 3);
        }
    }
}
