package dev.manyfold.plugin.speculative;

import dev.manyfold.testkit.TestingContext;
import dev.manyfold.testkit.TinyLanguageModel;
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
    private static TinyLanguageModel tiny;
    private static LanguageModel model;

    @BeforeAll
    static void setUp() {
        tiny = new TinyLanguageModel(Decoders.LAYERS, 5);
        tiny.trainedExits(List.of(2, 4));
        model = tiny.withEos(-1);
    }

    @AfterAll
    static void tearDown() {
        tiny.close();
    }

    private static Decoder withoutModel(String type, Map<String, ?> settings) {
        return Decoders.create(type, settings, TestingContext.validating());
    }

    @Test
    void aDraftExitThatIsNotATrainedExitIsRefusedWithItsPathAndTheTrainedExits() {
        // API 1.1: the context carries the trained exits, so the factory refuses before anything is generated.
        assertThatThrownBy(() -> Decoders.create(tiny, "self-speculative", Map.of("draft", 3))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("decode.draft").hasMessageContaining("not a trained exit").hasMessageContaining("[2, 4]");
        // A host that does not pass them (API 1.0): refused at generate, with the same message.
        Decoder d = withoutModel("self-speculative", Map.of("draft", 3));
        assertThatThrownBy(() -> d.generate(model, new int[] {1}, 4, t -> { })).isInstanceOf(ConfigException.class)
                .hasMessageContaining("decode.draft").hasMessageContaining("not a trained exit").hasMessageContaining("[2, 4]");
    }

    @Test
    void aDraftExitAtOrBeyondTheFullDepthIsRefused() {
        assertThatThrownBy(() -> Decoders.create(tiny, "self-speculative", Map.of("draft", 4))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("decode.draft").hasMessageContaining("[1, 3]");
        Decoder late = withoutModel("self-speculative", Map.of("draft", 4));
        assertThatThrownBy(() -> late.generate(model, new int[] {1}, 4, t -> { })).isInstanceOf(ConfigException.class)
                .hasMessageContaining("decode.draft").hasMessageContaining("full model");
        assertThatThrownBy(() -> Decoders.create(tiny, "self-speculative", Map.of("draft", 0))).hasMessageContaining("decode.draft");
    }

    @Test
    void aMissingDraftIsRefused() {
        assertThatThrownBy(() -> Decoders.create(tiny, "self-speculative", Map.of("k", 2))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("decode.draft: required key is missing");
    }

    @Test
    void aDraftLengthKOfZeroOrLessIsRefused() {
        for (int k : new int[] {0, -3}) {
            assertThatThrownBy(() -> Decoders.create(tiny, "self-speculative", Map.of("draft", 2, "k", k))).isInstanceOf(ConfigException.class)
                    .hasMessageContaining("decode.k").hasMessageContaining("must be positive");
        }
        assertThatThrownBy(() -> Decoders.create(tiny, "self-speculative", Map.of("draft", 2, "k", 4, "adaptive", true, "max-k", 2)))
                .hasMessageContaining("decode.max-k");
        assertThatThrownBy(() -> Decoders.create(tiny, "self-speculative", Map.of("draft", 2, "draft-confidence", 1.5)))
                .hasMessageContaining("decode.draft-confidence");
    }

    @Test
    void thresholdsOutsideZeroToOneAreRefused() {
        for (double tau : new double[] {0, -0.1, 1.5}) {
            assertThatThrownBy(() -> Decoders.create(tiny, "early-exit", Map.of("thresholds", Map.of("2", tau)))).isInstanceOf(ConfigException.class)
                    .hasMessageContaining("decode.thresholds.2").hasMessageContaining("outside (0, 1]");
        }
    }

    @Test
    void aMaxDepthThatIsNotATrainedExitOrThresholdsAtOrBelowItAreRefusedWithTheirPaths() {
        assertThatThrownBy(() -> Decoders.create(tiny, "early-exit", Map.of("thresholds", Map.of("2", 0.5), "max-depth", 3))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("decode.max-depth").hasMessageContaining("max-depth 3 is not a trained exit").hasMessageContaining("[2, 4]");
        assertThatThrownBy(() -> Decoders.create(tiny, "early-exit", Map.of("thresholds", Map.of("2", 0.5), "max-depth", 5))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("decode.max-depth").hasMessageContaining("deeper than allowed for a model of 4 layers");
        assertThatThrownBy(() -> Decoders.create(tiny, "early-exit", Map.of("thresholds", Map.of("2", 0.5), "max-depth", 0))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("decode.max-depth").hasMessageContaining("not a depth");
        assertThatThrownBy(() -> Decoders.create(tiny, "early-exit", Map.of("thresholds", Map.of("2", 0.5), "max-depth", 2))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("decode.thresholds.2").hasMessageContaining("never tried: max-depth 2 always emits first");
        // Without a model at creation, generate refuses the same (the trained exits are known there).
        Decoder untrained = withoutModel("early-exit", Map.of("thresholds", Map.of("2", 0.5), "max-depth", 3));
        assertThatThrownBy(() -> untrained.generate(model, new int[] {1, 2}, 4, x -> { })).isInstanceOf(ConfigException.class)
                .hasMessageContaining("decode.max-depth").hasMessageContaining("not a trained exit");
    }

    @Test
    void thresholdsForAnExitThatDoesNotExistAreRefused() {
        assertThatThrownBy(() -> Decoders.create(tiny, "early-exit", Map.of("thresholds", Map.of("7", 0.9)))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("decode.thresholds.7").hasMessageContaining("does not exist");
        // Depth 3 exists but is not a trained exit: refused at creation with the model's exits, else at generate.
        assertThatThrownBy(() -> Decoders.create(tiny, "early-exit", Map.of("thresholds", Map.of("3", 0.9))))
                .hasMessageContaining("decode.thresholds.3").hasMessageContaining("not a trained exit");
        Decoder untrained = withoutModel("early-exit", Map.of("thresholds", Map.of("3", 0.9)));
        assertThatThrownBy(() -> untrained.generate(model, new int[] {1}, 4, t -> { })).isInstanceOf(ConfigException.class)
                .hasMessageContaining("decode.thresholds.3").hasMessageContaining("not a trained exit");
        Decoder late = withoutModel("early-exit", Map.of("thresholds", Map.of("9", 0.9)));
        assertThatThrownBy(() -> late.generate(model, new int[] {1}, 4, t -> { })).hasMessageContaining("decode.thresholds.9");
        assertThatThrownBy(() -> Decoders.create(tiny, "early-exit", Map.of("thresholds", Map.of("two", 0.9)))).hasMessageContaining("decode.thresholds.two");
        assertThatThrownBy(() -> Decoders.create(tiny, "early-exit", Map.of("thresholds", Map.of("4", 0.9)))).hasMessageContaining("always emits");
        assertThatThrownBy(() -> Decoders.create(tiny, "early-exit", Map.of())).hasMessageContaining("decode.thresholds: required key is missing");
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
        int[] tooLong = new int[TinyLanguageModel.CONTEXT + 1];
        for (Decoder d : decoders()) {
            assertThatThrownBy(() -> d.generate(model, tooLong, 1, t -> { })).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("41 tokens").hasMessageContaining("context is 40");
            assertThatThrownBy(() -> d.generate(model, new int[30], 11, t -> { })).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("at most 10 new tokens");
            assertThatThrownBy(() -> d.generate(model, new int[] {TinyLanguageModel.VOCAB}, 1, t -> { })).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("outside the vocabulary");
        }
    }

    @Test
    void anUnknownKeyIsRefusedWithTheClosestAcceptedKey() {
        assertThatThrownBy(() -> Decoders.create(tiny, "self-speculative", Map.of("draft", 2, "adaptiv", true))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("decode.adaptiv").hasMessageContaining("did you mean \"adaptive\"");
    }

    @Test
    void greedySamplingKnobsAreCheckedAndRefusedWithoutATemperature() {
        assertThatThrownBy(() -> Decoders.create(tiny, "greedy", Map.of("top-k", 5))).hasMessageContaining("decode.top-k");
        assertThatThrownBy(() -> Decoders.create(tiny, "greedy", Map.of("temperature", -1))).hasMessageContaining("decode.temperature");
        assertThatThrownBy(() -> Decoders.create(tiny, "greedy", Map.of("temperature", 1, "top-p", 0))).hasMessageContaining("decode.top-p");
        assertThatThrownBy(() -> Decoders.create(tiny, "greedy", Map.of("exit", 1))).hasMessageContaining("decode.exit")
                .hasMessageContaining("not a trained exit");
        Decoder untrained = withoutModel("greedy", Map.of("exit", 1));
        assertThatThrownBy(() -> untrained.generate(model, new int[] {1}, 4, t -> { })).hasMessageContaining("decode.exit")
                .hasMessageContaining("not a trained exit");
    }

    private static List<Decoder> decoders() {
        return List.of(Decoders.create(tiny, "greedy", Map.of()), Decoders.create(tiny, "self-speculative", Map.of("draft", 2)),
                Decoders.create(tiny, "early-exit", Map.of("thresholds", Map.of("2", 0.9))));
    }
}
