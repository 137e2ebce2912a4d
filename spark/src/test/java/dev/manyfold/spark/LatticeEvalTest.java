package dev.manyfold.spark;

import static dev.manyfold.spark.SparkFixture.cli;
import static dev.manyfold.spark.SparkFixture.job;
import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.runtime.eval.EvalReport;
import dev.manyfold.runtime.eval.EvalRow;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.job.TrainJob;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;

/** The lattice evaluation job on local[2] against single-machine {@code manyfold eval} on the same run. */
class LatticeEvalTest {
    @Test
    void sparkTableEqualsSingleMachineEvalToTheLastBitWhateverThePartitioning() throws IOException {
        Path run = SparkFixture.mlp();
        Path dir = SparkFixture.dir().resolve("lattice");
        SparkFixture.Result cliEval = cli("eval", run, "--batches", "6", "--out", dir.resolve("cli"));
        assertThat(cliEval.exit()).as(cliEval.describe()).isZero();

        SparkFixture.Result three = job(LatticeEval::run, run, "--batches", "6", "--partitions", "3", "--out", dir.resolve("p3"));
        assertThat(three.exit()).as(three.describe()).isZero();
        assertThat(three.out()).containsPattern("evaluating 4 sub-models on \\d+ validation batch(es)? in 3 Spark tasks");
        SparkFixture.Result five = job(LatticeEval::run, run, "--batches", "6", "--partitions", "5", "--out", dir.resolve("p5"));
        assertThat(five.exit()).as(five.describe()).isZero();

        // eval.csv and the printed table are those of manyfold eval, digit for digit.
        List<String> expected = Files.readAllLines(dir.resolve("cli/eval.csv"));
        assertThat(expected).hasSize(5);
        assertThat(Files.readAllLines(dir.resolve("p3/eval.csv"))).isEqualTo(expected);
        assertThat(Files.readAllLines(dir.resolve("p5/eval.csv"))).isEqualTo(expected);
        String table = cliEval.out().substring(cliEval.out().indexOf("\nsub-model") + 1, cliEval.out().indexOf("wrote "));
        assertThat(three.out()).contains(table);
        assertThat(dir.resolve("p3/eval.png")).isRegularFile();

        // The Parquet table holds the unrounded doubles: equal to an in-process single-machine evaluation.
        EvalReport single;
        long labels;
        try (Manyfold host = Manyfold.builder().build();
                Run p = TrainJob.load(host, run, new PrintWriter(PrintWriter.nullWriter()))) {
            List<dev.manyfold.runtime.data.HostBatch> data = p.data().validation(6);
            labels = data.stream().mapToLong(dev.manyfold.runtime.data.HostBatch::labelCount).sum();
            single = EvalReport.evaluate(p.model(), data, TrainJob.lattice(p), EvalReport.Task.CLASSIFICATION);
        }
        for (String split : List.of("p3", "p5")) {
            Map<String, Row> parquet = SparkFixture.spark().read().parquet(dir.resolve(split + "/table").toString()).collectAsList()
                    .stream().collect(Collectors.toMap(r -> r.getString(r.fieldIndex("sub_model")), Function.identity()));
            assertThat(parquet.keySet()).containsExactlyInAnyOrder("full", "depth=1", "width=8", "depth=1,width=8");
            for (EvalRow r : single.rows()) {
                Row row = parquet.get(r.name());
                assertThat(row.getDouble(row.fieldIndex("loss"))).as(split + " " + r.name()).isEqualTo(r.loss());
                assertThat(row.getDouble(row.fieldIndex("accuracy"))).as(split + " " + r.name()).isEqualTo(r.accuracy());
                assertThat(row.getLong(row.fieldIndex("flops_per_example"))).isEqualTo(r.flops());
                assertThat(row.getLong(row.fieldIndex("parameters"))).isEqualTo(r.parameters());
                assertThat(row.getLong(row.fieldIndex("labels"))).isEqualTo(labels);
            }
        }
        List<String> csv = Files.list(dir.resolve("p3/table-csv")).filter(f -> f.toString().endsWith(".csv"))
                .flatMap(f -> {
                    try {
                        return Files.readAllLines(f).stream();
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                }).toList();
        assertThat(csv).hasSize(5);
        assertThat(csv.get(0)).startsWith("sub_model,depth,width,parameters,flops_per_example,loss,accuracy,accuracy_pct_of_full,is_full");
    }

    @Test
    void existingOutputIsRefusedWithoutOverwriteAndABadRunIsExitTwo() {
        Path run = SparkFixture.mlp();
        Path out = SparkFixture.dir().resolve("lattice-twice");
        SparkFixture.Result first = job(LatticeEval::run, run, "--batches", "1", "--out", out);
        assertThat(first.exit()).as(first.describe()).isZero();
        SparkFixture.Result again = job(LatticeEval::run, run, "--batches", "1", "--out", out);
        assertThat(again.exit()).as(again.describe()).isEqualTo(2);
        assertThat(again.err()).contains("already exists").doesNotContain("\tat ");
        SparkFixture.Result overwrite = job(LatticeEval::run, run, "--batches", "1", "--out", out, "--overwrite");
        assertThat(overwrite.exit()).as(overwrite.describe()).isZero();

        SparkFixture.Result missing = job(LatticeEval::run, SparkFixture.dir().resolve("no-such-run"), "--out", out.resolve("x"));
        assertThat(missing.exit()).as(missing.describe()).isEqualTo(2);
        assertThat(missing.err()).contains("no-such-run").doesNotContain("\tat ");
    }
}
