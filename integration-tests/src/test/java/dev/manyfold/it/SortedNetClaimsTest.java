package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.objective.Batch;
import dev.manyfold.runtime.eval.EvalReport;
import dev.manyfold.runtime.eval.EvalRow;
import dev.manyfold.runtime.eval.Paired;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.model.Model;
import dev.manyfold.runtime.model.ModelFactory;
import dev.manyfold.runtime.data.HostBatch;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SortedNet at small scale on Fashion-MNIST: an MLP sorted along width × depth (29 × 4 = 116
 * targeted sub-models) with SortedNet's own Eq. 1 rule (one sub-model drawn per step, uniform
 * per dimension, no sandwich), against the same MLP trained normally for the same steps, over
 * three paired seeds. Orderings are asserted on the paired differences' 95% intervals
 * ({@link Paired}). The full experiment (1200 steps, summation, gradient accumulation, head
 * baselines, monotonicity, selection) is {@code examples/sortednet-claims/run.sh}.
 */
class SortedNetClaimsTest {
    private static final long[] SEEDS = {42, 43, 44};
    private static final String COMMON = """
            model: { family: mlp, hidden: 256, blocks: 4 }
            data: { type: fashion-mnist }
            train: { steps: %d, batch: 128, lr: 2e-3, warmup: 50, seed: %d }
            """;
    private static final int STEPS = 600;
    private static final String DIMENSIONS = """
            dimensions:
              width: { range: { from: 32, to: 256, step: 8 } }
              depth: { budgets: [1, 2, 3, 4] }
            """;

    @TempDir
    Path dir;

    @Test
    void sortedSubModelsKeepTheirAccuracyWhereCutsOfANormalModelCollapse() throws IOException {
        int n = SEEDS.length;
        double[] sortedFull = new double[n];
        double[] normalFull = new double[n];
        double[] sortedKeep = new double[n];
        double[] normalKeep = new double[n];
        double[] sortedAll = new double[n];
        double[] normalAll = new double[n];
        double[] regret = new double[n];
        int lattice = 0;
        for (int i = 0; i < n; i++) {
            String common = String.format(java.util.Locale.ROOT, COMMON, STEPS, SEEDS[i]);
            Path normalRun = dir.resolve("normal-" + SEEDS[i]);
            Path sortedRun = dir.resolve("sorted-" + SEEDS[i]);
            Claims.train(Files.writeString(dir.resolve("normal.yaml"), "name: normal\n" + common + "objective: { type: standard }\n"),
                    normalRun);
            Claims.train(Files.writeString(dir.resolve("sorted.yaml"), "name: sorted\n" + common + DIMENSIONS
                    + "objective: { type: stochastic }\n"), sortedRun);
            try (Manyfold host = Claims.host(); Run sorted = Claims.load(host, sortedRun);
                    Run normal = Claims.load(host, normalRun)) {
                List<SubModel> subs = TrainJob.lattice(sorted);
                lattice = subs.size();
                List<HostBatch> test = sorted.data().validation(100);
                List<HostBatch> a = test.subList(0, test.size() / 2);
                List<HostBatch> b = test.subList(test.size() / 2, test.size());
                EvalReport sa = EvalReport.evaluate(sorted.model(), a, subs, EvalReport.Task.CLASSIFICATION);
                EvalReport sb = EvalReport.evaluate(sorted.model(), b, subs, EvalReport.Task.CLASSIFICATION);
                EvalReport s = average(sa, sb);
                EvalReport nr = average(EvalReport.evaluate(normal.model(), a, subs, EvalReport.Task.CLASSIFICATION),
                        EvalReport.evaluate(normal.model(), b, subs, EvalReport.Task.CLASSIFICATION));
                sortedFull[i] = s.full().accuracy();
                normalFull[i] = nr.full().accuracy();
                sortedKeep[i] = s.rows().stream().filter(r -> upperHalf(r.subModel())).mapToDouble(r -> r.accuracy() / s.full().accuracy())
                        .average().orElseThrow();
                normalKeep[i] = nr.rows().stream().filter(r -> upperHalf(r.subModel()))
                        .mapToDouble(r -> r.accuracy() / nr.full().accuracy()).average().orElseThrow();
                sortedAll[i] = s.rows().stream().mapToDouble(EvalRow::accuracy).average().orElseThrow();
                normalAll[i] = nr.rows().stream().mapToDouble(EvalRow::accuracy).average().orElseThrow();
                regret[i] = selectionRegret(sa, sb);
                if (i == 0) {
                    assertExportReproducesTrainingOutputs(sortedRun, sorted, test.get(0));
                }
            }
        }
        Paired lattices = Paired.of(sortedAll, normalAll);
        Paired keeps = Paired.of(sortedKeep, normalKeep);
        Paired full = Paired.of(normalFull, sortedFull);
        Claims.report("sortednet", String.format(Locale.ROOT,
                "SortedNet Eq. 1 (no sandwich), Fashion-MNIST MLP 256x4, %d steps, seeds %s: %d sub-models;"
                        + " full accuracy sorted %s normal %s; upper half keeps %s (sorted) vs %s (cut from normal) of full;"
                        + " mean lattice accuracy sorted %s normal %s;%n  paired (points): sorted - normal lattice mean %s;"
                        + " sorted - normal upper-half share %s; normal - sorted full %s;"
                        + " selection on half A scored on half B, mean regret per seed %s",
                STEPS, java.util.Arrays.toString(SEEDS), lattice, pct(sortedFull), pct(normalFull), pct(sortedKeep), pct(normalKeep),
                pct(sortedAll), pct(normalAll), lattices.describe(100, 2), keeps.describe(100, 2), full.describe(100, 2),
                pct(regret)));

        // Sorted training beats naive cutting beyond seed noise (measured: +17.5 points, interval [+10.5, +24.6])
        assertThat(lattices.low()).as("sorted - normal mean lattice accuracy, 95%% interval: %s", lattices).isGreaterThan(0.05);
        assertThat(keeps.above()).as("upper-half share of full accuracy, sorted - normal: %s", keeps).isTrue();
        for (double k : sortedKeep) {
            assertThat(k).as("sorted sub-models (upper half) keep >= 90% of the full accuracy in every seed").isGreaterThanOrEqualTo(0.90);
        }
        // The paper's "the largest model loses < 2 points" does NOT hold here: at 600 steps Eq. 1's full model is
        // 2.3 points below normal training beyond noise (interval [+1.1, +3.5]; docs/results.md). Asserted: it stays
        // within 5 points, so a regression that breaks the full model is caught.
        assertThat(full.high()).as("normal - sorted full accuracy, 95%% interval: %s", full).isLessThan(0.05);
        // search-free selection: the best within budget chosen on one half of the test set is within a point of the other half's best
        for (double r : regret) {
            assertThat(r).as("mean regret of selection over all budgets").isLessThan(0.01);
        }
    }

