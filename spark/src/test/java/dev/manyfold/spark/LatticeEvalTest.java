package dev.manyfold.spark;

import static dev.manyfold.spark.SparkFixture.cli;
import static dev.manyfold.spark.SparkFixture.job;
import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.runtime.eval.EvalReport;
import dev.manyfold.runtime.eval.EvalRow;
import dev.manyfold.runtime.eval.ExitAnalysis;
import dev.manyfold.runtime.eval.ExitStat;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.model.LayeredLanguageModel;
import dev.manyfold.runtime.data.TrainingData;
import dev.manyfold.runtime.data.DataSources;
import dev.manyfold.api.Settings;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
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

    @Test
    void aLanguageModelRunGetsEvalsExitTableFromSparkBitForBitAndNoExitsSkipsIt() throws IOException {
        Path run = SparkFixture.llama();
        Path dir = SparkFixture.dir().resolve("lm-lattice");
        SparkFixture.Result cliEval = cli("eval", run, "--batches", "3", "--out", dir.resolve("cli"));
        assertThat(cliEval.exit()).as(cliEval.describe()).isZero();
        SparkFixture.Result spark = job(LatticeEval::run, run, "--batches", "3", "--partitions", "3", "--out", dir.resolve("spark"));
        assertThat(spark.exit()).as(spark.describe()).isZero();

        // The printed exit table and eval-exits.csv are eval's, digit for digit; so are the main table and eval.csv.
        // (eval also prints the per-position profile after a blank line; the Spark job writes only the table)
        String fromExits = cliEval.out().substring(cliEval.out().indexOf("  exit   KL(p_L||p_n)"));
        String exitTable = fromExits.substring(0, fromExits.indexOf("\n\n") >= 0 ? fromExits.indexOf("\n\n") + 1 : fromExits.indexOf("wrote "));
        assertThat(exitTable).contains("     1 ").contains("     2       0.000000   1.000000");
        assertThat(spark.out()).contains(exitTable);
        assertThat(Files.readAllLines(dir.resolve("spark/eval-exits.csv"))).hasSize(3)
                .isEqualTo(Files.readAllLines(dir.resolve("cli/eval-exits.csv")));
        assertThat(Files.readAllLines(dir.resolve("spark/eval.csv"))).isEqualTo(Files.readAllLines(dir.resolve("cli/eval.csv")));

        // The Parquet exit table holds the unrounded means: equal to an in-process ExitAnalysis over the same batches.
        List<ExitStat> single;
        try (Manyfold host = Manyfold.builder().build();
                Run p = TrainJob.load(host, run, new PrintWriter(PrintWriter.nullWriter()))) {
            LayeredLanguageModel llama = p.model().languageModel().orElseThrow();
            single = ExitAnalysis.compute(llama, p.data().validation(3), List.of(1, 2), llama.parameters().manager());
        }
        List<Row> exits = new ArrayList<>(SparkFixture.spark().read().parquet(dir.resolve("spark/exits").toString()).collectAsList());
        exits.sort(Comparator.comparingInt(r -> r.getInt(0)));
        assertThat(exits).hasSize(2);
        for (int i = 0; i < 2; i++) {
            Row r = exits.get(i);
            assertThat(r.getInt(r.fieldIndex("exit"))).isEqualTo(single.get(i).exit());
            assertThat(r.getDouble(r.fieldIndex("kl"))).isEqualTo(single.get(i).kl());
            assertThat(r.getDouble(r.fieldIndex("cosine"))).isEqualTo(single.get(i).cosine());
            assertThat(r.getLong(r.fieldIndex("positions"))).isEqualTo(single.get(i).positions());
        }
        assertThat(single.get(0).kl()).as("exit 1 differs from the last layer").isGreaterThan(0);

        SparkFixture.Result none = job(LatticeEval::run, run, "--batches", "1", "--no-exits", "--out", dir.resolve("none"));
        assertThat(none.exit()).as(none.describe()).isZero();
        assertThat(none.out()).doesNotContain("KL(p_L||p_n)");
        assertThat(dir.resolve("none/eval-exits.csv")).doesNotExist();
        assertThat(dir.resolve("none/exits")).doesNotExist();
    }

    @Test
    void dataOptionsEvaluateAnotherDataSetWithTheRecipesSettings() throws IOException {
        Path run = SparkFixture.llama();
        Path dir = SparkFixture.dir().resolve("other-data");
        Path corpus = otherCorpus(dir);
        SparkFixture.Result r = job(LatticeEval::run, run, "--data", corpus, "--data-set", "validation=0.5", "--batches", "2",
                "--partitions", "2", "--no-exits", "--out", dir.resolve("out"));
        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).contains("validation batches of --data " + corpus + " in 2 Spark tasks");

        // Expected: the recipe's data section with path and validation replaced, evaluated in process.
        EvalReport own;
        EvalReport other;
        try (Manyfold host = Manyfold.builder().build();
                Run p = TrainJob.load(host, run, new PrintWriter(PrintWriter.nullWriter()))) {
            Map<String, Object> section = new java.util.LinkedHashMap<>(p.recipe().section("data").asMap());
            section.put("path", corpus.toString());
            section.put("validation", 0.5);
            TrainingData data = DataSources.open(Settings.of("data", section), p.config().sampling());
            other = EvalReport.evaluate(p.model(), data.validation(2), TrainJob.lattice(p), EvalReport.Task.LANGUAGE_MODEL);
            own = EvalReport.evaluate(p.model(), p.data().validation(2), TrainJob.lattice(p), EvalReport.Task.LANGUAGE_MODEL);
        }
        Map<String, Row> parquet = SparkFixture.spark().read().parquet(dir.resolve("out/table").toString()).collectAsList().stream()
                .collect(Collectors.toMap(x -> x.getString(x.fieldIndex("sub_model")), Function.identity()));
        for (EvalRow e : other.rows()) {
            Row row = parquet.get(e.name());
            assertThat(row.getDouble(row.fieldIndex("loss"))).as(e.name()).isEqualTo(e.loss());
            assertThat(row.getDouble(row.fieldIndex("loss"))).as(e.name() + " is not the run's own data")
                    .isNotEqualTo(own.rows().stream().filter(o -> o.name().equals(e.name())).findFirst().orElseThrow().loss());
        }
    }

    @Test
    void dataTheModelCannotReadIsRefusedNamingBothSidesWithExitTwo() throws IOException {
        Path dir = SparkFixture.dir().resolve("bad-data");
        Path corpus = otherCorpus(dir);
        Path tokenizer = Files.writeString(dir.resolve("tokenizer.json"), """
                {"version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
                 "normalizer": {"type": "Lowercase"}, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null, "decoder": null,
                 "model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "</s>": 1, "the": 2, "cat": 3, "sat": 4, "on": 5, "mat": 6,
                           ".": 7}, "unk_token": "[UNK]"}}
                """);
        Map<List<Object>, String> cases = new java.util.LinkedHashMap<>();
        cases.put(List.of(SparkFixture.mlp(), "--data", corpus, "--data-type", "text"), "--data " + corpus + " (text) is token data (a"
                + " language-model task) but the run's mlp model is a classifier; give a data set of the run's kind (fashion-mnist)");
        cases.put(List.of(SparkFixture.llama(), "--data", corpus, "--data-set", "context=64"), "--data " + corpus + ": windows of 64"
                + " tokens exceed the run's llama model context of 32 positions (set --data-set context=N with N <= 32)");
        cases.put(List.of(SparkFixture.llama(), "--data", corpus, "--data-set", "tokenizer=" + tokenizer), "--data " + corpus
                + ": its tokenizer has a vocabulary of 8 ids (end of sequence 1) but the run's llama model was trained with 257 (end of sequence 256); evaluate with the run's tokenizer (byte)");
        cases.put(List.of(SparkFixture.llama(), "--data-type", "text"), "--data-type needs --data PATH");
        cases.put(List.of(SparkFixture.llama(), "--data", dir.resolve("missing.txt")), "--data " + dir.resolve("missing.txt") + ": ");
        cases.put(List.of(SparkFixture.llama(), "--data", corpus, "--data-set", "colour=blue"), "colour");
        cases.put(List.of(SparkFixture.mlp(), "--exits", "1"), "--exits applies to language models (family llama), not to mlp");
        int i = 0;
        for (Map.Entry<List<Object>, String> c : cases.entrySet()) {
            List<Object> args = new ArrayList<>(c.getKey());
            args.addAll(List.of("--batches", "1", "--out", dir.resolve("out" + i++)));
            SparkFixture.Result r = job(LatticeEval::run, args.toArray());
            assertThat(r.exit()).as(r.describe()).isEqualTo(2);
            assertThat(r.err()).as(args.toString()).contains(c.getValue()).doesNotContain("\tat ");
        }
    }

    /** Ten short documents in the fortune format, unlike the built-in corpus the tiny LLaMA was trained on. */
    private static Path otherCorpus(Path dir) throws IOException {
        Files.createDirectories(dir);
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 10; i++) {
            text.append("Document ").append(i).append(": the quick brown fox jumps over the lazy dog, ").append("zzz ".repeat(i + 3))
                    .append("and then it rests.\n%\n");
        }
        return Files.writeString(dir.resolve("corpus.txt"), text.toString());
    }
}
