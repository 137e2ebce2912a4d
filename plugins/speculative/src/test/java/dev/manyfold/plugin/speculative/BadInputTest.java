package dev.manyfold.plugin.speculative;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.manyfold.api.ConfigException;
import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.decoder.LanguageModel;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class BadInputTest {
    private static TinyModel tiny;
    private static LanguageModel model;

    @BeforeAll
    static void setUp() {
        tiny = new TinyModel(5);
        tiny.llama.setExits(List.of(2, 4));
        model = tiny.withEos(-1);
    }

    @AfterAll
    static void tearDown() {
        tiny.close();
    }

    private static Decoder withoutModel(String type, Map<String, ?> settings) {
        return TinyModel.create(type, settings, TinyModel.context(Optional.empty()));
    }

    @Test
    void aDraftExitThatIsNotATrainedExitIsRefusedWithItsPathAndTheTrainedExits() {
        Decoder d = tiny.decoder("self-speculative", Map.of("draft", 3));
        assertThatThrownBy(() -> d.generate(model, new int[] {1}, 4, t -> { })).isInstanceOf(ConfigException.class)
                .hasMessageContaining("decode.draft").hasMessageContaining("not a trained exit").hasMessageContaining("[2, 4]");
    }

    @Test
    void aDraftExitAtOrBeyondTheFullDepthIsRefused() {
        assertThatThrownBy(() -> tiny.decoder("self-speculative", Map.of("draft", 4))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("decode.draft").hasMessageContaining("[1, 3]");
        Decoder late = withoutModel("self-speculative", Map.of("draft", 4));
        assertThatThrownBy(() -> late.generate(model, new int[] {1}, 4, t -> { })).isInstanceOf(ConfigException.class)
                .hasMessageContaining("decode.draft").hasMessageContaining("full model");
        assertThatThrownBy(() -> tiny.decoder("self-speculative", Map.of("draft", 0))).hasMessageContaining("decode.draft");
    }

    @Test
    void aMissingDraftIsRefused() {
        assertThatThrownBy(() -> tiny.decoder("self-speculative", Map.of("k", 2))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("decode.draft: required key is missing");
    }

    @Test
    void aDraftLengthKOfZeroOrLessIsRefused() {
        for (int k : new int[] {0, -3}) {
            assertThatThrownBy(() -> tiny.decoder("self-speculative", Map.of("draft", 2, "k", k))).isInstanceOf(ConfigException.class)
                    .hasMessageContaining("decode.k").hasMessageContaining("must be positive");
        }
        assertThatThrownBy(() -> tiny.decoder("self-speculative", Map.of("draft", 2, "k", 4, "adaptive", true, "max-k", 2)))
                .hasMessageContaining("decode.max-k");
        assertThatThrownBy(() -> tiny.decoder("self-speculative", Map.of("draft", 2, "draft-confidence", 1.5)))
                .hasMessageContaining("decode.draft-confidence");
    }

    @Test
    void thresholdsOutsideZeroToOneAreRefused() {
        for (double tau : new double[] {0, -0.1, 1.5}) {
            assertThatThrownBy(() -> tiny.decoder("early-exit", Map.of("thresholds", Map.of("2", tau)))).isInstanceOf(ConfigException.class)
                    .hasMessageContaining("decode.thresholds.2").hasMessageContaining("outside (0, 1]");
        }
    }

    @Test
    void thresholdsForAnExitThatDoesNotExistAreRefused() {
        assertThatThrownBy(() -> tiny.decoder("early-exit", Map.of("thresholds", Map.of("7", 0.9)))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("decode.thresholds.7").hasMessageContaining("does not exist");
        // Known only once the model is at hand: depth 3 exists but is not a trained exit.
        Decoder untrained = tiny.decoder("early-exit", Map.of("thresholds", Map.of("3", 0.9)));
        assertThatThrownBy(() -> untrained.generate(model, new int[] {1}, 4, t -> { })).isInstanceOf(ConfigException.class)
                .hasMessageContaining("decode.thresholds.3").hasMessageContaining("not a trained exit");
        Decoder late = withoutModel("early-exit", Map.of("thresholds", Map.of("9", 0.9)));
        assertThatThrownBy(() -> late.generate(model, new int[] {1}, 4, t -> { })).hasMessageContaining("decode.thresholds.9");
        assertThatThrownBy(() -> tiny.decoder("early-exit", Map.of("thresholds", Map.of("two", 0.9)))).hasMessageContaining("decode.thresholds.two");
        assertThatThrownBy(() -> tiny.decoder("early-exit", Map.of("thresholds", Map.of("4", 0.9)))).hasMessageContaining("always emits");
        assertThatThrownBy(() -> tiny.decoder("early-exit", Map.of())).hasMessageContaining("decode.thresholds: required key is missing");
    }

    @Test
    void anEmptyPromptIsRefusedByEveryDecoder() {
        for (Decoder d : decoders()) {
            assertThatThrownBy(() -> d.generate(model, new int[0], 4, t -> { })).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("prompt is empty");
        }
    }

    @Test
    void aPromptLongerThanTheContextIsRefusedByEveryDecoder() {
        int[] tooLong = new int[TinyModel.CONTEXT + 1];
        for (Decoder d : decoders()) {
            assertThatThrownBy(() -> d.generate(model, tooLong, 1, t -> { })).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("41 tokens").hasMessageContaining("context is 40");
            assertThatThrownBy(() -> d.generate(model, new int[30], 11, t -> { })).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("at most 10 new tokens");
            assertThatThrownBy(() -> d.generate(model, new int[] {TinyModel.VOCAB}, 1, t -> { })).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("outside the vocabulary");
        }
    }

    @Test
    void anUnknownKeyIsRefusedWithTheClosestAcceptedKey() {
        assertThatThrownBy(() -> tiny.decoder("self-speculative", Map.of("draft", 2, "adaptiv", true))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("decode.adaptiv").hasMessageContaining("did you mean \"adaptive\"");
    }

    @Test
    void greedySamplingKnobsAreCheckedAndRefusedWithoutATemperature() {
        assertThatThrownBy(() -> tiny.decoder("greedy", Map.of("top-k", 5))).hasMessageContaining("decode.top-k");
        assertThatThrownBy(() -> tiny.decoder("greedy", Map.of("temperature", -1))).hasMessageContaining("decode.temperature");
        assertThatThrownBy(() -> tiny.decoder("greedy", Map.of("temperature", 1, "top-p", 0))).hasMessageContaining("decode.top-p");
        Decoder untrained = tiny.decoder("greedy", Map.of("exit", 1));
        assertThatThrownBy(() -> untrained.generate(model, new int[] {1}, 4, t -> { })).hasMessageContaining("decode.exit")
                .hasMessageContaining("not a trained exit");
    }

    private static List<Decoder> decoders() {
        return List.of(tiny.decoder("greedy", Map.of()), tiny.decoder("self-speculative", Map.of("draft", 2)),
                tiny.decoder("early-exit", Map.of("thresholds", Map.of("2", 0.9))));
    }
}
