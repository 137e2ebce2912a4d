package dev.manyfold.spark;

import static dev.manyfold.spark.SparkFixture.cli;
import static dev.manyfold.spark.SparkFixture.job;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;

/** The batch generation job on local[2] against single-machine {@code manyfold generate}. */
class BatchGenerateTest {
    private static final List<String> PROMPTS = List.of("The ", "Linux is", "Once upon a time", "perl -e", "Debian", "A fortune: ",
            "Hello", "x", "What is", "In the beginning");

    /** 40 good prompts (ids p0..p39) with two malformed lines among them, at rows 5 and 23. */
    private static Path prompts(String name) throws IOException {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            if (lines.size() == 4) {
                lines.add("{\"id\": \"no-prompt\", \"text\": \"oops\"}");
            }
            if (lines.size() == 22) {
                lines.add("{not json");
            }
            lines.add("{\"id\": \"p" + i + "\", \"prompt\": \"" + PROMPTS.get(i % PROMPTS.size()) + "\"}");
        }
        Path file = SparkFixture.dir().resolve(name + ".jsonl");
        Files.write(file, lines);
        return file;
    }

    private static List<Row> read(Path out) {
        List<Row> rows = new ArrayList<>(SparkFixture.spark().read().parquet(out.toString()).collectAsList());
        rows.sort(Comparator.comparingLong((Row r) -> r.getLong(0)).thenComparing(r -> String.valueOf(r.getString(2))));
        return rows;
    }

    @Test
    void greedyRowsEqualManyfoldGenerateAndMalformedRowsBecomeErrorRowsNamingTheRow() throws IOException {
        Path run = SparkFixture.llama();
        Path out = SparkFixture.dir().resolve("generated");
        SparkFixture.Result r = job(BatchGenerate::run, run, "--input", prompts("prompts"), "--out", out, "--budgets", "full,exit-1",
                "--max-new-tokens", "6", "--partitions", "3");
        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).contains("82 rows (2 budgets on pytorch), 2 error rows");
        assertThat(ExecutorModels.loads("generate", run.toString())).as("the model is loaded once per JVM, not per task or row")
                .isEqualTo(1);

        List<Row> rows = read(out);
        assertThat(rows).hasSize(80 + 2);
        List<Row> errors = rows.stream().filter(x -> x.getString(x.fieldIndex("error")) != null).toList();
        assertThat(errors).extracting(x -> x.getString(x.fieldIndex("error")))
                .containsExactly("row 5 (id no-prompt): prompt is missing", "row 23: not a JSON object: " + errors.get(1)
                        .getString(errors.get(1).fieldIndex("error")).substring("row 23: not a JSON object: ".length()));
        List<Row> good = rows.stream().filter(x -> x.getString(x.fieldIndex("error")) == null).toList();
        assertThat(good).extracting(x -> x.getString(x.fieldIndex("id")) + "/" + x.getString(x.fieldIndex("budget")))
                .doesNotHaveDuplicates().hasSize(80);
        assertThat(good).allSatisfy(x -> {
            assertThat(x.getInt(x.fieldIndex("new_tokens"))).isEqualTo(6);
            assertThat(x.getString(x.fieldIndex("engine"))).isEqualTo("pytorch");
            assertThat(x.<String, Double>getJavaMap(x.fieldIndex("statistics"))).containsKey("tokens");
        });

        // Greedy text equals manyfold generate's on one machine, for the full model and at exit 1.
        for (int i = 0; i < 3; i++) {
            String prompt = PROMPTS.get(i);
            for (String budget : List.of("full", "exit-1")) {
                List<String> set = budget.equals("full") ? List.of() : List.of("--set", "exit=1");
                List<Object> args = new ArrayList<>(List.of("generate", run, "--decoder", "greedy", "--prompt", prompt,
                        "--max-new-tokens", "6"));
                args.addAll(set);
                SparkFixture.Result g = cli(args.toArray());
                assertThat(g.exit()).as(g.describe()).isZero();
                String id = "p" + i;
                Row row = good.stream().filter(x -> x.getString(x.fieldIndex("id")).equals(id)
                        && x.getString(x.fieldIndex("budget")).equals(budget)).findFirst().orElseThrow();
                assertThat(g.out()).as(budget + " on " + prompt).startsWith(prompt + row.getString(row.fieldIndex("text")) + "\n\n");
            }
        }
    }

    @Test
    void aTaskThatFailsOnItsFirstAttemptIsRetriedAndTheOutputHasNoDuplicatesOrGaps() throws Exception {
        Path run = SparkFixture.llama();
        Path input = prompts("retry");
        Path clean = SparkFixture.dir().resolve("clean");
        SparkFixture.Result first = job(BatchGenerate::run, run, "--input", input, "--out", clean, "--max-new-tokens", "4",
                "--partitions", "4");
        assertThat(first.exit()).as(first.describe()).isZero();

        AtomicInteger failedTasks = new AtomicInteger();
        SparkListener listener = new SparkListener() {
            @Override
            public void onTaskEnd(SparkListenerTaskEnd end) {
                if (end.taskInfo().failed()) {
                    failedTasks.incrementAndGet();
                }
            }
        };
        SparkFixture.spark().sparkContext().addSparkListener(listener);
        Path retried = SparkFixture.dir().resolve("retried");
        try {
            SparkFixture.Result r = job(BatchGenerate::run, run, "--input", input, "--out", retried, "--max-new-tokens", "4",
                    "--partitions", "4", "--fail-first-attempt-of-partition", "1");
            assertThat(r.exit()).as(r.describe()).isZero();
        } finally {
            SparkFixture.spark().sparkContext().listenerBus().waitUntilEmpty();
            SparkFixture.spark().sparkContext().removeSparkListener(listener);
        }
        assertThat(failedTasks.get()).as("the injected failure happened").isEqualTo(1);
        List<Row> expected = read(clean);
        List<Row> actual = read(retried);
        assertThat(actual).hasSize(42);
        assertThat(actual).extracting(x -> x.getLong(0)).doesNotHaveDuplicates();
        assertThat(actual).extracting(x -> x.getLong(0) + " " + x.getString(1) + " " + x.getString(x.fieldIndex("text")) + " "
                + x.getString(x.fieldIndex("error"))).isEqualTo(expected.stream().map(x -> x.getLong(0) + " " + x.getString(1) + " "
                        + x.getString(x.fieldIndex("text")) + " " + x.getString(x.fieldIndex("error"))).toList());
    }

    @Test
    void onErrorFailFailsTheJobNamingTheRowAndBadOptionsAreExitTwo() throws IOException {
        Path run = SparkFixture.llama();
        Path input = prompts("strict");
        SparkFixture.Result r = job(BatchGenerate::run, run, "--input", input, "--out", SparkFixture.dir().resolve("strict"),
                "--max-new-tokens", "2", "--on-error", "fail", "--partitions", "1");
        assertThat(r.exit()).as(r.describe()).isEqualTo(2);
        assertThat(r.err()).contains("row 5 (id no-prompt): prompt is missing").doesNotContain("\tat ");

        SparkFixture.Result exit = job(BatchGenerate::run, run, "--input", input, "--out", SparkFixture.dir().resolve("bad-exit"),
                "--budgets", "exit-7");
        assertThat(exit.exit()).as(exit.describe()).isEqualTo(2);
        assertThat(exit.err()).contains("--budgets: exit-7 needs a trained exit 7 (this model's exits: [1, 2])");

        SparkFixture.Result mode = job(BatchGenerate::run, run, "--input", input, "--out", SparkFixture.dir().resolve("bad-mode"),
                "--on-error", "skip");
        assertThat(mode.exit()).as(mode.describe()).isEqualTo(2);
        assertThat(mode.err()).contains("--on-error must be row or fail, got skip");
    }

    @Test
    void anOnnxExportRunsOnOnnxRuntimeFromParquetPromptsAndDecodesWhatPytorchDecodes() throws IOException {
        Path run = SparkFixture.llama();
        Path export = SparkFixture.dir().resolve("onnx-export");
        SparkFixture.Result exported = cli("export", run, "--format", "onnx", "--out", export);
        assertThat(exported.exit()).as(exported.describe()).isZero();
        Path parquet = SparkFixture.dir().resolve("prompts.parquet");
        List<Row> input = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            input.add(org.apache.spark.sql.RowFactory.create((long) i, PROMPTS.get(i % PROMPTS.size())));
        }
        SparkFixture.spark().createDataFrame(input, new org.apache.spark.sql.types.StructType()
                .add("id", org.apache.spark.sql.types.DataTypes.LongType).add("prompt", org.apache.spark.sql.types.DataTypes.StringType))
                .write().parquet(parquet.toString());

        Path ort = SparkFixture.dir().resolve("ort-out");
        SparkFixture.Result r = job(BatchGenerate::run, export, "--input", parquet, "--out", ort, "--budgets", "full,exit-1",
                "--max-new-tokens", "5", "--partitions", "2");
        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).contains("24 rows (2 budgets on onnxruntime), 0 error rows");
        Path torch = SparkFixture.dir().resolve("torch-out");
        SparkFixture.Result t = job(BatchGenerate::run, run, "--input", parquet, "--out", torch, "--budgets", "full,exit-1",
                "--max-new-tokens", "5", "--partitions", "2");
        assertThat(t.exit()).as(t.describe()).isZero();

        List<Row> onOrt = read(ort);
        assertThat(onOrt).allSatisfy(x -> assertThat(x.getString(x.fieldIndex("engine"))).isEqualTo("onnxruntime"));
        assertThat(onOrt).extracting(x -> x.getString(x.fieldIndex("id")) + "/" + x.getString(x.fieldIndex("budget")) + ": "
                + x.getString(x.fieldIndex("text"))).isEqualTo(read(torch).stream().map(x -> x.getString(x.fieldIndex("id")) + "/"
                        + x.getString(x.fieldIndex("budget")) + ": " + x.getString(x.fieldIndex("text"))).toList());
    }
}
