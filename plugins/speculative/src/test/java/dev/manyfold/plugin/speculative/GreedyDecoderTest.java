package dev.manyfold.plugin.speculative;

import dev.manyfold.testkit.TinyLanguageModel;
import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.decoder.LanguageModel;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class GreedyDecoderTest {
    private static TinyLanguageModel tiny;
    private static LanguageModel model;

    @BeforeAll
    static void setUp() {
        tiny = new TinyLanguageModel(Decoders.LAYERS, 5);
        model = tiny.withEos(-1);
    }

    @AfterAll
    static void tearDown() {
        tiny.close();
    }

    @Test
    void kvCachedDecodingAtEveryExitEqualsArgmaxOfANoCacheRecomputation() {
        for (int exit = 1; exit <= Decoders.LAYERS; exit++) {
            Decoder greedy = Decoders.create(tiny, "greedy", Map.of("exit", exit));
            for (int[] prompt : TinyLanguageModel.prompts(4, exit, 1, 8)) {
                int[] tokens = greedy.generate(model, prompt, 12, t -> { }).tokens();
                int[] sequence = Arrays.copyOf(prompt, prompt.length + tokens.length);
                for (int i = 0; i < tokens.length; i++) {
                    int length = prompt.length + i;
                    float[] logits = tiny.noCacheLogits(Arrays.copyOf(sequence, length), List.of(exit)).get(0);
                    assertThat(tokens[i]).as("exit %d, token %d", exit, i).isEqualTo(Decoding.argmax(logits, length - 1, TinyLanguageModel.VOCAB));
                    sequence[length] = tokens[i];
                }
            }
        }
    }

    @Test
    void theFullDepthAsExitIsTheDefault() {
        int[] prompt = {1, 2, 3};
        assertThat(Decoders.create(tiny, "greedy", Map.of("exit", Decoders.LAYERS)).generate(model, prompt, 10, t -> { }).tokens())
                .containsExactly(Decoders.create(tiny, "greedy", Map.of()).generate(model, prompt, 10, t -> { }).tokens());
    }

    @Test
    void samplingRepeatsForASeedAndVariesAcrossSeeds() {
        int[] prompt = {7, 1, 4};
        Map<String, Object> settings = Map.of("temperature", 1.5, "top-p", 0.95, "seed", 3);
        int[] a = Decoders.create(tiny, "greedy", settings).generate(model, prompt, 25, t -> { }).tokens();
        int[] b = Decoders.create(tiny, "greedy", settings).generate(model, prompt, 25, t -> { }).tokens();
        assertThat(a).containsExactly(b);
        boolean differs = false;
        for (int seed = 4; seed < 10 && !differs; seed++) {
            differs = !Arrays.equals(a, Decoders.create(tiny, "greedy", Map.of("temperature", 1.5, "seed", seed)).generate(model, prompt, 25, t -> { }).tokens());
        }
        assertThat(differs).isTrue();
    }

    @Test
    void topKOfOneSamplesTheArgmax() {
        int[] prompt = {2, 9};
        assertThat(Decoders.create(tiny, "greedy", Map.of("temperature", 2.0, "top-k", 1, "seed", 8)).generate(model, prompt, 20, t -> { }).tokens())
                .containsExactly(Decoders.create(tiny, "greedy", Map.of()).generate(model, prompt, 20, t -> { }).tokens());
    }

    @Test
    void statisticsCountOneFullPassPerTokenAtTheFullDepthAndNoneAtAnExit() {
        var full = Decoders.create(tiny, "greedy", Map.of()).generate(model, new int[] {1}, 8, t -> { }).statistics();
        assertThat(full.get("full-passes-per-token")).isEqualTo(1.0);
        assertThat(full.get("exit-histogram.4")).isEqualTo(8.0);
        assertThat(full.get("tokens-per-second")).isPositive();
        assertThat(full.get("ms-per-token")).isPositive();
        var shallow = Decoders.create(tiny, "greedy", Map.of("exit", 2)).generate(model, new int[] {1}, 8, t -> { }).statistics();
        assertThat(shallow.get("full-passes-per-token")).isZero();
        assertThat(shallow.get("exit-histogram.2")).isEqualTo(8.0);
    }
}
