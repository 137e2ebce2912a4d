package dev.manyfold.runtime.data;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class TokenDataTest {

    @Test
    void documentsAreConcatenatedEachFollowedByEos() {
        TokenData data = TokenData.encode(List.of("ab", "", "é"), new ByteTokenizer());

        assertThat(data.tokens()).containsExactly('a', 'b', 256, 256, 0xC3, 0xA9, 256);
        assertThat(data.documentCount()).isEqualTo(3);
        assertThat(data.vocabularySize()).isEqualTo(257);
        assertThat(data.eosToken()).isEqualTo(256);
    }

    @Test
    void streamLongerThanTheInitialBufferIsKeptWhole() {
        String document = "x".repeat(3000);

        TokenData data = TokenData.encode(List.of(document, document), new ByteTokenizer());

        assertThat(data.size()).isEqualTo(6002);
        assertThat(data.tokens()[3000]).isEqualTo(256);
        assertThat(data.tokens()[6001]).isEqualTo(256);
    }
}
