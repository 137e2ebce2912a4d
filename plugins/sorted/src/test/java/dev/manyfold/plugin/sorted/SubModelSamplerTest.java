package dev.manyfold.plugin.sorted;

import static dev.manyfold.plugin.sorted.Fakes.LLAMA;
import static dev.manyfold.plugin.sorted.Fakes.MLP;
import static dev.manyfold.plugin.sorted.Fakes.objective;
import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.api.ModelShape;
import dev.manyfold.api.SubModel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class SubModelSamplerTest {
    private static final int DRAWS = 20_000;

    static SubModelSampler sampler(ModelShape shape, Map<String, ?> dimensions) {
        return SamplingSpec.fromSettings(objective(Map.of("dimensions", dimensions)), Fakes.context(shape)).resolve(shape);
    }

    /** Asserts |observed − n·p| ≤ 5σ of the binomial count, for every budget. */
    private static void assertWithinFiveSigma(Map<Integer, Integer> counts, List<Integer> budgets, List<Double> p, int n) {
        assertThat(counts.keySet()).isSubsetOf(budgets);
        for (int i = 0; i < budgets.size(); i++) {
            double expected = n * p.get(i);
            double sigma = Math.sqrt(n * p.get(i) * (1 - p.get(i)));
            int observed = counts.getOrDefault(budgets.get(i), 0);
            assertThat((double) observed).as("count of budget %d (p = %.4f)", budgets.get(i), p.get(i))
                    .isBetween(expected - 5 * sigma, expected + 5 * sigma);
        }
    }

    /** Pearson chi-square statistic of observed counts against probabilities. */
    private static double chiSquare(Map<Integer, Integer> counts, List<Integer> budgets, List<Double> p, int n) {
        double chi = 0;
        for (int i = 0; i < budgets.size(); i++) {
            double e = n * p.get(i);
            double d = counts.getOrDefault(budgets.get(i), 0) - e;
            chi += d * d / e;
        }
        return chi;
    }

    /**
     * An upper quantile of chi-square with {@code df} degrees of freedom (Wilson–Hilferty),
     * at z = 5, i.e. a false-alarm probability below 1e-6.
     */
    private static double chiSquareBound(int df) {
        double z = 5;
        double a = 2.0 / (9 * df);
        return df * Math.pow(1 - a + z * Math.sqrt(a), 3);
    }

    private static Map<Integer, Integer> marginal(List<SubModel> draws, String dimension) {
        Map<Integer, Integer> counts = new HashMap<>();
        for (SubModel s : draws) {
            counts.merge(s.budget(dimension).getAsInt(), 1, Integer::sum);
        }
        return counts;
    }

    private static List<SubModel> draw(SubModelSampler sampler, long seed, int n) {
        Random random = new Random(seed);
        List<SubModel> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(sampler.sample(random));
        }
        return out;
    }

    @Test
    void uniformFrequenciesMatchPerDimensionAndJointly() {
        SubModelSampler sampler = sampler(MLP, Map.of(
                "depth", Map.of("budgets", List.of(1, 2, 3, 4)),
                "width", Map.of("range", Map.of("from", 32, "to", 256, "step", 32))));
        List<Integer> depths = List.of(1, 2, 3, 4);
        List<Integer> widths = List.of(32, 64, 96, 128, 160, 192, 224, 256);
        assertThat(sampler.budgets()).containsExactly(Map.entry("depth", depths), Map.entry("width", widths));
        assertThat(sampler.distributions()).containsEntry("depth", "uniform").containsEntry("width", "uniform");

        List<SubModel> draws = draw(sampler, 7, DRAWS);
        List<Double> pDepth = java.util.Collections.nCopies(4, 0.25);
        List<Double> pWidth = java.util.Collections.nCopies(8, 0.125);
        assertWithinFiveSigma(marginal(draws, "depth"), depths, pDepth, DRAWS);
        assertWithinFiveSigma(marginal(draws, "width"), widths, pWidth, DRAWS);
        assertThat(chiSquare(marginal(draws, "depth"), depths, pDepth, DRAWS)).isLessThan(chiSquareBound(3));
        assertThat(chiSquare(marginal(draws, "width"), widths, pWidth, DRAWS)).isLessThan(chiSquareBound(7));

        // Independence (Eq. 1 draws each b_j on its own): the joint cells have p = 1/32.
        Map<SubModel, Integer> joint = new HashMap<>();
        draws.forEach(s -> joint.merge(s, 1, Integer::sum));
        assertThat(joint).hasSize(32);
        double chi = 0;
        double e = DRAWS / 32.0;
        for (int c : joint.values()) {
            chi += (c - e) * (c - e) / e;
        }
        assertThat(chi).isLessThan(chiSquareBound(31));
    }

    @Test
    void weightedFrequenciesMatchTheNormalisedWeights() {
        SubModelSampler sampler = sampler(MLP, Map.of(
                "depth", Map.of("budgets", List.of(1, 2, 3, 4), "weights", List.of(1, 1, 2, 4)),
                "width", Map.of("fractions", List.of(0.25, 0.5, 1.0), "weights", List.of(0.7, 0.0, 0.3))));
        assertThat(sampler.distributions()).containsEntry("depth", "weighted");
        List<Double> pDepth = List.of(0.125, 0.125, 0.25, 0.5);
        assertThat(sampler.probabilities().get("depth")).usingElementComparator((a, b) -> Math.abs(a - b) < 1e-12 ? 0 : 1)
                .containsExactlyElementsOf(pDepth);

        List<SubModel> draws = draw(sampler, 11, DRAWS);
        assertWithinFiveSigma(marginal(draws, "depth"), List.of(1, 2, 3, 4), pDepth, DRAWS);
        assertThat(chiSquare(marginal(draws, "depth"), List.of(1, 2, 3, 4), pDepth, DRAWS)).isLessThan(chiSquareBound(3));
        Map<Integer, Integer> widths = marginal(draws, "width");
        // A zero weight is never drawn.
        assertThat(widths).doesNotContainKey(128).containsOnlyKeys(64, 256);
        assertWithinFiveSigma(widths, List.of(64, 256), List.of(0.7, 0.3), DRAWS);
    }

    @Test
    void fixedListsCycleDeterministicallyAndConsumeNoRandomness() {
        SubModelSampler sampler = sampler(LLAMA, Map.of(
                "depth", Map.of("budgets", List.of(2, 4, 8), "fixed", List.of(8, 2, 4, 8)),
                "heads", Map.of("fixed", List.of(4, 8))));
        assertThat(sampler.budgets()).containsEntry("heads", List.of(4, 8));
        assertThat(sampler.distributions()).containsEntry("depth", "fixed").containsEntry("heads", "fixed");
        assertThat(sampler.probabilities().get("depth")).containsExactly(0.25, 0.25, 0.5);

        Random random = new Random(3);
        List<String> seen = new ArrayList<>();
        for (int i = 0; i < 9; i++) {
            seen.add(sampler.sample(random).toString());
        }
        assertThat(seen).containsExactly("depth=8,heads=4", "depth=2,heads=8", "depth=4,heads=4", "depth=8,heads=8",
                "depth=8,heads=4", "depth=2,heads=8", "depth=4,heads=4", "depth=8,heads=8", "depth=8,heads=4");
        assertThat(random.nextLong()).isEqualTo(new Random(3).nextLong());
        assertThat(sampler.draws()).isEqualTo(9);
    }

    @Test
    void fixedAndRandomDimensionsMix() {
        SubModelSampler sampler = sampler(MLP, Map.of(
                "depth", Map.of("fixed", List.of(1, 4)),
                "width", Map.of("budgets", List.of(64, 128, 256))));
        List<SubModel> draws = draw(sampler, 5, 600);
        for (int i = 0; i < draws.size(); i++) {
            assertThat(draws.get(i).budget("depth").getAsInt()).isEqualTo(i % 2 == 0 ? 1 : 4);
        }
        assertWithinFiveSigma(marginal(draws, "width"), List.of(64, 128, 256), java.util.Collections.nCopies(3, 1.0 / 3), 600);
    }

    @Test
    void theSameSeedRepeatsTheDrawsExactly() {
        Map<String, ?> dims = Map.of("depth", Map.of("budgets", List.of(1, 2, 3, 4), "weights", List.of(4, 3, 2, 1)),
                "width", Map.of("range", Map.of("from", 16, "to", 256, "step", 16)));
        assertThat(draw(sampler(MLP, dims), 99, 500)).isEqualTo(draw(sampler(MLP, dims), 99, 500));
        assertThat(draw(sampler(MLP, dims), 99, 500)).isNotEqualTo(draw(sampler(MLP, dims), 100, 500));
    }

    @Test
    void theVisitedSetCountsEveryDraw() {
        SubModelSampler sampler = sampler(MLP, Map.of("depth", Map.of("budgets", List.of(1, 2, 4)),
                "width", Map.of("budgets", List.of(64, 256))));
        assertThat(sampler.visits()).isEmpty();
        List<SubModel> draws = draw(sampler, 1, 1000);
        Map<SubModel, Long> expected = new HashMap<>();
        draws.forEach(s -> expected.merge(s, 1L, Long::sum));
        assertThat(sampler.visits()).isEqualTo(expected);
        assertThat(sampler.visits().keySet()).isSubsetOf(sampler.lattice());
        assertThat(sampler.visits().values().stream().mapToLong(Long::longValue).sum()).isEqualTo(1000);
        // Reported in lattice order.
        List<SubModel> order = new ArrayList<>(sampler.lattice());
        order.retainAll(sampler.visits().keySet());
        assertThat(new ArrayList<>(sampler.visits().keySet())).isEqualTo(order);
        assertThat(sampler.visits()).isUnmodifiable();
    }

    @Test
    void theVisitedSetIsThreadSafe() throws Exception {
        SubModelSampler sampler = sampler(MLP, Map.of("depth", Map.of("budgets", List.of(1, 2, 3, 4)),
                "width", Map.of("budgets", List.of(32, 64, 128, 256))));
        int threads = 4;
        int each = 5_000;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Map<SubModel, Long>>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                long seed = t;
                futures.add(pool.submit(() -> {
                    Map<SubModel, Long> mine = new HashMap<>();
                    Random random = new Random(seed);
                    for (int i = 0; i < each; i++) {
                        mine.merge(sampler.sample(random), 1L, Long::sum);
                    }
                    return mine;
                }));
            }
            Map<SubModel, Long> expected = new HashMap<>();
            for (Future<Map<SubModel, Long>> f : futures) {
                f.get().forEach((k, v) -> expected.merge(k, v, Long::sum));
            }
            assertThat(sampler.visits()).isEqualTo(expected);
            assertThat(sampler.draws()).isEqualTo((long) threads * each);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void latticeOrderSmallestLargestAndContainment() {
        SubModelSampler sampler = sampler(MLP, Map.of("depth", Map.of("budgets", List.of(1, 2, 4)),
                "width", Map.of("budgets", List.of(64, 128, 256))));
        assertThat(sampler.latticeSize()).isEqualTo(9);
        assertThat(sampler.lattice()).extracting(SubModel::toString).containsExactly(
                "depth=1,width=64", "depth=1,width=128", "depth=1,width=256",
                "depth=2,width=64", "depth=2,width=128", "depth=2,width=256",
                "depth=4,width=64", "depth=4,width=128", "depth=4,width=256");
        assertThat(sampler.smallest()).isEqualTo(SubModel.of(Map.of("depth", 1, "width", 64)));
        assertThat(sampler.largest()).isEqualTo(SubModel.of(Map.of("depth", 4, "width", 256)));

        // Non-nested pair (depth 2, width 256) contains exactly the sub-models <= on both axes.
        SubModel top = SubModel.of(Map.of("depth", 2, "width", 256));
        assertThat(sampler.containedIn(top, 0)).extracting(SubModel::toString).containsExactly(
                "depth=1,width=64", "depth=1,width=128", "depth=1,width=256",
                "depth=2,width=64", "depth=2,width=128", "depth=2,width=256");
        assertThat(sampler.containedSize(top)).isEqualTo(6);
        assertThat(sampler.containedIn(sampler.smallest(), 0)).containsExactly(sampler.smallest());
        assertThat(sampler.containedIn(sampler.largest(), 0)).isEqualTo(sampler.lattice());

        // Capped: the ends are kept, the rest evenly spread, deterministic.
        assertThat(sampler.lattice(3)).extracting(SubModel::toString)
                .containsExactly("depth=1,width=64", "depth=2,width=128", "depth=4,width=256");
        assertThat(sampler.containedIn(top, 2)).containsExactly(sampler.smallest(), top);
        assertThat(sampler.containedIn(top, 1)).containsExactly(top);
        assertThat(sampler.lattice(100)).isEqualTo(sampler.lattice());
    }

    @Test
    void evenlySpacedIsDistinctAscendingAndKeepsBothEnds() {
        for (long n = 1; n <= 60; n++) {
            for (int k = 1; k <= n + 2; k++) {
                long[] picked = SubModelSampler.evenlySpaced(n, k);
                assertThat(picked).hasSize((int) Math.min(n, k));
                assertThat(picked[picked.length - 1]).isEqualTo(n - 1);
                if (picked.length > 1) {
                    assertThat(picked[0]).isZero();
                }
                Set<Long> distinct = new HashSet<>();
                for (int i = 0; i < picked.length; i++) {
                    distinct.add(picked[i]);
                    if (i > 0) {
                        assertThat(picked[i]).isGreaterThan(picked[i - 1]);
                    }
                }
                assertThat(distinct).hasSize(picked.length);
            }
        }
        assertThat(SubModelSampler.evenlySpaced(10, 4)).containsExactly(0, 3, 6, 9);
    }

    @Test
    void singleBudgetDimensionsAreAlwaysThatBudget() {
        SubModelSampler sampler = sampler(LLAMA, Map.of("heads", Map.of("budgets", List.of(4)),
                "depth", Map.of("budgets", List.of(2, 8))));
        for (SubModel s : draw(sampler, 2, 200)) {
            assertThat(s.budget("heads").getAsInt()).isEqualTo(4);
        }
        assertThat(sampler.smallest()).isEqualTo(SubModel.of(Map.of("depth", 2, "heads", 4)));
    }

    @Test
    void withoutItsOwnDimensionsAnObjectiveSamplesTheRecipesTopLevelDimensions() {
        dev.manyfold.testkit.TestingContext context = dev.manyfold.testkit.TestingContext.builder()
                .recipeSection("dimensions", Map.of("depth", Map.of("budgets", List.of(1, 3)))).build();
        SamplingSpec spec = SamplingSpec.fromSettings(Fakes.objective(Map.of()), context);
        assertThat(spec.path()).isEqualTo("dimensions");
        assertThat(spec.entries()).containsOnlyKeys("depth");
        assertThat(spec.entries().get("depth").dimension().explicitBudgets()).contains(List.of(1, 3));
    }
}
