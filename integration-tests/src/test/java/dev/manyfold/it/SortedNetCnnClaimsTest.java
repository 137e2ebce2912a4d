package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.eval.Paired;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.recipe.Recipe;
import dev.manyfold.runtime.train.Evaluator;
import dev.manyfold.runtime.train.HostBatch;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cheap, decisive version of {@code examples/sortednet-cnn/run.sh} (issue 15, point 2): a CNN
 * with batch normalisation (8 channels), trained normally and by SortedNet's Eq. 1 over widths
 * 2..8 for the same steps, three paired seeds, BN recalibrated per width before evaluation. Asserts
 * only the ordering the full experiment separates from zero: the narrowest sub-model of the sorted
 * model beats the same width cut from the normal model.
 */
class SortedNetCnnClaimsTest {
    private static final long[] SEEDS = {42, 43, 44};
    private static final String RECIPE = """
            name: %s
            model: { family: cnn, channels: 8, blocks: 1, batch-norm: true, bn-recalibrate: 10 }
            data: { type: fashion-mnist }
            dimensions: { width: { range: { from: 2, to: 8, step: 2 } } }
            objective: { type: %s }
            train: { steps: 150, batch: 64, lr: 2e-3, warmup: 20, seed: %d }
            """;

    @TempDir
    Path dir;

    @Test
    void theNarrowestSortedSubModelBeatsTheSameWidthCutFromANormalBatchNormCnn() {
        int n = SEEDS.length;
        double[][] narrow = new double[2][n];
        double[][] full = new double[2][n];
        SubModel w2 = SubModel.of(Map.of("width", 2));
        PrintWriter quiet = new PrintWriter(PrintWriter.nullWriter());
        try (Manyfold host = Claims.host()) {
            for (int s = 0; s < n; s++) {
                String[] objectives = {"standard", "stochastic"};
                for (int a = 0; a < 2; a++) {
                    Path run = dir.resolve(objectives[a] + "-" + SEEDS[s]);
                    String yaml = String.format(Locale.ROOT, RECIPE, objectives[a], objectives[a], SEEDS[s]);
                    try (TrainJob.Prepared p = TrainJob.prepare(host, Recipe.parse(yaml, "cnn.yaml"), quiet)) {
                        TrainJob.train(p, run, false, quiet, false);
                        List<HostBatch> test = p.data().validation(20);
                        narrow[a][s] = Evaluator.evaluate(p.model(), test, w2, p.model().parameters().manager()).accuracy();
                        full[a][s] = Evaluator.evaluate(p.model(), test, SubModel.FULL, p.model().parameters().manager()).accuracy();
                    }
                }
            }
        }
        Paired smallest = Paired.of(narrow[1], narrow[0]);
        Paired largest = Paired.of(full[1], full[0]);
        Claims.report("sortednet-cnn", String.format(Locale.ROOT, "width 2: sorted %s, normal %s, sorted - normal %s; full: sorted %s,"
                + " normal %s, sorted - normal %s", java.util.Arrays.toString(narrow[1]), java.util.Arrays.toString(narrow[0]),
                smallest.describe(100, 2), java.util.Arrays.toString(full[1]), java.util.Arrays.toString(full[0]),
                largest.describe(100, 2)));
        assertThat(smallest.low()).as("sorted − normal at width 2: %s", smallest.describe(100, 2)).isGreaterThan(0);
    }
}
