package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import dev.manyfold.runtime.eval.Paired;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.model.LinearSite;
import dev.manyfold.runtime.recipe.Recipe;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real ast plugin, loaded from the bundle, sparsifying a tiny LLaMA 2:4 through the runtime. */
class AstPluginTest {
    private static final String RECIPE = """
            model: { family: llama, dim: 16, layers: 2, heads: 2, ffn: 24 }
            data: { type: text, context: 16, limit: 300 }
            masks: [ { type: nm, every: 2, lambda-max: 1.0e-2 } ]
            adapters: [ { type: slorb, k: 4 } ]
            train: { steps: 6, batch: 4, lr: 1e-2, seed: 3 }
            """;

    @TempDir
    Path tmp;

    private Manyfold host;

    @BeforeEach
    void loadBundlePlugins() {
        host = Manyfold.builder().pluginDir(Bundle.plugins()).build();
    }

    @AfterEach
    void close() {
        host.close();
    }

    @Test
    void blockLinearsEndExactlyTwoOfFourWithTheHeadAndEmbeddingDenseAndFlipRatesLogged() throws Exception {
        Path work = tmp.resolve("work");
        try (Run p = TrainJob.prepare(host, Recipe.parse(RECIPE, "ast.yaml"), new PrintWriter(new StringWriter(), true), work)) {
            TrainJob.trainer(p, tmp.resolve("run"), new PrintWriter(new StringWriter()), false).run(null);
            int masked = 0;
            for (LinearSite site : p.model().sites().values()) {
                if (!site.name().startsWith("layers.")) {
                    assertThat(site.mask()).as(site.name()).isNull();
                    continue;
                }
                masked++;
                NDArray mask = site.mask();
                assertThat(mask).as(site.name()).isNotNull();
                float[] m = mask.toFloatArray();
                for (int start = 0; start < m.length; start += 4) {
                    assertThat(m[start] + m[start + 1] + m[start + 2] + m[start + 3]).as(site.name()).isEqualTo(2f);
                }
                // the last update was at the last step: recomputing from |W| gives the stored mask
                float[] w = site.weight().toFloatArray();
                boolean[] keep = magnitude24(w);
                for (int i = 0; i < m.length; i++) {
                    assertThat(m[i]).as(site.name() + "[" + i + "]").isEqualTo(keep[i] ? 1f : 0f);
                }
                assertThat(site.adapters()).hasSize(1);
            }
            assertThat(masked).isEqualTo(14);
            List<String> rows = Files.readAllLines(work.resolve("mask-flips.tsv"));
            assertThat(rows).hasSize(4);
            assertThat(rows.get(0)).isEqualTo("step\tr_t\ti_t\trevived");
            assertThat(rows.subList(1, 4)).extracting(r -> r.split("\t")[0]).containsExactly("2", "4", "6");
            assertThat(work.resolve("mask-flips.png")).exists();
        }
    }

    private List<double[]> flipRows(String mask, String train) throws Exception {
        String recipe = """
                model: { family: llama, dim: 16, layers: 2, heads: 2, ffn: 24 }
                data: { type: text, context: 16, limit: 300 }
                """ + "masks: [ " + mask + " ]\n" + train;
        Path work = tmp.resolve("work-" + Integer.toHexString(recipe.hashCode()));
        try (Run p = TrainJob.prepare(host, Recipe.parse(recipe, "ast.yaml"), new PrintWriter(new StringWriter(), true), work)) {
            TrainJob.trainer(p, tmp.resolve("run-" + Integer.toHexString(recipe.hashCode())), new PrintWriter(new StringWriter()), false)
                    .run(null);
        }
        return Files.readAllLines(work.resolve("mask-flips.tsv")).stream().skip(1)
                .map(r -> java.util.Arrays.stream(r.split("\t")).mapToDouble(Double::parseDouble).toArray()).toList();
    }

    private static double mean(List<double[]> rows, int column) {
        return rows.stream().mapToDouble(r -> r[column]).average().orElseThrow();
    }

