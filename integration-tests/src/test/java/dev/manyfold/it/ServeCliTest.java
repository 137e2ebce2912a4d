package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.serve.ManyfoldServer;
import dev.manyfold.runtime.serve.ServeOptions;
import dev.manyfold.runtime.serve.ServedModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code manyfold serve} as a process: start on a free loopback port, answer with the API key, finish a stream on SIGTERM, refuse bad options. */
class ServeCliTest {
    private static final Pattern LISTENING = Pattern.compile("serving .* on (http://127\\.0\\.0\\.1:\\d+) ");

    @TempDir
    Path dir;

    /** A started {@code manyfold serve} process and the URL it printed. */
    private record Server(Process process, String url, String startup) {}

    private Server start(String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(Bundle.launcher().toString(), "serve"));
        command.addAll(List.of(args));
        Path err = Files.createTempFile(dir, "err", ".txt");
        ProcessBuilder pb = new ProcessBuilder(command).redirectError(err.toFile());
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        Process p = pb.start();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        List<String> lines = new ArrayList<>();
        for (String line; lines.size() < 50 && (line = out.readLine()) != null; ) {
            lines.add(line);
            Matcher m = LISTENING.matcher(line);
            if (m.find()) {
                return new Server(p, m.group(1), line);
            }
        }
        p.destroyForcibly();
        throw new AssertionError("no startup line from " + command + ": " + lines + "\n" + Files.readString(err));
    }

    @Test
    void servesUntilSigtermAndLetsTheRunningStreamFinish() throws Exception {
        Path run = ServeFixtures.trained();
        Path key = Files.writeString(dir.resolve("key"), "k-123\n");
        Server server = start(run.toString(), "--port", "0", "--api-key-file", key.toString(), "--shutdown-timeout", "60");
        Process p = server.process();
        try {
            String url = server.url();
            assertThat(server.startup()).contains("models [run, run:exit-2]");

            assertThat(ServeFixtures.get(url + "/health", null).status()).isEqualTo(200);
            assertThat(ServeFixtures.get(url + "/v1/models", null).status()).isEqualTo(401);
            String u = url;
            CompletableFuture<ServeFixtures.Reply> stream = CompletableFuture.supplyAsync(() -> ServeFixtures.post(u + "/v1/completions",
                    "{\"model\": \"run\", \"prompt\": \"The computer\", \"max_tokens\": 200, \"stream\": true}", "k-123"));
            for (int i = 0; i < 600 && ServeFixtures.metric(ServeFixtures.get(u + "/metrics", "k-123").body(), "manyfold_decodes_running") < 1
                    && !stream.isDone(); i++) {
                Thread.sleep(10);
            }
            p.destroy(); // SIGTERM

            assertThat(p.waitFor(90, TimeUnit.SECONDS)).as("the server exits after SIGTERM").isTrue();
            ServeFixtures.Reply reply = stream.get(60, TimeUnit.SECONDS);
            assertThat(reply.status()).as(reply.toString()).isEqualTo(200);
            assertThat(reply.events()).last().isEqualTo("[DONE]");
            assertThat(reply.body()).contains("\"completion_tokens\":200");
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void onOnnxRuntimeEveryBudgetAnswersAsOnPyTorch() throws Exception {
        Path run = ServeFixtures.trained();
        Server onnx = start(run.toString(), "--port", "0", "--engine", "onnxruntime");
        try (Manyfold host = ServeFixtures.host(); ServedModel served = ServeFixtures.load(host, run);
                ManyfoldServer pytorch = ManyfoldServer.start(served, ServeOptions.loopback())) {
            assertThat(onnx.startup()).contains("engine onnxruntime");
            for (String body : List.of("{\"model\": \"run\", \"prompt\": \"Unix is\", \"max_tokens\": 24}",
                    "{\"model\": \"run:exit-2\", \"prompt\": \"Unix is\", \"max_tokens\": 24}",
                    "{\"model\": \"run\", \"prompt\": \"The computer\", \"max_tokens\": 24, \"manyfold\": {\"decoder\": \"self-speculative\", \"draft\": 2}}")) {
                ServeFixtures.Reply a = ServeFixtures.post(onnx.url() + "/v1/completions", body);
                ServeFixtures.Reply b = ServeFixtures.post(pytorch.url() + "/v1/completions", body);
                assertThat(a.status()).as(a.toString()).isEqualTo(200);
                assertThat(a.json().path("choices").get(0).path("text").asText()).as(body)
                        .isEqualTo(b.json().path("choices").get(0).path("text").asText());
            }
        } finally {
            onnx.process().destroy();
            assertThat(onnx.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
        }
    }

    @Test
    void onOnnxRuntimeConcurrentBatchedRequestsGetTheAnswersOfSequentialOnes() throws Exception {
        Path run = ServeFixtures.trained();
        Server onnx = start(run.toString(), "--port", "0", "--engine", "onnxruntime", "--batch", "8", "--max-concurrency", "10");
        java.util.concurrent.ExecutorService clients = java.util.concurrent.Executors.newFixedThreadPool(10);
        try {
            assertThat(onnx.startup()).contains("engine onnxruntime").contains("batch 8");
            List<String> bodies = new ArrayList<>();
            for (String p : new String[] {"The computer", "Unix is", "A program", "Memory"}) {
                bodies.add("{\"model\": \"run\", \"prompt\": \"" + p + "\", \"max_tokens\": 16}");
                bodies.add("{\"model\": \"run:exit-2\", \"prompt\": \"" + p + "\", \"max_tokens\": 12}");
            }
            bodies.add("{\"model\": \"run\", \"prompt\": \"Unix is\", \"max_tokens\": 16, \"temperature\": 0.9, \"seed\": 5}");
            bodies.add("{\"model\": \"run\", \"prompt\": \"Memory\", \"max_tokens\": 16, \"manyfold\": {\"decoder\": \"self-speculative\", \"draft\": 2}}");
            List<String> sequential = new ArrayList<>();
            for (String b : bodies) {
                sequential.add(completionText(ServeFixtures.post(onnx.url() + "/v1/completions", b)));
            }
            // On an idle machine ONNX Runtime answers a short request in a few milliseconds, so one wave of
            // concurrent requests may not overlap; send waves (each checked) until one batch held several
            // requests' steps, at most 10.
            double forwards = 0;
            double steps = 0;
            for (int wave = 0; wave < 10 && steps <= forwards; wave++) {
                java.util.concurrent.CountDownLatch start = new java.util.concurrent.CountDownLatch(1);
                List<java.util.concurrent.Future<String>> concurrent = new ArrayList<>();
                for (String b : bodies) {
                    concurrent.add(clients.submit(() -> {
                        start.await();
                        return completionText(ServeFixtures.post(onnx.url() + "/v1/completions", b));
                    }));
                }
                start.countDown();
                for (int i = 0; i < bodies.size(); i++) {
                    assertThat(concurrent.get(i).get(120, TimeUnit.SECONDS)).as(bodies.get(i)).isEqualTo(sequential.get(i));
                }
                String metrics = ServeFixtures.get(onnx.url() + "/metrics", null).body();
                forwards = ServeFixtures.metric(metrics, "manyfold_batched_forwards_total");
                steps = ServeFixtures.metric(metrics, "manyfold_batched_steps_total");
            }
            assertThat(steps).as("steps in batched forwards: some batch held several requests' steps").isGreaterThan(forwards);
        } finally {
            clients.shutdownNow();
            onnx.process().destroy();
            assertThat(onnx.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
        }
    }

    private static String completionText(ServeFixtures.Reply r) {
        assertThat(r.status()).as(r.toString()).isEqualTo(200);
        return r.json().path("choices").get(0).path("text").asText();
    }

    @Test
    void badOptionsAreRefusedWithExitCode2() throws IOException {
        Path run = ServeFixtures.trained();

        Cli.Result engine = Cli.run("serve", run.toString(), "--port", "0", "--engine", "tensorflow");
        assertThat(engine.exit()).as(engine.describe()).isEqualTo(2);
        assertThat(engine.err()).contains("--engine: unknown engine \"tensorflow\"").contains("pytorch");

        Cli.Result key = Cli.run("serve", run.toString(), "--port", "0", "--api-key-file", dir.resolve("missing").toString());
        assertThat(key.exit()).as(key.describe()).isEqualTo(2);
        assertThat(key.err()).contains("--api-key-file").contains("no such file");

        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            Cli.Result port = Cli.run("serve", run.toString(), "--port", Integer.toString(taken.getLocalPort()));
            assertThat(port.exit()).as(port.describe()).isEqualTo(2);
            assertThat(port.err()).contains("--port " + taken.getLocalPort() + ": cannot listen on 127.0.0.1").doesNotContain("\tat ");
        }

        Cli.Result concurrency = Cli.run("serve", run.toString(), "--port", "0", "--max-concurrency", "0");
        assertThat(concurrency.exit()).as(concurrency.describe()).isEqualTo(2);
        assertThat(concurrency.err()).contains("--max-concurrency must be >= 1");
    }
}
