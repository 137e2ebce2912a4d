package dev.manyfold.plugin.speculative;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.decoder.Generation;
import dev.manyfold.api.decoder.InferenceSession;
import dev.manyfold.api.decoder.LanguageModel;
import dev.manyfold.runtime.onnx.Engines;
import dev.manyfold.runtime.onnx.OrtLanguageModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import dev.manyfold.testkit.TinyLanguageModel;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The decoders run unchanged on the ONNX Runtime engine and decode what they decode on DJL. */
class OrtDecodingTest {
    private static final int EOS = 3;
    private static TinyLanguageModel tiny;
    private static OrtLanguageModel ort;
    private static LanguageModel djl;
    private static LanguageModel onnx;
    private static Path dir;

    @BeforeAll
    static void setUp() throws Exception {
        tiny = new TinyLanguageModel(Decoders.LAYERS, 5);
        dir = Files.createTempDirectory("manyfold-ort");
        ort = (OrtLanguageModel) Engines.on(tiny.llama(), Files.writeString(dir.resolve("checkpoint-1.safetensors"), "stand-in"), "bytes",
                Engines.ONNXRUNTIME);
        djl = tiny.withEos(EOS);
        onnx = TinyLanguageModel.withEos(ort, EOS);
    }

    @AfterAll
    static void tearDown() throws Exception {
        ort.close();
        tiny.close();
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** 60 prompts: varied lengths and budgets, including budgets that fill the context exactly. */
    private static List<int[]> cases() {
        List<int[]> cases = new ArrayList<>();
        List<int[]> prompts = TinyLanguageModel.prompts(60, 23, 1, 12);
        for (int i = 0; i < prompts.size(); i++) {
            int[] p = prompts.get(i);
            int room = TinyLanguageModel.CONTEXT - p.length;
            int budget = switch (i % 4) {
                case 0 -> room;
                case 1 -> 1;
                default -> Math.min(room, 18);
            };
            int[] c = Arrays.copyOf(p, p.length + 1);
            c[p.length] = budget;
            cases.add(c);
        }
        return cases;
    }

    @Test
    void greedyAtEveryExitAndSelfSpeculativeOnOrtMatchGreedyOnDjlOnSixtyPromptsWithEosAndMaxLengthEdges() {
        Decoder greedy = Decoders.create(tiny, "greedy", Map.of());
        Decoder exit2 = Decoders.create(tiny, "greedy", Map.of("exit", 2));
        Decoder speculative = Decoders.create(tiny, "self-speculative", Map.of("draft", 2, "adaptive", true));
        int endedAtEos = 0;
        int filledContext = 0;
        double drafted = 0;
        double accepted = 0;
        for (int[] c : cases()) {
            int[] prompt = Arrays.copyOf(c, c.length - 1);
            int budget = c[c.length - 1];
            int[] expected = greedy.generate(djl, prompt, budget, t -> { }).tokens();
            String what = Arrays.toString(prompt) + ", " + budget + " new tokens";
            assertThat(greedy.generate(onnx, prompt, budget, t -> { }).tokens()).as("greedy on ORT, " + what).containsExactly(expected);
            Generation s = speculative.generate(onnx, prompt, budget, t -> { });
            assertThat(s.tokens()).as("self-speculative on ORT, " + what).containsExactly(expected);
            assertThat(exit2.generate(onnx, prompt, budget, t -> { }).tokens()).as("greedy exit 2 on ORT, " + what)
                    .containsExactly(exit2.generate(djl, prompt, budget, t -> { }).tokens());
            if (expected.length > 0 && expected[expected.length - 1] == EOS) {
                endedAtEos++;
            } else if (prompt.length + expected.length == TinyLanguageModel.CONTEXT) {
                filledContext++;
            }
            double rounds = s.statistics().getOrDefault("rounds", 0.0);
            drafted += s.statistics().getOrDefault("mean-k", 0.0) * rounds;
            accepted += s.statistics().getOrDefault("acceptance-rate", 0.0) * s.statistics().getOrDefault("mean-k", 0.0) * rounds;
        }
        assertThat(endedAtEos).isGreaterThanOrEqualTo(5);
        assertThat(filledContext).isGreaterThanOrEqualTo(2);
        assertThat(accepted).isGreaterThan(10);
        assertThat(drafted - accepted).isGreaterThan(10);
    }

    @Test
    void selfSpeculativeDraftsKTokensInOneOrtCallAndMatchesGreedyAndItsDjlRoundsWithAndWithoutDraftConfidence() {
        Decoder greedy = Decoders.create(tiny, "greedy", Map.of());
        Decoder fixed = Decoders.create(tiny, "self-speculative", Map.of("draft", 2, "k", 4));
        Decoder confident = Decoders.create(tiny, "self-speculative", Map.of("draft", 1, "k", 4, "draft-confidence", 0.5));
        int unsureStops = 0;
        for (int[] c : cases().subList(0, 30)) {
            int[] prompt = Arrays.copyOf(c, c.length - 1);
            int budget = c[c.length - 1];
            int[] expected = greedy.generate(djl, prompt, budget, t -> { }).tokens();
            for (Decoder d : List.of(fixed, confident)) {
                Generation a = d.generate(djl, prompt, budget, t -> { });
                Generation b = d.generate(onnx, prompt, budget, t -> { });
                String what = Arrays.toString(prompt) + ", " + budget + " new tokens";
                assertThat(b.tokens()).as("on ORT, " + what).containsExactly(expected);
                // Same rounds, drafts and acceptances as the step-by-step draft on DJL: the one-call draft drops what the loop would not run.
                for (String stat : List.of("rounds", "mean-k", "acceptance-rate")) {
                    assertThat(b.statistics().get(stat)).as(stat + ", " + what).isEqualTo(a.statistics().get(stat));
                }
                if (d == confident && a.statistics().getOrDefault("mean-k", 4.0) < 4.0) {
                    unsureStops++;
                }
            }
        }
        assertThat(ort.loadedKeys()).contains(dev.manyfold.runtime.onnx.GraphKey.draft(2, 4));
        assertThat(unsureStops).as("prompts where drafting stopped at an unsure draft").isGreaterThan(3);
    }

    @Test
    void theOneCallDraftKeepsTheSameTokensPositionsAndVerificationLogitsAsTheStepLoop() {
        int[] prompt = {5, 9, 2, 6, 5, 3, 5};
        try (NDManager m = NDManager.newBaseManager(); InferenceSession one = ort.open(m); InferenceSession loop = ort.open(m)) {
            one.forward(prompt, 0, Decoders.LAYERS, m);
            loop.forward(prompt, 0, Decoders.LAYERS, m);
            for (double confidence : new double[] {0, 0.5}) { // with a confidence: the step loop on both
                int position = one.cachedLength(0);
                InferenceSession.Draft a = one.draft(1, m);
                InferenceSession.Draft b = loop.draft(1, m);
                int[] fast = a.greedy(4, position, 5, confidence, -1);
                // The API's default: one step call per position.
                int[] slow = new InferenceSession.Draft() {
                    @Override
                    public float[] step(int token, int p, boolean logits) {
                        return b.step(token, p, logits);
                    }

                    @Override
                    public int size() {
                        return b.size();
                    }

                    @Override
                    public float[] verify(int to) {
                        return b.verify(to);
                    }
                }.greedy(4, position, 5, confidence, -1);
                assertThat(fast).containsExactly(slow);
                assertThat(a.size()).isEqualTo(b.size());
                assertThat(one.cachedLength(0)).isEqualTo(loop.cachedLength(0)).isEqualTo(position + a.size());
                float[] x = a.verify(Decoders.LAYERS);
                float[] y = b.verify(Decoders.LAYERS);
                assertThat(x).hasSameSizeAs(y);
                for (int i = 0; i < x.length; i++) {
                    assertThat(x[i]).isCloseTo(y[i], org.assertj.core.data.Offset.offset(1e-4f));
                }
            }
        }
        // Five drafts: one call of the four-step draft graph, then one step.
        assertThat(ort.loadedKeys()).contains(dev.manyfold.runtime.onnx.GraphKey.draft(1, 4));
    }

    /**
     * {@code decoder}'s generation of case {@code c} (prompt, then budget) on {@code model},
     * checked to hold the tokens, at the same mean exit depth, that it has on DJL.
     */
    private static Generation sameAsOnDjl(Decoder decoder, LanguageModel model, int[] c) {
        int[] prompt = Arrays.copyOf(c, c.length - 1);
        int budget = c[c.length - 1];
        Generation a = decoder.generate(djl, prompt, budget, t -> { });
        Generation b = decoder.generate(model, prompt, budget, t -> { });
        assertThat(b.tokens()).as(Arrays.toString(prompt)).containsExactly(a.tokens());
        assertThat(b.statistics().get("mean-exit-depth")).isEqualTo(a.statistics().get("mean-exit-depth"));
        return b;
    }

    @Test
    void earlyExitOnAnExportDirectoryUsesOneSegmentGraphPerExitAndEmitsWhatItEmitsOnDjl() throws Exception {
        Path export = dir.resolve("export");
        dev.manyfold.runtime.onnx.OnnxExport.write(dev.manyfold.runtime.onnx.OnnxExport.graphs(tiny.llama(), "byte", "test"),
                dev.manyfold.runtime.onnx.OnnxExport.standardKeys(tiny.llama().layers(), tiny.llama().exits(), null), export);
        // Thresholds on non-consecutive exits: segments 1 -> 3 and 3 -> 4, each one graph, also when catching up positions.
        Decoder early = Decoders.create(tiny, "early-exit", Map.of("thresholds", Map.of(1, 0.6, 3, 0.5)));
        try (OrtLanguageModel exported = Engines.open(export)) {
            LanguageModel model = TinyLanguageModel.withEos(exported, EOS);
            for (int[] c : cases().subList(0, 12)) {
                sameAsOnDjl(early, model, c);
            }
            // The two-layer segment [1, 3) is one graph, never layers 1 and 2 chained.
            assertThat(exported.loadedKeys()).as("no segment ran as a chain of per-layer graphs")
                    .noneMatch(k -> !k.tokens() && (k.from() == 1 || k.from() == 2) && k.to() == k.from() + 1)
                    .contains(new dev.manyfold.runtime.onnx.GraphKey(1, 3, false, true, true, true),
                            new dev.manyfold.runtime.onnx.GraphKey(1, 3, false, true, true, false));
        }
    }

    @Test
    void earlyExitOnOrtEmitsWhatItEmitsOnDjl() {
        Decoder early = Decoders.create(tiny, "early-exit", Map.of("thresholds", Map.of(1, 0.6, 2, 0.5)));
        // With a depth budget: exit 3 emits what exit 1 did not stop, layer 3 never runs.
        Decoder capped = Decoders.create(tiny, "early-exit", Map.of("thresholds", Map.of(1, 0.6), "max-depth", 3));
        for (Decoder decoder : List.of(early, capped)) {
            int earlier = 0;
            for (int[] c : cases().subList(0, 20)) {
                Generation b = sameAsOnDjl(decoder, onnx, c);
                double shallowest = decoder == capped ? 3.0 : Decoders.LAYERS;
                earlier += b.statistics().getOrDefault("mean-exit-depth", shallowest) < shallowest ? 1 : 0;
                if (decoder == capped) {
                    assertThat(b.statistics()).doesNotContainKey("exit-histogram." + Decoders.LAYERS);
                }
            }
            assertThat(earlier).as("prompts where some token exited early").isGreaterThan(5);
        }
    }
}
