package dev.manyfold.runtime.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ByteTokenizerTest {
    private final ByteTokenizer tokenizer = new ByteTokenizer();

    @Test
    void asciiEncodesToItsBytes() {
        assertThat(tokenizer.encode("Hi!")).containsExactly(72, 105, 33);
    }

    @Test
    void nonAsciiTextRoundTripsThroughUtf8Bytes() {
        String text = "Grüße, 東京 — naïve café 🙂\n\ttab";

        int[] ids = tokenizer.encode(text);

        assertThat(ids).hasSizeGreaterThan(text.length());
        assertThat(java.util.Arrays.stream(ids).allMatch(id -> id >= 0 && id <= 255)).isTrue();
        assertThat(tokenizer.encode("ü")).containsExactly(0xC3, 0xBC);
        assertThat(tokenizer.decode(ids)).isEqualTo(text);
    }

    @Test
    void vocabularyIsTheBytesPlusEos() {
        assertThat(tokenizer.vocabularySize()).isEqualTo(257);
        assertThat(tokenizer.eosToken()).isEqualTo(256);
    }

    @Test
    void decodeSkipsEos() {
        assertThat(tokenizer.decode(new int[] {104, 256, 105, 256})).isEqualTo("hi");
    }

    @Test
    void decodeRejectsIdsOutsideTheVocabulary() {
        assertThatThrownBy(() -> tokenizer.decode(new int[] {104, 300}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("token 300 at position 1");
    }
}
