package dev.manyfold.plugin.speculative;

import dev.manyfold.testkit.TinyLanguageModel;
import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.decoder.Generation;
import dev.manyfold.api.decoder.LanguageModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class SelfSpeculativeDecoderTest {
    private static final int EOS = 3;
    private static TinyLanguageModel tiny;
    private static LanguageModel model;
    private static Decoder greedy;

    @BeforeAll
    static void setUp() {
        tiny = new TinyLanguageModel(Decoders.LAYERS, 5);
        model = tiny.withEos(EOS);
        greedy = Decoders.create(tiny, "greedy", Map.of());
    }

    @AfterAll
    static void tearDown() {
        tiny.close();
    }

    /** 60 prompts: varied lengths and budgets, including budgets that fill the context exactly. */
    private static List<Case> cases() {
        List<Case> cases = new ArrayList<>();
        List<int[]> prompts = TinyLanguageModel.prompts(60, 17, 1, 12);
        for (int i = 0; i < prompts.size(); i++) {
            int[] p = prompts.get(i);
            int room = TinyLanguageModel.CONTEXT - p.length;
            int budget = switch (i % 6) {
                case 0 -> room;          // max-length edge: the last token lands on the last position
                case 1 -> 1;
                case 2 -> Math.min(room, 7);
                default -> Math.min(room, 20 + i % 5);
            };
            cases.add(new Case(p, budget));
        }
        return cases;
    }

    private record Case(int[] prompt, int maxNewTokens) {}

    @Test
    void outputIsTokenIdenticalToFullGreedyOnSixtyPromptsIncludingEosAndMaxLengthEdges() {
        Decoder speculative = Decoders.create(tiny, "self-speculative", Map.of("draft", 2, "adaptive", true));
        int endedAtEos = 0;
        int filledContext = 0;
        int endedAtBudget = 0;
        double drafted = 0;
        double accepted = 0;
        for (Case c : cases()) {
            Generation expected = greedy.generate(model, c.prompt(), c.maxNewTokens(), t -> { });
            List<Integer> streamed = new ArrayList<>();
            Generation actual = speculative.generate(model, c.prompt(), c.maxNewTokens(), streamed::add);
            assertThat(actual.tokens()).as("prompt %s, %d new tokens", java.util.Arrays.toString(c.prompt()), c.maxNewTokens())
                    .containsExactly(expected.tokens());
            assertThat(streamed).containsExactly(java.util.Arrays.stream(expected.tokens()).boxed().toArray(Integer[]::new));
            int[] t = expected.tokens();
            if (t.length > 0 && t[t.length - 1] == EOS) {
                endedAtEos++;
            } else {
                endedAtBudget++;
                if (c.prompt().length + t.length == TinyLanguageModel.CONTEXT) {
                    filledContext++;
                }
            }
            double rounds = actual.statistics().getOrDefault("rounds", 0.0);
            drafted += actual.statistics().getOrDefault("mean-k", 0.0) * rounds;
            accepted += actual.statistics().getOrDefault("acceptance-rate", 0.0) * actual.statistics().getOrDefault("mean-k", 0.0) * rounds;
        }
        // The edges were really exercised, and drafts were both accepted and rejected.
        assertThat(endedAtEos).isGreaterThanOrEqualTo(5);
        assertThat(endedAtBudget).isGreaterThanOrEqualTo(5);
        assertThat(filledContext).isGreaterThanOrEqualTo(2);
        assertThat(accepted).isGreaterThan(10);
        assertThat(drafted - accepted).isGreaterThan(10);
    }

    @Test
    void everyDraftExitAndFixedKGiveTheGreedyOutput() {
        List<Case> cases = cases().subList(0, 18);
        for (Map<String, Object> settings : List.<Map<String, Object>>of(Map.of("draft", 1, "k", 1), Map.of("draft", 1, "k", 4),
                Map.of("draft", 3, "k", 3), Map.of("draft", Map.of("depth", 2), "k", 2, "adaptive", true, "max-k", 5),
                Map.of("draft", 2, "adaptive", true, "draft-confidence", 0.5), Map.of("draft", 1, "k", 6, "draft-confidence", 0.9))) {
            Decoder speculative = Decoders.create(tiny, "self-speculative", settings);
            for (Case c : cases) {
                assertThat(speculative.generate(model, c.prompt(), c.maxNewTokens(), t -> { }).tokens()).as("%s on %s", settings,
                        java.util.Arrays.toString(c.prompt())).containsExactly(greedy.generate(model, c.prompt(), c.maxNewTokens(), t -> { }).tokens());
            }
        }
    }

    @Test
    void eosAsTheFirstTokenEndsTheDecodeAtOnce() {
        int[] prompt = {4, 8, 15};
        int first = greedy.generate(tiny.withEos(-1), prompt, 1, t -> { }).tokens()[0];
        LanguageModel stopsAtFirst = tiny.withEos(first);
        Generation g = Decoders.create(tiny, "self-speculative", Map.of("draft", 1)).generate(stopsAtFirst, prompt, 10, t -> { });
        assertThat(g.tokens()).containsExactly(first);
    }

    @Test
    void zeroNewTokensGiveAnEmptyOutputAndAFullContextPromptIsAccepted() {
        int[] prompt = TinyLanguageModel.prompts(1, 3, TinyLanguageModel.CONTEXT, TinyLanguageModel.CONTEXT).get(0);
        Decoder speculative = Decoders.create(tiny, "self-speculative", Map.of("draft", 2));
        assertThat(speculative.generate(model, prompt, 0, t -> { }).tokens()).isEmpty();
    }

    @Test
    void statisticsReportAcceptanceRejectionMeanKAndFewerThanOneFullPassPerToken() {
        // A prompt on which the draft agrees often (a repetitive continuation).
        Decoder speculative = Decoders.create(tiny, "self-speculative", Map.of("draft", 3, "adaptive", true));
        Generation g = speculative.generate(tiny.withEos(-1), new int[] {11, 14, 5, 19}, 30, t -> { });
        Map<String, Double> s = g.statistics();
        assertThat(s).containsKeys("tokens-per-second", "ms-per-token", "full-passes-per-token", "acceptance-rate", "mean-k",
                "rejection-ratio", "exit-histogram.4");
        assertThat(s.get("acceptance-rate") + s.get("rejection-ratio")).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(s.get("full-passes-per-token")).isLessThan(1.0);
        assertThat(s.get("mean-k")).isGreaterThan(1.0);
        assertThat(s.get("tokens")).isEqualTo(30.0);
    }
}