    /** Mean regret (accuracy on B of B's best within budget minus that of A's pick), over every distinct lattice cost. */
    private static double selectionRegret(EvalReport a, EvalReport b) {
        Map<String, EvalRow> onB = new java.util.HashMap<>();
        b.rows().forEach(r -> onB.put(r.name(), r));
        List<Long> budgets = a.rows().stream().map(EvalRow::flops).distinct().toList();
        return budgets.stream().mapToDouble(budget -> b.bestWithin(budget).orElseThrow().accuracy()
                - onB.get(a.bestWithin(budget).orElseThrow().name()).accuracy()).average().orElseThrow();
    }

    /** The row-wise mean of two evaluations of the same sub-models on equally sized halves. */
    private static EvalReport average(EvalReport a, EvalReport b) {
        List<EvalRow> rows = new java.util.ArrayList<>();
        for (int i = 0; i < a.rows().size(); i++) {
            EvalRow x = a.rows().get(i);
            EvalRow y = b.rows().get(i);
            rows.add(new EvalRow(x.subModel(), x.parameters(), x.flops(), (x.loss() + y.loss()) / 2, (x.accuracy() + y.accuracy()) / 2));
        }
        return EvalReport.of(EvalReport.Task.CLASSIFICATION, rows, a.dimensions());
    }

    private static String pct(double[] v) {
        Paired p = Paired.ofDifferences(v);
        return String.format(Locale.ROOT, "%.2f%% ± %.2f", 100 * p.mean(), 100 * p.standardError());
    }

    /** A sub-model exported from the checkpoint reproduces its training-time outputs exactly. */
    private void assertExportReproducesTrainingOutputs(Path sortedRun, Run sorted, HostBatch sample) {
        Path exported = dir.resolve("sub.safetensors");
        Cli.Result r = Cli.run("export", sortedRun.toString(), "--sub-model", "depth=2,width=96", "-o", exported.toString());
        assertThat(r.exit()).as(r.describe()).isZero();
        SubModel sub = SubModel.of(Map.of("depth", 2, "width", 96));
        try (NDManager m = NDManager.newBaseManager()) {
            var checkpoint = dev.manyfold.runtime.checkpoint.Checkpoint.load(exported);
            Model plain = ModelFactory.build(dev.manyfold.runtime.recipe.Recipe.parse(checkpoint.metadata().get("recipe"), "x")
                    .section("model"), ModelFactory.DataShape.vision(784, 10), 1, m);
            checkpoint.tensors().forEach((name, t) -> plain.parameters().assign(name, t.toNDArray(m)));
            Batch batch = sample.toBatch(m);
            NDArray expected = sorted.model().forward(batch.inputs(), sub);
            assertThat(plain.forward(batch.inputs(), SubModel.FULL).toFloatArray()).containsExactly(expected.toFloatArray());
        }
    }

    private static boolean upperHalf(SubModel sub) {
        // width budgets 32..256 step 8 (29): upper half from 152; depth budgets 1..4: upper half from 3
        return sub.budgetOr("width", 256) >= 152 && sub.budgetOr("depth", 4) >= 3;
    }
}
