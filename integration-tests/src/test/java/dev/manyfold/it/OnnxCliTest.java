package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code export --format onnx}, {@code --engine onnxruntime} and ONNX export directories through the bundle's launcher. */
class OnnxCliTest {
    private static final String TINY_SOFT = """
            name: tiny-soft
            model: { family: llama, dim: 32, layers: 4, heads: 2, ffn: 64 }
            data: { type: text, context: 48, files: [computers] }
            dimensions: { depth: { budgets: [2, 4] } }
            objective: { type: all-exits }
            train: { steps: 30, batch: 8, lr: 3e-3, seed: 3, log-every: 10 }
            decode: { type: greedy, engine: onnxruntime, onnx-threads: 1 }
            """;

    @TempDir
    static Path dir;

    static Path run;
    static Path export;

    @BeforeAll
    static void trainAndExport() throws IOException {
        Path recipe = Files.writeString(dir.resolve("tiny-soft.yaml"), TINY_SOFT);
        run = dir.resolve("run");
        Cli.Result r = Cli.run("train", recipe.toString(), "--run-dir", run.toString());
        assertThat(r.exit()).as(r.describe()).isZero();
        export = dir.resolve("export");
        Cli.Result e = Cli.run("export", run.toString(), "--format", "onnx", "-o", export.toString());
        assertThat(e.exit()).as(e.describe()).isZero();
        assertThat(e.out()).contains("exported 15 ONNX graphs (exits [2, 4])").contains("tokens_0_2_logits_hidden_step.onnx").contains("draft_0_2_k4.onnx")
                .contains("hidden_2_4_logits_any.onnx").contains("tokens_2_4_logits_any.onnx");
    }

    private static String text(Cli.Result r) {
        assertThat(r.exit()).as(r.describe()).isZero();
        return r.out().substring(0, r.out().indexOf("\n\ndecoder "));
    }

    @Test
    void theExportTheRunOnOnnxRuntimeAndTheRunOnPytorchGenerateTheSameText() {
        String pytorch = text(Cli.run("generate", run.toString(), "--engine", "pytorch", "--prompt", "Unix is", "--max-new-tokens", "30"));
        Cli.Result recipeEngine = Cli.run("generate", run.toString(), "--prompt", "Unix is", "--max-new-tokens", "30");
        assertThat(recipeEngine.out()).as("decode.engine of the recipe").contains("new tokens on onnxruntime");
        assertThat(text(recipeEngine)).isEqualTo(pytorch);
        Cli.Result fromExport = Cli.run("generate", export.toString(), "--decoder", "self-speculative", "--set", "draft=2", "--prompt",
                "Unix is", "--max-new-tokens", "30");
        assertThat(text(fromExport)).isEqualTo(pytorch);
        assertThat(Files.isDirectory(run.resolve("onnx"))).as("graphs cached next to the run").isTrue();
    }

