package dev.manyfold.plugin.dsee;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class SupportTest {
    private static final GreBsmo.Options DEFAULTS = GreBsmo.Options.defaults();

    private static void assertValidSupport(int[] omega, int n, int size) {
        assertThat(omega).hasSize(n);
        assertThat(IntStream.of(omega).distinct().count()).isEqualTo(n);
        assertThat(IntStream.of(omega).boxed().toList()).allSatisfy(i -> assertThat(i).isBetween(0, size - 1));
        assertThat(omega).isSorted();
    }

    @Test
    void everySupportChoosesExactlyNDistinctInRangePositions() {
        float[] w = Fakes.gaussian(12, 9, 0.05, 1);
        for (Support support : Support.values()) {
            for (int n : new int[] {0, 1, 16, 107, 108}) {
                assertValidSupport(support.select(w, 12, 9, n, 3, DEFAULTS), n, 108);
            }
        }
    }

    @Test
    void magnitudePicksTheTopNAbsoluteValuesWithLowerIndicesWinningTies() {
        float[] w = {0.1f, -3f, 2f, 0.5f, -2f, 2f, 0f, 1f};
        assertThat(Support.MAGNITUDE.select(w, 2, 4, 3, 0, DEFAULTS)).containsExactly(1, 2, 4);
        assertThat(Support.MAGNITUDE.select(w, 2, 4, 2, 0, DEFAULTS)).containsExactly(1, 2);

        float[] g = Fakes.gaussian(10, 10, 1.0, 2);
        int[] top = Support.MAGNITUDE.select(g, 10, 10, 15, 0, DEFAULTS);
        float smallestKept = Float.MAX_VALUE;
        for (int i : top) {
            smallestKept = Math.min(smallestKept, Math.abs(g[i]));
        }
        for (int i = 0; i < g.length; i++) {
            if (Arrays.binarySearch(top, i) < 0) {
                assertThat(Math.abs(g[i])).isLessThanOrEqualTo(smallestKept);
            }
        }
    }

    @Test
    void randomIsSeededAndCoversTheMatrix() {
        int[] a = Support.RANDOM.select(new float[400], 20, 20, 30, 5, DEFAULTS);
        assertThat(Support.RANDOM.select(new float[400], 20, 20, 30, 5, DEFAULTS)).containsExactly(a);
        assertThat(Support.RANDOM.select(new float[400], 20, 20, 30, 6, DEFAULTS)).isNotEqualTo(a);
        assertThat(Support.RANDOM.select(new float[4], 2, 2, 4, 7, DEFAULTS)).containsExactly(0, 1, 2, 3);
    }

    @Test
    void greBsmoResidualNeverIncreasesAsTheRankGrows() {
        for (int[] shape : new int[][] {{16, 12}, {24, 24}, {20, 32}}) {
            for (long seed = 0; seed < 3; seed++) {
                float[] w = Fakes.gaussian(shape[0], shape[1], 0.05, seed);
                GreBsmo.Result r = GreBsmo.decompose(w, shape[0], shape[1], DEFAULTS, seed);
                double[] history = r.residuals();
                int[] ranks = r.ranks();
                assertThat(history.length).isGreaterThan(1);
                for (int t = 1; t < history.length; t++) {
                    assertThat(history[t]).as("residual at rank %d", ranks[t]).isLessThan(history[t - 1]);
                    assertThat(ranks[t]).isGreaterThan(ranks[t - 1]);
                }
                int cap = Math.min(shape[0], shape[1]) / 2;
                assertThat(r.rank()).isEqualTo(ranks[ranks.length - 1]).isGreaterThan(cap / 2).isLessThanOrEqualTo(cap);
                assertThat(r.cardinality()).isPositive().isLessThan(w.length / 5);
            }
        }
    }

    @Test
    void greBsmoRankStaysBelowMinOfTheShapeEvenWhenAskedForMore() {
        GreBsmo.Options options = new GreBsmo.Options(5, 100, 2, 1.0, 1_000);
        assertThat(options.rankCap(8, 6)).isEqualTo(5);
        GreBsmo.Result r = GreBsmo.decompose(Fakes.gaussian(8, 6, 1.0, 1), 8, 6, options, 1);
        assertThat(r.rank()).isLessThan(6);
        assertThat(DEFAULTS.rankCap(768, 768)).isEqualTo(384);
        assertThat(DEFAULTS.rankCap(1, 5)).isEqualTo(1);
    }

    @Test
    void greBsmoSafeguardKeepsTheLastNonIncreasingDecomposition() {
        // A tiny threshold leaves nearly everything in S; the residual then creeps up between
        // ranks on some weights and the safeguard must stop there.
        GreBsmo.Options tiny = new GreBsmo.Options(5, 100, 2, 0.25, 0);
        boolean fired = false;
        for (long seed = 0; seed < 6; seed++) {
            GreBsmo.Result r = GreBsmo.decompose(Fakes.gaussian(64, 48, 0.05, seed), 64, 48, tiny, seed);
            double[] h = r.residuals();
            for (int t = 1; t < h.length; t++) {
                assertThat(h[t]).isLessThanOrEqualTo(h[t - 1]);
            }
            assertThat(r.rank()).isEqualTo(r.ranks()[h.length - 1]);
            fired |= r.rejected();
        }
        assertThat(fired).isTrue();
    }

    @Test
    void greBsmoWithTheAuthorsSettingsKeepsRisingIterationsUsesAnAbsoluteLambdaAndCountsTheRises() {
        // The same weights with λ = 0.01 absolute (0.2·rms) and no safeguard: every iteration up
        // to the rank cap is kept, so the history may rise, and rises() counts exactly the rises.
        int rising = 0;
        for (long seed = 0; seed < 6; seed++) {
            GreBsmo.Result r = GreBsmo.decompose(Fakes.gaussian(64, 48, 0.05, seed), 64, 48, GreBsmo.Options.authors(), seed);
            assertThat(r.lambda()).isEqualTo(0.01);
            assertThat(r.rank()).as("runs to the cap ⌊48 / 2⌋").isEqualTo(24);
            double[] h = r.residuals();
            int counted = 0;
            for (int t = 1; t < h.length; t++) {
                counted += h[t] > h[t - 1] + 1e-12 * h[0] ? 1 : 0;
            }
            assertThat(r.rises()).isEqualTo(counted);
            assertThat(r.rejected()).isFalse();
            rising += r.rises();
            GreBsmo.Result guarded = GreBsmo.decompose(Fakes.gaussian(64, 48, 0.05, seed), 64, 48,
                    new GreBsmo.Options(5, 100, 2, 0.01, 0, true, true), seed);
            assertThat(guarded.rises()).isEqualTo(guarded.rejected() ? 1 : 0);
            assertThat(guarded.residuals()).isEqualTo(java.util.Arrays.copyOf(h, guarded.iterations()));
        }
        assertThat(rising).as("at this threshold the residual rises on some of these weights").isPositive();
    }

    @Test
    void greBsmoWithTheTrueRankFindsSparseSpikesHiddenInALowRankMatrixWhereMagnitudeDoesNot() {
        int m = 24;
        int n = 20;
        Random random = new Random(3);
        double[] a = new double[m * 2];
        double[] b = new double[2 * n];
        for (int i = 0; i < a.length; i++) {
            a[i] = random.nextGaussian();
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = random.nextGaussian();
        }
        float[] w = new float[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                w[i * n + j] = (float) (a[i * 2] * b[j] + a[i * 2 + 1] * b[n + j]);
            }
        }
        int[] spikes = {5, 47, 130, 222, 301, 388, 402, 470};
        for (int k = 0; k < spikes.length; k++) {
            w[spikes[k]] += k % 2 == 0 ? 1.5f : -1.5f;
        }
        // The rank cap at the true rank: a higher cap lets the low-rank part absorb the spikes
        // (each is rank one), so GreBsmo's Ω is only as good as the cap.
        GreBsmo.Options capped = new GreBsmo.Options(5, 100, 2, 1.0, 2);
        int[] grebsmo = Support.GREBSMO.select(w, m, n, spikes.length, 1, capped);
        int[] magnitude = Support.MAGNITUDE.select(w, m, n, spikes.length, 1, DEFAULTS);
        assertThat(grebsmo).containsExactly(spikes);
        assertThat(magnitude).isNotEqualTo(spikes);
    }
}
