package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Both Spark jobs launched as a cluster user launches them: {@code spark-submit --master local[2]
 * --class ... manyfold-spark-VERSION-job.jar ...} in a child process (Spark's own launcher and
 * {@code org.apache.spark.deploy.SparkSubmit}, from the SPARK_HOME that spark/spark-home
 * assembles from Maven Central; the job jar holds Manyfold but not Spark), on a tiny LLaMA run;
 * the outputs equal the bundle's single-machine {@code eval} and {@code generate}.
 */
class SparkSubmitTest {
    private static final String RECIPE = """
            name: tiny-llama
            model: { family: llama, dim: 16, layers: 2, heads: 2, ffn: 24 }
            data: { type: text, context: 32, limit: 300 }
            dimensions: { depth: { budgets: [1, 2] } }
            objective: { type: all-exits }
            train: { steps: 3, batch: 4, lr: 1e-3, seed: 3 }
            """;
    private static final List<String> PROMPTS = List.of("The ", "Linux is", "Once upon a time");

    @TempDir
    static Path dir;

    static Path run;

    @BeforeAll
    static void train() throws IOException {
        run = dir.resolve("run");
        Cli.Result r = Cli.run("train", Files.writeString(dir.resolve("tiny-llama.yaml"), RECIPE).toString(), "--run-dir", run.toString());
        assertThat(r.exit()).as(r.describe()).isZero();
    }

    private static Path property(String name) {
        String value = System.getProperty(name);
        assertThat(value).as("system property " + name + " (set by integration-tests/pom.xml)").isNotBlank();
        Path path = Path.of(value).toAbsolutePath().normalize();
        assertThat(path).as(name + ": run `mvn package` from the project root first").exists();
        return path;
    }

    /** spark/bin/spark-submit-local with the options a local[2] user gives, loopback only, no UI. */
    private static Cli.Result submit(String mainClass, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(property("manyfold.spark.submit").toString(), "--master", "local[2]",
                "--driver-java-options", "-Dai.djl.offline=true", "--conf", "spark.executor.extraJavaOptions=-Dai.djl.offline=true",
                "--conf", "spark.ui.enabled=false", "--conf", "spark.driver.bindAddress=127.0.0.1", "--conf", "spark.driver.host=127.0.0.1",
                "--class", mainClass, property("manyfold.spark.job").toString()));
        command.addAll(List.of(args));
        Path out = Files.createTempFile(dir, "submit", ".out");
        Path err = Files.createTempFile(dir, "submit", ".err");
        ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
        pb.environment().remove("SPARK_HOME");
        Process p = pb.start();
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("spark-submit timed out after 300 s: " + command);
        }
        return new Cli.Result(command, p.exitValue(), Files.readString(out), Files.readString(err));
    }

    @Test
    void latticeEvalThroughSparkSubmitPrintsAndWritesEvalsTablesDigitForDigit() throws Exception {
        Cli.Result eval = Cli.run("eval", run.toString(), "--batches", "3", "--out", dir.resolve("cli-eval").toString());
        assertThat(eval.exit()).as(eval.describe()).isZero();
        Cli.Result spark = submit("dev.manyfold.spark.LatticeEval", run.toString(), "--plugins", Bundle.plugins().toString(), "--batches",
                "3", "--partitions", "3", "--out", dir.resolve("lattice").toString());
        assertThat(spark.exit()).as(spark.describe()).isZero();
        assertThat(spark.out()).contains("evaluating 2 sub-models on 3 validation batches in 3 Spark tasks");
        // The sub-model table and the exit (KL/cosine) table as eval prints them.
        // (eval then prints the per-position exit profile, which the Spark job does not compute)
        int end = eval.out().indexOf("\nposition ") >= 0 ? eval.out().indexOf("\nposition ") : eval.out().indexOf("wrote ");
        String tables = eval.out().substring(eval.out().indexOf("sub-model "), end).stripTrailing();
        assertThat(tables).contains("KL(p_L||p_n)");
        assertThat(spark.out()).contains(tables);
        for (String file : List.of("eval.csv", "eval-exits.csv")) {
            assertThat(Files.readAllLines(dir.resolve("lattice").resolve(file))).as(file)
                    .isEqualTo(Files.readAllLines(dir.resolve("cli-eval").resolve(file)));
        }
        assertThat(dir.resolve("lattice/table")).isDirectory();
        assertThat(dir.resolve("lattice/exits")).isDirectory();
    }

    @Test
    void batchGenerateThroughSparkSubmitWritesEveryRowOnceAndGreedyTextEqualsGenerate() throws Exception {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 240; i++) {
            lines.add("{\"id\": \"q" + i + "\", \"prompt\": \"" + PROMPTS.get(i % PROMPTS.size()) + "\"}");
        }
        lines.add(100, "{not json");
        Path input = Files.write(dir.resolve("prompts.jsonl"), lines);
        Path out = dir.resolve("completions");
        Cli.Result spark = submit("dev.manyfold.spark.BatchGenerate", run.toString(), "--plugins", Bundle.plugins().toString(), "--input",
                input.toString(), "--out", out.toString(), "--budgets", "full,exit-1", "--max-new-tokens", "4", "--partitions", "4",
                "--output-format", "json");
        assertThat(spark.exit()).as(spark.describe()).isZero();
        assertThat(spark.out()).contains("481 rows (2 budgets on pytorch), 1 error row");

        ObjectMapper json = new ObjectMapper();
        List<JsonNode> rows = new ArrayList<>();
        try (Stream<Path> files = Files.list(out)) {
            for (Path f : files.filter(f -> f.getFileName().toString().startsWith("part-")).toList()) {
                for (String line : Files.readAllLines(f)) {
                    rows.add(json.readTree(line));
                }
            }
        }
        assertThat(rows).hasSize(481);
        assertThat(rows).extracting(r -> r.get("row").asLong() + "/" + r.path("budget").asText()).doesNotHaveDuplicates();
        assertThat(rows).filteredOn(r -> r.hasNonNull("error")).singleElement()
                .satisfies(r -> assertThat(r.get("error").asText()).startsWith("row 101: not a JSON object"));

        // Every prompt's greedy text, per budget, is what the bundle's generate prints on one machine.
        Map<String, String> sparkText = new HashMap<>();
        for (JsonNode r : rows) {
            if (r.hasNonNull("error")) {
                continue;
            }
            String prompt = PROMPTS.get(Integer.parseInt(r.get("id").asText().substring(1)) % PROMPTS.size());
            String key = prompt + "|" + r.get("budget").asText();
            String previous = sparkText.putIfAbsent(key, r.get("text").asText());
            assertThat(r.get("text").asText()).as(key + " in row " + r.get("row")).isEqualTo(previous == null ? r.get("text").asText()
                    : previous);
            assertThat(r.get("new_tokens").asInt()).isEqualTo(4);
        }
        assertThat(sparkText).hasSize(6);
        for (String prompt : PROMPTS) {
            for (String budget : List.of("full", "exit-1")) {
                List<String> args = new ArrayList<>(List.of("generate", run.toString(), "--decoder", "greedy", "--prompt", prompt,
                        "--max-new-tokens", "4"));
                if (budget.equals("exit-1")) {
                    args.addAll(List.of("--set", "exit=1"));
                }
                Cli.Result g = Cli.run(args.toArray(String[]::new));
                assertThat(g.exit()).as(g.describe()).isZero();
                assertThat(g.out()).as(budget + " on \"" + prompt + "\"").startsWith(prompt + sparkText.get(prompt + "|" + budget) + "\n\n");
            }
        }
    }
}
