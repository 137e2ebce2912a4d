package dev.manyfold.runtime.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class LanguageModelBatcherTest {

    /** Token i of the stream is i % 250, so a token's position is easy to recover. */
    private static TokenData stream(int n) {
        int[] tokens = new int[n];
        for (int i = 0; i < n; i++) {
            tokens[i] = i % 250;
        }
        return new TokenData(tokens, 1, 257, 256);
    }

    @Test
    void labelsAreTheInputsShiftedByOneToken() {
        TokenData data = TokenData.encode(List.of("The quick brown fox", "jumps over the lazy dog"), new ByteTokenizer());
        TokenBatch batch = new LanguageModelBatcher(data, 8, 4, 42).batch(0);

        assertThat(batch.inputs()).hasSize(32);
        assertThat(batch.labels()).hasSize(32);
        for (int r = 0; r < batch.size(); r++) {
            int start = batch.starts()[r];
            for (int i = 0; i < 8; i++) {
                assertThat(batch.inputs()[r * 8 + i]).isEqualTo(data.tokens()[start + i]);
                assertThat(batch.labels()[r * 8 + i]).isEqualTo(data.tokens()[start + i + 1]);
                if (i < 7) {
                    assertThat(batch.inputs()[r * 8 + i + 1]).isEqualTo(batch.labels()[r * 8 + i]);
                }
            }
        }
    }

    @Test
    void targetsInsideAppendedUnlabelledTextGetTheUnlabelledLabelAndInputsStayTheText() {
        TokenData labelled = TokenData.encode(List.of("The quick brown fox", "jumps over"), new ByteTokenizer());
        TokenData unlabelled = TokenData.encode(List.of("the lazy dog and the lazy cat"), new ByteTokenizer());
        TokenData data = TokenData.append(labelled, unlabelled);
        assertThat(data.unlabelledFrom()).isEqualTo(labelled.size());
        assertThat(data.documentCount()).isEqualTo(3);
        assertThat(data.size()).isEqualTo(labelled.size() + unlabelled.size());

        int seen = 0;
        for (TokenBatch batch : LanguageModelBatcher.sequential(data, 8, 2)) {
            for (int r = 0; r < batch.size(); r++) {
                for (int i = 0; i < 8; i++) {
                    int target = batch.starts()[r] + i + 1;
                    assertThat(batch.inputs()[r * 8 + i]).isEqualTo(data.tokens()[target - 1]);
                    assertThat(batch.labels()[r * 8 + i]).isEqualTo(target < labelled.size() ? data.tokens()[target]
                            : dev.manyfold.api.objective.Batch.UNLABELLED);
                    seen += target >= labelled.size() ? 1 : 0;
                }
            }
        }
        assertThat(seen).isPositive();
        assertThatThrownBy(() -> new TokenData(new int[] {1, 2}, 1, 257, 256, 3)).hasMessageContaining("unlabelledFrom 3");
    }

    @Test
    void resumingAtStepKYieldsTheSameBatchesAsAnUninterruptedRun() {
        TokenData data = stream(5000);
        LanguageModelBatcher uninterrupted = new LanguageModelBatcher(data, 16, 8, 7);
        List<TokenBatch> expected = new ArrayList<>();
        for (int step = 0; step < 20; step++) {
            expected.add(uninterrupted.next());
        }

        LanguageModelBatcher resumed = new LanguageModelBatcher(data, 16, 8, new BatcherState(7, 13));

        for (int step = 13; step < 20; step++) {
            TokenBatch batch = resumed.next();
            assertThat(batch.starts()).isEqualTo(expected.get(step).starts());
            assertThat(batch.inputs()).isEqualTo(expected.get(step).inputs());
            assertThat(batch.labels()).isEqualTo(expected.get(step).labels());
        }
        assertThat(resumed.state()).isEqualTo(new BatcherState(7, 20));
    }

    @Test
    void differentStepsAndSeedsDrawDifferentWindows() {
        TokenData data = stream(100_000);
        LanguageModelBatcher batcher = new LanguageModelBatcher(data, 32, 8, 1);

        assertThat(batcher.batch(0).starts()).isNotEqualTo(batcher.batch(1).starts());
        assertThat(new LanguageModelBatcher(data, 32, 8, 2).batch(0).starts()).isNotEqualTo(batcher.batch(0).starts());
    }

    @Test
    void windowsStayInsideTheStreamAndReachItsEnd() {
        TokenData data = stream(12);
        LanguageModelBatcher batcher = new LanguageModelBatcher(data, 4, 16, 3);
        Set<Integer> starts = new HashSet<>();
        for (int step = 0; step < 50; step++) {
            for (int s : batcher.next().starts()) {
                starts.add(s);
            }
        }

        // Windows of 4 inputs + 1 label fit at offsets 0..7 of a 12-token stream.
        assertThat(starts).containsExactlyInAnyOrder(0, 1, 2, 3, 4, 5, 6, 7);
    }

    @Test
    void sequentialWindowsAreContiguousAndPredictEveryTokenOnce() {
        TokenData data = stream(23);
        List<Integer> sizes = new ArrayList<>();
        List<Integer> predicted = new ArrayList<>();
        for (TokenBatch batch : LanguageModelBatcher.sequential(data, 5, 3)) {
            sizes.add(batch.size());
            for (int label : batch.labels()) {
                predicted.add(label);
            }
        }

        assertThat(LanguageModelBatcher.windowCount(data, 5)).isEqualTo(4);
        assertThat(sizes).containsExactly(3, 1);
        // Labels are tokens 1..20: every position after the first, except the last two that do not fill a window.
        assertThat(predicted).isEqualTo(java.util.stream.IntStream.rangeClosed(1, 20).boxed().toList());
    }

    @Test
    void streamShorterThanOneWindowIsRejected() {
        assertThatThrownBy(() -> new LanguageModelBatcher(stream(8), 8, 2, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("8 tokens")
                .hasMessageContaining("needs 9");
    }
}