    /**
     * Spec §9.5 from a pretrained start (issue 15, point 11), over three paired seeds and under a
     * constant learning rate, so a late decline of r_t is not the cosine schedule's: masks revive,
     * late flips are rarer than early ones, and annealing flips more early and ends with a higher
     * i_T than a constant λmax.
     * Each ordering is asserted only as far as its 95% interval allows (see docs/results.md,
     * "AST — flip rates from a pretrained start", for the five-seed version).
     */
    @Test
    void fromAPretrainedStartMasksReviveFlipLessLateThanEarlyAndAnnealingExploresMoreEarlyOverPairedSeeds() throws Exception {
        Path pretrained = tmp.resolve("pretrained");
        String model = """
                model: { family: llama, dim: 16, layers: 2, heads: 2, ffn: 24 }
                data: { type: text, context: 16, limit: 300 }
                """;
        try (Run p = TrainJob.prepare(host, Recipe.parse(model + "train: { steps: 150, batch: 8, lr: 1e-2, seed: 1 }\n",
                "pretrain.yaml"), new PrintWriter(new StringWriter(), true), tmp.resolve("work-pretrain"))) {
            TrainJob.train(p, pretrained, false, new PrintWriter(new StringWriter()), false);
        }
        int[] seeds = {5, 6, 7};
        double[][] annealed = new double[3][seeds.length]; // early r_t, late r_t, i_T
        double[][] constant = new double[3][seeds.length];
        for (int s = 0; s < seeds.length; s++) {
            String train = "train: { init: \"" + pretrained + "\", steps: 40, batch: 4, lr: 1e-2, schedule: constant, seed: " + seeds[s] + " }\n";
            List<double[]> a = flipRows("{ type: nm, every: 2, lambda-max: 1.0e-1 }", train);
            List<double[]> c = flipRows("{ type: nm, every: 2, lambda-max: 1.0e-1, decay: constant }", train);
            assertThat(a).hasSize(20);
            double[] last = a.get(a.size() - 1);
            assertThat(last[2]).isEqualTo(2 * last[3], org.assertj.core.api.Assertions.within(1e-7));
            annealed[0][s] = mean(a.subList(0, 5), 1);
            annealed[1][s] = mean(a.subList(15, 20), 1);
            annealed[2][s] = last[2];
            constant[0][s] = mean(c.subList(0, 5), 1);
            constant[1][s] = mean(c.subList(15, 20), 1);
            constant[2][s] = c.get(c.size() - 1)[2];
        }
        Paired decline = Paired.of(annealed[0], annealed[1]);
        Paired exploration = Paired.of(annealed[0], constant[0]);
        Paired initialFlips = Paired.of(annealed[2], constant[2]);
        Claims.report("ast-flips-ci", String.format(java.util.Locale.ROOT, "AST flips from a pretrained start, constant lr, seeds %s:"
                + " annealed r_t first quarter %s, last quarter %s, i_T %s; constant λ r_t first quarter %s, i_T %s;"
                + " paired first − last (annealed) %s; annealed − constant, first quarter %s; i_T %s",
                java.util.Arrays.toString(seeds), DseeStagesTest.fourDigits(annealed[0]), DseeStagesTest.fourDigits(annealed[1]),
                DseeStagesTest.fourDigits(annealed[2]), DseeStagesTest.fourDigits(constant[0]), DseeStagesTest.fourDigits(constant[2]),
                decline.describe(1, 4), exploration.describe(1, 4), initialFlips.describe(1, 4)));
        assertThat(java.util.Arrays.stream(annealed[2]).min().orElseThrow()).as("revival: i_T > 0 in every seed").isPositive();
        assertThat(decline.above()).as("late flips rarer than early ones beyond seed noise: %s", decline).isTrue();
        assertThat(exploration.above()).as("annealing flips more early than constant λ beyond seed noise: %s", exploration).isTrue();
        assertThat(initialFlips.above()).as("annealing ends with more initial flips beyond noise: %s", initialFlips).isTrue();
        assertThat(flipRows("{ type: nm, mode: fixed }", "train: { init: \"" + pretrained + "\", steps: 10, batch: 4, lr: 1e-2, seed: 5 }\n"))
                .isEmpty();
    }

    /** Keeps the two largest |w| of each group of 4, lower index first on ties. */
    private static boolean[] magnitude24(float[] w) {
        boolean[] keep = new boolean[w.length];
        for (int s = 0; s < w.length; s += 4) {
            for (int j = 0; j < 4; j++) {
                int rank = 0;
                for (int q = 0; q < 4; q++) {
                    int c = Float.compare(Math.abs(w[s + q]), Math.abs(w[s + j]));
                    if (c > 0 || (c == 0 && q < j)) {
                        rank++;
                    }
                }
                keep[s + j] = rank < 2;
            }
        }
        return keep;
    }
}