    @Test
    void benchDecodeRunsBothEnginesSideBySide() {
        Cli.Result r = Cli.run("bench", "decode", run.toString(), "--decoders", "greedy,self-speculative", "--set",
                "self-speculative.draft=2", "--engine", "pytorch,onnxruntime", "--prompts", "3", "--max-new-tokens", "16", "--warmup", "1",
                "--eval-batches", "0");
        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).contains("greedy@pytorch").contains("greedy@onnxruntime").contains("self-speculative@onnxruntime")
                .contains("greedy@onnxruntime:").contains("load average");
        assertThat(r.out().lines().filter(l -> l.contains("@") && l.contains(" 3/3 ")).count()).as(r.out()).isEqualTo(4);
        // PyTorch decodes this small model on one intra-op thread, by the same size rule as ONNX Runtime.
        assertThat(r.out()).contains("pytorch: 1 intra-op thread (default for decoding").contains("at most 33.6 MB)");
    }

    @Test
    void pytorchDecodeThreadsFixedByDjlsPropertyOrOmpNumThreadsAreKeptAndNamed() {
        String[] args = {"bench", "decode", run.toString(), "--decoders", "greedy", "--engine", "pytorch", "--prompts", "1", "--max-new-tokens", "4",
                "--warmup", "0", "--eval-batches", "0"};
        Cli.Result omp = Cli.run(java.util.Map.of("OMP_NUM_THREADS", "2"), args);
        assertThat(omp.exit()).as(omp.describe()).isZero();
        assertThat(omp.out()).contains("pytorch: 2 intra-op threads (OMP_NUM_THREADS)");
        Cli.Result property = Cli.run(java.util.Map.of("MANYFOLD_OPTS", "-Xmx2g -Dai.djl.pytorch.num_threads=2"), args);
        assertThat(property.exit()).as(property.describe()).isZero();
        assertThat(property.out()).contains("pytorch: 2 intra-op threads (-Dai.djl.pytorch.num_threads)");
    }

    @Test
    void theRecipesOnnxThreadsIsUsedAndPrintedAndAZeroIsRefusedNamingTheKey() throws IOException {
        Cli.Result r = Cli.run("bench", "decode", run.toString(), "--decoders", "greedy", "--engine", "onnxruntime", "--prompts", "1",
                "--max-new-tokens", "4", "--warmup", "0", "--eval-batches", "0");
        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).contains("onnxruntime: 1 intra-op thread (decode.onnx-threads)");
        Path bad = Files.writeString(dir.resolve("bad-threads.yaml"), TINY_SOFT.replace("onnx-threads: 1", "onnx-threads: 0"));
        Cli.Result v = Cli.run("validate", bad.toString());
        assertThat(v.exit()).as(v.describe()).isEqualTo(2);
        assertThat(v.err()).contains("decode.onnx-threads").doesNotContain("Exception");
    }

    @Test
    void benchDecodeAndEvalRunOnAnExportDirectoryWithPromptsFromATextFile() throws IOException {
        Path text = Files.writeString(dir.resolve("text.txt"), "Unix is a family of operating systems. ".repeat(30));
        Cli.Result bench = Cli.run("bench", "decode", export.toString(), "--text", text.toString(), "--decoders",
                "greedy,self-speculative", "--set", "self-speculative.draft=2", "--prompts", "2", "--max-new-tokens", "8", "--warmup", "0");
        assertThat(bench.exit()).as(bench.describe()).isZero();
        assertThat(bench.out()).contains("2 prompts of 16 tokens from " + text);
        assertThat(bench.out().lines().filter(l -> l.contains(" 2/2 ")).count()).as(bench.out()).isEqualTo(2);
        Cli.Result eval = Cli.run("eval", export.toString(), "--text", text.toString(), "--batches", "2");
        assertThat(eval.exit()).as(eval.describe()).isZero();
        assertThat(eval.out()).contains("engine: onnxruntime (ONNX export").containsPattern("(?m)^\\s+2\\s+\\d+\\.\\d{4}")
                .containsPattern("(?m)^\\s+4\\s+\\d+\\.\\d{4}");
        Cli.Result noText = Cli.run("eval", export.toString());
        assertThat(noText.exit()).as(noText.describe()).isEqualTo(2);
        assertThat(noText.err()).contains(export.toString()).contains("give --text FILE").doesNotContain("Exception");
    }

    @Test
    void aTruncatedExportFileIsRefusedWithExitCode2NamingIt() throws IOException {
        Path broken = dir.resolve("broken");
        Files.createDirectories(broken);
        try (var files = Files.list(export)) {
            for (Path f : files.toList()) {
                Files.copy(f, broken.resolve(f.getFileName()));
            }
        }
        Path step = broken.resolve("tokens_0_4_logits_hidden_step.onnx");
        byte[] bytes = Files.readAllBytes(step);
        Files.write(step, Arrays.copyOf(bytes, bytes.length - 100));
        Cli.Result r = Cli.run("generate", broken.toString(), "--prompt", "Unix", "--max-new-tokens", "4");
        assertThat(r.exit()).as(r.describe()).isEqualTo(2);
        assertThat(r.err()).contains(step.toString()).doesNotContain("\tat ");
    }

    @Test
    void evalOnOnnxRuntimePrintsTheSameLossAndAccuracyTableAsPytorch() {
        Cli.Result pytorch = Cli.run("eval", run.toString(), "--batches", "2", "--no-exits", "--out", dir.resolve("eval-pt").toString());
        Cli.Result ort = Cli.run("eval", run.toString(), "--batches", "2", "--no-exits", "--engine", "onnxruntime", "--out",
                dir.resolve("eval-ort").toString());
        assertThat(pytorch.exit()).as(pytorch.describe()).isZero();
        assertThat(ort.exit()).as(ort.describe()).isZero();
        java.util.function.Function<String, java.util.List<String>> rows = out -> out.lines()
                .filter(l -> l.startsWith("full ") || l.startsWith("depth=")).toList();
        assertThat(rows.apply(ort.out())).hasSize(2).containsExactlyElementsOf(rows.apply(pytorch.out()));
        assertThat(ort.out()).contains("engine: onnxruntime");
    }

    @Test
    void serveOnOnnxRuntimeCompletesWithTheTextPytorchGenerates() throws Exception {
        String pytorch = text(Cli.run("generate", run.toString(), "--engine", "pytorch", "--prompt", "The computer", "--max-new-tokens",
                "20"));
        ProcessBuilder pb = new ProcessBuilder(Bundle.launcher().toString(), "serve", run.toString(), "--port", "0", "--engine",
                "onnxruntime").redirectError(dir.resolve("serve-err.txt").toFile());
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        Process p = pb.start();
        try {
            java.io.BufferedReader out = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(),
                    java.nio.charset.StandardCharsets.UTF_8));
            java.util.regex.Pattern listening = java.util.regex.Pattern.compile("serving .* on (http://127\\.0\\.0\\.1:\\d+) \\(engine onnxruntime");
            String url = null;
            int read = 0;
            for (String line; url == null && read < 50 && (line = out.readLine()) != null; read++) {
                java.util.regex.Matcher m = listening.matcher(line);
                if (m.find()) {
                    url = m.group(1);
                }
            }
            assertThat(url).as(Files.readString(dir.resolve("serve-err.txt"))).isNotNull();
            ServeFixtures.Reply reply = ServeFixtures.post(url + "/v1/completions",
                    "{\"model\": \"run\", \"prompt\": \"The computer\", \"max_tokens\": 20}");
            assertThat(reply.status()).as(reply.toString()).isEqualTo(200);
            String completion = new com.fasterxml.jackson.databind.ObjectMapper().readTree(reply.body()).path("choices").get(0).path("text")
                    .asText();
            assertThat("The computer" + completion).isEqualTo(pytorch);
        } finally {
            p.destroyForcibly();
            p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS);
        }
    }

    @Test
    void anUnknownEngineIsRefusedWithExitCode2() {
        Cli.Result r = Cli.run("generate", run.toString(), "--engine", "tensorflow", "--prompt", "Unix");
        assertThat(r.exit()).as(r.describe()).isEqualTo(2);
        assertThat(r.err()).contains("--engine").contains("unknown engine \"tensorflow\"").contains("pytorch, onnxruntime");
    }
}
