package dev.manyfold.plugin.speculative;

import dev.manyfold.testkit.TinyLanguageModel;
import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.decoder.ExitRule;
import dev.manyfold.api.decoder.InferenceSession;
import dev.manyfold.api.decoder.Generation;
import dev.manyfold.api.decoder.LanguageModel;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class EarlyExitDecoderTest {
    private static final int EOS = 3;
    private static TinyLanguageModel tiny;
    private static LanguageModel model;

    @BeforeAll
    static void setUp() {
        tiny = new TinyLanguageModel(Decoders.LAYERS, 5);
        model = tiny.withEos(EOS);
    }

    @AfterAll
    static void tearDown() {
        tiny.close();
    }

    /** Tokens and exit depths from recomputing the whole sequence at every step, no cache. */
    private static int[][] noCacheReference(int[] prompt, int maxNewTokens, TreeMap<Integer, Double> thresholds) {
        return noCacheReference(prompt, maxNewTokens, thresholds, Decoders.LAYERS);
    }

    /** The same, where exit {@code top} emits every token no threshold stopped. */
    private static int[][] noCacheReference(int[] prompt, int maxNewTokens, TreeMap<Integer, Double> thresholds, int top) {
        List<Integer> exits = new ArrayList<>(thresholds.keySet());
        exits.add(top);
        int[] sequence = Arrays.copyOf(prompt, prompt.length + maxNewTokens);
        int length = prompt.length;
        List<int[]> out = new ArrayList<>();
        while (out.size() < maxNewTokens) {
            List<float[]> logits = tiny.noCacheLogits(Arrays.copyOf(sequence, length), exits);
            int token = -1;
            int depth = -1;
            for (int x = 0; x < exits.size() && token < 0; x++) {
                float[] all = logits.get(x);
                int row = length - 1;
                double tau = x < exits.size() - 1 ? thresholds.get(exits.get(x)) : Double.NEGATIVE_INFINITY;
                if (Decoding.maxProbability(all, row, TinyLanguageModel.VOCAB) >= tau) {
                    token = Decoding.argmax(all, row, TinyLanguageModel.VOCAB);
                    depth = exits.get(x);
                }
            }
            out.add(new int[] {token, depth});
            sequence[length++] = token;
            if (token == EOS) {
                break;
            }
        }
        return out.toArray(int[][]::new);
    }

    @Test
    void cachedDeferredKvEqualsANoCacheRecomputationWithTheSameExitDecisions() {
        int deepAfterShallow = 0;
        for (Map<Integer, Double> t : List.of(Map.of(1, 0.8, 2, 0.7, 3, 0.6), Map.of(2, 0.5), Map.of(1, 0.9, 3, 0.75))) {
            TreeMap<Integer, Double> thresholds = new TreeMap<>(t);
            Decoder decoder = new EarlyExitDecoder(thresholds, "decode.thresholds");
            for (int[] prompt : TinyLanguageModel.prompts(14, 23, 1, 10)) {
                int budget = Math.min(24, TinyLanguageModel.CONTEXT - prompt.length);
                int[][] expected = noCacheReference(prompt, budget, thresholds);
                Generation g = decoder.generate(model, prompt, budget, x -> { });
                assertThat(g.tokens()).as("thresholds %s, prompt %s", t, Arrays.toString(prompt))
                        .containsExactly(Arrays.stream(expected).mapToInt(e -> e[0]).toArray());
                Map<Integer, Long> histogram = new TreeMap<>();
                for (int[] e : expected) {
                    histogram.merge(e[1], 1L, Long::sum);
                }
                histogram.forEach((depth, count) -> assertThat(g.statistics().get("exit-histogram." + depth)).isEqualTo(count.doubleValue()));
                for (int i = 1; i < expected.length; i++) {
                    if (expected[i][1] > expected[i - 1][1]) {
                        deepAfterShallow++;
                    }
                }
            }
        }
        // Deferred layers were really caught up many times.
        assertThat(deepAfterShallow).isGreaterThan(30);
    }

    /** {@code model} whose sessions record, when closed, each layer's cached length into {@code cachedAtClose}. */
    private static LanguageModel recordingCaches(LanguageModel model, int[] cachedAtClose) {
        return (LanguageModel) Proxy.newProxyInstance(LanguageModel.class.getClassLoader(), new Class<?>[] {LanguageModel.class}, (proxy, method, args) -> {
            Object result = invoke(method, model, args);
            if (!method.getName().equals("open")) {
                return result;
            }
            InferenceSession session = (InferenceSession) result;
            return Proxy.newProxyInstance(InferenceSession.class.getClassLoader(), new Class<?>[] {InferenceSession.class}, (p, m, a) -> {
                if (m.getName().equals("close")) {
                    for (int j = 0; j < cachedAtClose.length; j++) {
                        cachedAtClose[j] = session.cachedLength(j);
                    }
                }
                return invoke(m, session, a);
            });
        });
    }

    private static Object invoke(Method method, Object target, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    @Test
    void maxDepthEmitsThereAtTheLatestAndNeverRunsTheLayersBelowIt() {
        int top = 3;
        int seenTop = 0;
        int seenShallow = 0;
        for (Map<Integer, Double> t : List.of(Map.of(1, 0.8), Map.of(1, 0.9, 2, 0.7), Map.<Integer, Double>of())) {
            TreeMap<Integer, Double> thresholds = new TreeMap<>(t);
            Map<String, Double> settings = new TreeMap<>();
            t.forEach((exit, tau) -> settings.put(String.valueOf(exit), tau));
            Decoder decoder = Decoders.create(tiny, "early-exit", Map.of("thresholds", settings, "max-depth", top));
            for (int[] prompt : TinyLanguageModel.prompts(8, 31, 1, 10)) {
                int budget = Math.min(24, TinyLanguageModel.CONTEXT - prompt.length);
                int[][] expected = noCacheReference(prompt, budget, thresholds, top);
                int[] cached = new int[Decoders.LAYERS];
                Generation g = decoder.generate(recordingCaches(model, cached), prompt, budget, x -> { });
                assertThat(g.tokens()).as("thresholds %s, max-depth %d, prompt %s", t, top, Arrays.toString(prompt))
                        .containsExactly(Arrays.stream(expected).mapToInt(e -> e[0]).toArray());
                for (int[] e : expected) {
                    assertThat(e[1]).isLessThanOrEqualTo(top);
                    if (e[1] == top) {
                        seenTop++;
                    } else {
                        seenShallow++;
                    }
                }
                assertThat(g.statistics().get("exit-histogram." + top)).isEqualTo((double) Arrays.stream(expected).filter(e -> e[1] == top).count());
                assertThat(g.statistics()).doesNotContainKey("exit-histogram." + Decoders.LAYERS);
                assertThat(g.statistics().get("full-passes-per-token")).isZero();
                // The layers at and below max-depth never ran, prompt included; the layer above it cached every position it had to.
                assertThat(cached[top]).as("layer %d's cache", top).isZero();
                assertThat(cached[Decoders.LAYERS - 1]).isZero();
                assertThat(cached[top - 1]).isGreaterThanOrEqualTo(prompt.length);
            }
        }
        assertThat(seenTop).isGreaterThan(20);
        assertThat(seenShallow).isGreaterThan(20);
    }

    @Test
    void maxDepthAtTheFullDepthIsTheDefaultAndTheExitRuleStopsAtMaxDepth() {
        Map<String, Double> thresholds = Map.of("1", 0.8, "2", 0.6);
        Decoder plain = Decoders.create(tiny, "early-exit", Map.of("thresholds", thresholds));
        Decoder full = Decoders.create(tiny, "early-exit", Map.of("thresholds", thresholds, "max-depth", Decoders.LAYERS));
        for (int[] prompt : TinyLanguageModel.prompts(6, 37, 1, 10)) {
            int budget = Math.min(16, TinyLanguageModel.CONTEXT - prompt.length);
            assertThat(full.generate(model, prompt, budget, x -> { }).tokens()).containsExactly(plain.generate(model, prompt, budget, x -> { }).tokens());
        }
        ExitRule rule = Decoders.create(tiny, "early-exit", Map.of("thresholds", Map.of("1", 0.99), "max-depth", 3)).exitRule().orElseThrow();
        assertThat(rule.exits()).containsExactly(1, 3);
        float[] flat = new float[TinyLanguageModel.VOCAB];
        assertThat(rule.choose(List.of(flat, flat), 0, flat.length)).as("a flat distribution stops at max-depth, not at the full depth").isEqualTo(1);
        assertThat(plain.exitRule().orElseThrow().choose(List.of(flat, flat), 0, flat.length)).isEqualTo(2);
    }

    @Test
    void withEveryThresholdAboveOneItEqualsFullGreedy() {
        Decoder greedy = Decoders.create(tiny, "greedy", Map.of());
        Decoder never = new EarlyExitDecoder(Map.of(1, 1.01, 2, 1.5, 3, 2.0), "decode.thresholds");
        Decoder disabled = Decoders.create(tiny, "early-exit", Map.of("thresholds", Map.of()));
        for (int[] prompt : TinyLanguageModel.prompts(20, 29, 1, 12)) {
            int budget = Math.min(20, TinyLanguageModel.CONTEXT - prompt.length);
            int[] expected = greedy.generate(model, prompt, budget, x -> { }).tokens();
            Generation g = never.generate(model, prompt, budget, x -> { });
            assertThat(g.tokens()).containsExactly(expected);
            assertThat(g.statistics().get("exit-histogram.4")).isEqualTo((double) expected.length);
            assertThat(g.statistics().get("full-passes-per-token")).isGreaterThanOrEqualTo(1.0);
            assertThat(disabled.generate(model, prompt, budget, x -> { }).tokens()).containsExactly(expected);
        }
    }

    @Test
    void confidentExitsLowerTheMeanDepthAndFullPassesAndFillTheHistogram() {
        Decoder decoder = Decoders.create(tiny, "early-exit", Map.of("thresholds", Map.of("1", 0.8, "2", 0.6)));
        Generation g = decoder.generate(tiny.withEos(-1), new int[] {5, 9, 5}, 30, x -> { });
        Map<String, Double> s = g.statistics();
        double total = s.entrySet().stream().filter(e -> e.getKey().startsWith("exit-histogram.")).mapToDouble(Map.Entry::getValue).sum();
        assertThat(total).isEqualTo(30.0);
        assertThat(s.get("mean-exit-depth")).isLessThan(Decoders.LAYERS);
        assertThat(s.get("full-passes-per-token")).isLessThan(1.0);
    }
}
