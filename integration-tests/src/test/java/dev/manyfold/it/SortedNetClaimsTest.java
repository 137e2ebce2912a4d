package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.objective.Batch;
import dev.manyfold.runtime.eval.EvalReport;
import dev.manyfold.runtime.eval.EvalRow;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.model.Model;
import dev.manyfold.runtime.model.ModelFactory;
import dev.manyfold.runtime.train.HostBatch;
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
 * targeted sub-models) against the same MLP trained normally for the same steps.
 */
class SortedNetClaimsTest {
    private static final String COMMON = """
            model: { family: mlp, hidden: 256, blocks: 4 }
            data: { type: fashion-mnist }
            train: { steps: 1200, batch: 128, lr: 2e-3, warmup: 50, seed: 42 }
            """;
    private static final String DIMENSIONS = """
            dimensions:
              width: { range: { from: 32, to: 256, step: 8 } }
              depth: { budgets: [1, 2, 3, 4] }
            """;

    @TempDir
    Path dir;

    @Test
    void sortedSubModelsKeepTheirAccuracyWhereCutsOfANormalModelCollapse() throws IOException {
        Path normalRun = dir.resolve("normal");
        Path sortedRun = dir.resolve("sorted");
        Claims.train(Files.writeString(dir.resolve("normal.yaml"), "name: normal\n" + COMMON + "objective: { type: standard }\n"),
                normalRun);
        Claims.train(Files.writeString(dir.resolve("sorted.yaml"),
                "name: sorted\n" + COMMON + DIMENSIONS + "objective: { type: stochastic, sandwich: true }\n"), sortedRun);

        try (Manyfold host = Claims.host(); TrainJob.Prepared sorted = Claims.load(host, sortedRun);
                TrainJob.Prepared normal = Claims.load(host, normalRun)) {
            List<SubModel> lattice = TrainJob.lattice(sorted);
            assertThat(lattice).as("targeted sub-models plus the full model").hasSizeGreaterThanOrEqualTo(101);
            List<HostBatch> test = sorted.data().validation(100);
            EvalReport s = EvalReport.evaluate(sorted.model(), test, lattice, EvalReport.Task.CLASSIFICATION);
            EvalReport n = EvalReport.evaluate(normal.model(), test, lattice, EvalReport.Task.CLASSIFICATION);

            // upper half of the budgets: the upper half of every dimension's budget list
            List<EvalRow> upperSorted = s.rows().stream().filter(r -> upperHalf(r.subModel())).toList();
            List<EvalRow> upperNormal = n.rows().stream().filter(r -> upperHalf(r.subModel())).toList();
            assertThat(upperSorted).hasSizeGreaterThanOrEqualTo(20);
            double sortedFull = s.full().accuracy();
            double normalFull = n.full().accuracy();
            double sortedKeep = upperSorted.stream().mapToDouble(r -> r.accuracy() / sortedFull).average().orElseThrow();
            double normalKeep = upperNormal.stream().mapToDouble(r -> r.accuracy() / normalFull).average().orElseThrow();
            double sortedAll = s.rows().stream().mapToDouble(EvalRow::accuracy).average().orElseThrow();
            double normalAll = n.rows().stream().mapToDouble(EvalRow::accuracy).average().orElseThrow();
            Claims.report("sortednet", String.format(Locale.ROOT,
                    "SortedNet Fashion-MNIST MLP 256x4, 1200 steps: %d sub-models; full: sorted %.2f%% normal %.2f%%;"
                            + " upper half (%d sub-models) keeps %.1f%% (sorted) vs %.1f%% (cut from normal) of full accuracy;"
                            + " mean accuracy over all sub-models: sorted %.2f%% normal %.2f%%",
                    lattice.size(), 100 * sortedFull, 100 * normalFull, upperSorted.size(), 100 * sortedKeep, 100 * normalKeep,
                    100 * sortedAll, 100 * normalAll));

            assertThat(sortedKeep).as("sorted sub-models keep >= 90% of the full accuracy").isGreaterThanOrEqualTo(0.90);
            // "far worse": the normal model's cuts lose at least 5x as much of the full accuracy in the upper half,
            // and over the whole lattice they are at least 10 points worse on average
            assertThat(1 - normalKeep).as("relative accuracy lost by cuts of the normal model, upper half")
                    .isGreaterThanOrEqualTo(5 * (1 - sortedKeep));
            assertThat(normalAll).as("cuts of a normally trained model, all sub-models").isLessThan(sortedAll - 0.10);
            assertThat(sortedFull).as("the full sorted model loses at most 2 points").isGreaterThanOrEqualTo(normalFull - 0.02);

            // a sub-model exported from the checkpoint reproduces its training-time outputs exactly
            Path exported = dir.resolve("sub.safetensors");
            Cli.Result r = Cli.run("export", sortedRun.toString(), "--sub-model", "depth=2,width=96", "-o", exported.toString());
            assertThat(r.exit()).as(r.describe()).isZero();
            SubModel sub = SubModel.of(Map.of("depth", 2, "width", 96));
            try (NDManager m = NDManager.newBaseManager()) {
                var checkpoint = dev.manyfold.runtime.checkpoint.Checkpoint.load(exported);
                Model plain = ModelFactory.build(dev.manyfold.runtime.recipe.Recipe.parse(checkpoint.metadata().get("recipe"), "x")
                        .section("model"), ModelFactory.DataShape.vision(784, 10), 1, m);
                checkpoint.tensors().forEach((name, t) -> plain.parameters().assign(name, t.toNDArray(m)));
                Batch batch = test.get(0).toBatch(m);
                NDArray expected = sorted.model().forward(batch.inputs(), sub);
                assertThat(plain.forward(batch.inputs(), SubModel.FULL).toFloatArray()).containsExactly(expected.toFloatArray());
            }
        }
    }

    private static boolean upperHalf(SubModel sub) {
        // width budgets 32..256 step 8 (29): upper half from 152; depth budgets 1..4: upper half from 3
        return sub.budgetOr("width", 256) >= 152 && sub.budgetOr("depth", 4) >= 3;
    }
}
