package dev.manyfold.runtime.serve;

import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.runtime.data.ByteTokenizer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class TextStreamTest {
    private static final ByteTokenizer BYTES = new ByteTokenizer();

    private static List<String> feed(TextStream stream, String text) {
        List<String> deltas = new ArrayList<>();
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            deltas.add(stream.accept(b & 0xff));
            if (stream.stopped()) {
                break;
            }
        }
        deltas.add(stream.finish());
        return deltas;
    }

    @Test
    void withoutStopsEveryTokensTextIsReturnedAsItArrives() {
        TextStream stream = new TextStream(BYTES, List.of());

        assertThat(feed(stream, "abc")).containsExactly("a", "b", "c", "");
        assertThat(stream.text()).isEqualTo("abc");
        assertThat(stream.tokens()).isEqualTo(3);
    }

    @Test
    void anIncompleteUtf8SequenceWaitsForItsLastByte() {
        TextStream stream = new TextStream(BYTES, List.of());

        assertThat(feed(stream, "é!")).containsExactly("", "é", "!", "");
    }

    @Test
    void aStopSequenceEndsTheTextBeforeItAndNothingOfItIsEverSent() {
        TextStream stream = new TextStream(BYTES, List.of("END"));

        List<String> deltas = feed(stream, "abENxENDyz");

        assertThat(String.join("", deltas)).isEqualTo("abENx");
        assertThat(stream.stopped()).isTrue();
        assertThat(stream.tokens()).isEqualTo(8);
        assertThat(deltas).noneMatch(d -> d.contains("END"));
    }

    @Test
    void theEarliestOfSeveralStopSequencesWins() {
        TextStream stream = new TextStream(BYTES, List.of("zz", "b"));

        assertThat(String.join("", feed(stream, "aabzz"))).isEqualTo("aa");
    }

    @Test
    void heldBackTextIsReleasedWhenTheDecodeEndsWithoutAStop() {
        TextStream stream = new TextStream(BYTES, List.of("xyz"));

        List<String> deltas = feed(stream, "abcxy");

        assertThat(deltas.get(deltas.size() - 1)).isEqualTo("xy");
        assertThat(stream.text()).isEqualTo("abcxy");
        assertThat(stream.stopped()).isFalse();
    }
}
