package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
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

    @Test
    void masksReviveFlipLessLateThanEarlyAnnealingExploresMoreThanConstantDecayAndAFixedMaskNeverUpdates() throws Exception {
        String train = "train: { steps: 40, batch: 4, lr: 3e-2, seed: 5 }\n";
        List<double[]> adaptive = flipRows("{ type: nm, every: 2, lambda-max: 1.0e-1 }", train);
        assertThat(adaptive).hasSize(20);
        double[] last = adaptive.get(adaptive.size() - 1);
        System.out.printf("AST flips: i_T %.4f revived %.4f, r_t first quarter %.4f, last quarter %.4f%n", last[2], last[3],
                mean(adaptive.subList(0, 5), 1), mean(adaptive.subList(15, 20), 1));
        assertThat(last[2]).as("i_T").isPositive();
        assertThat(last[2]).isEqualTo(2 * last[3], org.assertj.core.api.Assertions.within(1e-7));
        assertThat(mean(adaptive.subList(15, 20), 1)).as("mean r_t, last quarter").isLessThan(mean(adaptive.subList(0, 5), 1));
        List<double[]> constant = flipRows("{ type: nm, every: 2, lambda-max: 1.0e-1, decay: constant }", train);
        System.out.printf("AST flips: constant λ r_t first quarter %.4f, i_T %.4f%n", mean(constant.subList(0, 5), 1),
                constant.get(constant.size() - 1)[2]);
        assertThat(mean(adaptive.subList(0, 5), 1)).as("early r_t, annealed vs constant").isGreaterThan(mean(constant.subList(0, 5), 1));
        List<double[]> fixed = flipRows("{ type: nm, mode: fixed }", train);
        assertThat(fixed).isEmpty();
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
