package dev.manyfold.plugin.speculative;

import dev.manyfold.testkit.Contracts;
import dev.manyfold.testkit.TinyLanguageModel;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Every decoder of this plugin meets the testkit's decoder contract (EOS, budget, streaming, thread-safety). */
class DecoderContractTest {
    private static TinyLanguageModel tiny;

    @BeforeAll
    static void setUp() {
        tiny = new TinyLanguageModel(Decoders.LAYERS, 5);
    }

    @AfterAll
    static void tearDown() {
        tiny.close();
    }

    @ParameterizedTest
    @CsvSource({"greedy", "self-speculative", "early-exit"})
    void theDecoderMeetsTheContract(String type) throws Exception {
        Map<String, ?> settings = switch (type) {
            case "self-speculative" -> Map.of("draft", 2, "adaptive", true);
            case "early-exit" -> Map.of("thresholds", Map.of("1", 0.8, "2", 0.6));
            default -> Map.of();
        };
        Contracts.decoder(Decoders.create(tiny, type, settings), tiny);
    }
}
