package dev.manyfold.it;

import static dev.manyfold.it.ServeFixtures.get;
import static dev.manyfold.it.ServeFixtures.metric;
import static dev.manyfold.it.ServeFixtures.post;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.serve.ManyfoldServer;
import dev.manyfold.runtime.serve.ServeOptions;
import dev.manyfold.runtime.serve.ServedModel;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@code manyfold serve}'s HTTP API on loopback, in-process, over a briefly trained tiny SoFT model with exits 2 and 4. */
class ServeTest {
    static Manyfold host;
    static ServedModel served;
    static ManyfoldServer server;
    static String url;

    @BeforeAll
    static void start() throws Exception {
        Path run = ServeFixtures.trained();
        host = ServeFixtures.host();
        served = ServeFixtures.load(host, run);
        server = ManyfoldServer.start(served, ServeOptions.loopback().withConcurrency(4, 16));
        url = server.url();
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
        if (served != null) {
            served.resources().close();
        }
        if (host != null) {
            host.close();
        }
    }

    private static String completion(String model, String prompt, int maxTokens, String extra) {
        return "{\"model\": \"" + model + "\", \"prompt\": \"" + prompt + "\", \"max_tokens\": " + maxTokens + extra + "}";
    }

    @Test
    void modelListOffersTheFullModelAndEachTrainedExit() {
        ServeFixtures.Reply r = get(url + "/v1/models", null);

        assertThat(r.status()).as(r.toString()).isEqualTo(200);
        JsonNode data = r.json().path("data");
        assertThat(data.findValuesAsText("id")).containsExactly("run", "run:exit-2");
        assertThat(data.get(1).path("manyfold").path("exit").asInt()).isEqualTo(2);
        assertThat(r.json().path("manyfold").path("decoders").toString()).contains("greedy", "self-speculative", "early-exit");
    }

    @Test
    void completionReportsUsageAndTheDecodersStatistics() {
        ServeFixtures.Reply r = post(url + "/v1/completions", completion("run", "The computer", 12, ""));

        assertThat(r.status()).as(r.toString()).isEqualTo(200);
        JsonNode body = r.json();
        assertThat(body.path("object").asText()).isEqualTo("text_completion");
        assertThat(body.path("choices").get(0).path("text").asText()).isNotEmpty();
        assertThat(body.path("choices").get(0).path("finish_reason").asText()).isEqualTo("length");
        assertThat(body.path("usage").path("prompt_tokens").asInt()).isEqualTo(12);
        assertThat(body.path("usage").path("completion_tokens").asInt()).isEqualTo(12);
        assertThat(body.path("usage").path("total_tokens").asInt()).isEqualTo(24);
        JsonNode stats = body.path("manyfold").path("statistics");
        assertThat(stats.path("full-passes-per-token").asDouble()).isEqualTo(1.0);
        assertThat(stats.path("mean-exit-depth").asDouble()).isEqualTo(4.0);
    }

    @Test
    void anExitBudgetDecodesAtThatExitAndSelfSpeculativeMatchesGreedy() {
        JsonNode exit2 = post(url + "/v1/completions", completion("run:exit-2", "Unix is", 16, "")).json();
        JsonNode greedy = post(url + "/v1/completions", completion("run", "Unix is", 16, "")).json();
        JsonNode speculative = post(url + "/v1/completions", completion("run", "Unix is", 16,
                ", \"manyfold\": {\"decoder\": \"self-speculative\", \"draft\": 2, \"adaptive\": true}")).json();

        assertThat(exit2.path("manyfold").path("statistics").path("mean-exit-depth").asDouble()).as(exit2.toString()).isEqualTo(2.0);
        assertThat(exit2.path("manyfold").path("statistics").path("full-passes-per-token").asDouble()).isZero();
        assertThat(speculative.path("manyfold").path("budget").asText()).isEqualTo("run/self-speculative");
        assertThat(speculative.path("manyfold").path("statistics").has("acceptance-rate")).as(speculative.toString()).isTrue();
        assertThat(speculative.path("choices").get(0).path("text").asText()).isEqualTo(greedy.path("choices").get(0).path("text").asText());
    }

    @Test
    void streamingSendsTheSameTextAsEventsEndingInDone() {
        String plain = post(url + "/v1/completions", completion("run", "The computer", 20, "")).json()
                .path("choices").get(0).path("text").asText();
        ServeFixtures.Reply stream = post(url + "/v1/completions", completion("run", "The computer", 20, ", \"stream\": true"));

        assertThat(stream.status()).as(stream.toString()).isEqualTo(200);
        assertThat(stream.contentType()).startsWith("text/event-stream");
        List<String> events = stream.events();
        assertThat(events).hasSizeGreaterThan(2).last().isEqualTo("[DONE]");
        assertThat(stream.streamedText()).isEqualTo(plain);
        assertThat(events.get(events.size() - 2)).contains("\"finish_reason\":\"length\"").contains("\"completion_tokens\":20");
    }

    @Test
    void chatStreamsDeltasWithTheAssistantRole() {
        String body = "{\"model\": \"run:exit-2\", \"messages\": [{\"role\": \"user\", \"content\": \"What is Unix?\"}],"
                + " \"max_tokens\": 8, \"stream\": true, \"stream_options\": {\"include_usage\": true}}";
        ServeFixtures.Reply stream = post(url + "/v1/chat/completions", body);
        JsonNode plain = post(url + "/v1/chat/completions", body.replace("\"stream\": true", "\"stream\": false")).json();

        assertThat(stream.status()).as(stream.toString()).isEqualTo(200);
        assertThat(stream.events().get(0)).contains("\"object\":\"chat.completion.chunk\"").contains("\"role\":\"assistant\"");
        assertThat(stream.events().get(stream.events().size() - 2)).contains("\"choices\":[]").contains("\"completion_tokens\":8");
        assertThat(plain.path("object").asText()).isEqualTo("chat.completion");
        assertThat(plain.path("choices").get(0).path("message").path("role").asText()).isEqualTo("assistant");
        assertThat(stream.streamedText()).isEqualTo(plain.path("choices").get(0).path("message").path("content").asText());
    }

    @Test
    void aStopSequenceEndsTheTextBeforeIt() {
        String full = post(url + "/v1/completions", completion("run", "The computer", 30, "")).json()
                .path("choices").get(0).path("text").asText();
        String stop = full.substring(5, 7);
        JsonNode stopped = post(url + "/v1/completions", completion("run", "The computer", 30, ", \"stop\": [\"" + stop + "\"]")).json();

        assertThat(stopped.path("choices").get(0).path("text").asText()).as(stopped.toString()).isEqualTo(full.substring(0, full.indexOf(stop)));
        assertThat(stopped.path("choices").get(0).path("finish_reason").asText()).isEqualTo("stop");
    }

    @Test
    void samplingWithASeedRepeatsAndTheSeedIsReported() {
        String body = completion("run", "The computer", 24, ", \"temperature\": 1.0, \"top_p\": 0.9, \"seed\": 11");
        JsonNode a = post(url + "/v1/completions", body).json();
        JsonNode b = post(url + "/v1/completions", body).json();
        JsonNode unseeded = post(url + "/v1/completions", completion("run", "The computer", 24, ", \"temperature\": 1.0")).json();

        assertThat(a.path("choices").get(0).path("text").asText()).isEqualTo(b.path("choices").get(0).path("text").asText());
        assertThat(a.path("manyfold").path("settings").path("seed").asLong()).isEqualTo(11);
        assertThat(unseeded.path("manyfold").path("settings").path("seed").isIntegralNumber()).as(unseeded.toString()).isTrue();
    }

    @Test
    void badRequestsGetOpenAiErrorsNamingTheFieldAndTheServerKeepsServing() {
        record Bad(String path, String body, int status, String param, String message) {}
        String longPrompt = "word ".repeat(300);
        List<Bad> cases = List.of(
                new Bad("/v1/completions", completion("run:exit-3", "a", 4, ""), 404, "model", "run:exit-3` does not exist"),
                new Bad("/v1/completions", completion("gpt-4", "a", 4, ""), 404, "model", "accepted: one of [run, run:exit-2]"),
                new Bad("/v1/completions", completion("run", "a", 4, ", \"manyfold\": {\"decoder\": \"self-speculative\", \"draft\": 3}"),
                        400, "manyfold.draft", "manyfold.draft: draft exit 3 is not a trained exit of this model (accepted: one of the trained exits [2, 4])"),
                new Bad("/v1/completions", completion("run", "a", 4, ", \"manyfold\": {\"decoder\": \"self-speculative\", \"draft\": 2, \"k\": 0}"),
                        400, "manyfold.k", "manyfold.k"),
                new Bad("/v1/completions", completion("run", "a", 4, ", \"manyfold\": {\"decoder\": \"early-exit\", \"thresholds\": {\"2\": 1.5}}"),
                        400, "manyfold.thresholds.2", "outside (0, 1]"),
                new Bad("/v1/completions", completion("run", "a", 4, ", \"manyfold\": {\"decoder\": \"speculative\"}"),
                        400, "manyfold.decoder", "self-speculative"),
                new Bad("/v1/completions", completion("run", "a", 4, ", \"manyfold\": {\"decoder\": \"self-speculative\", \"draft\": \"two\"}"),
                        400, "manyfold.draft", "manyfold.draft"),
                new Bad("/v1/completions", completion("run", "a", 4, ", \"manyfold\": {\"drafts\": 2}"), 400, "manyfold.drafts", "manyfold.drafts"),
                new Bad("/v1/completions", "{\"model\": \"run\", \"prompt\": \"a\", \"max_tokens\": \"ten\"}", 400, "max_tokens", "expected an integer"),
                new Bad("/v1/completions", completion("run", "a", 0, ""), 400, "max_tokens", "below 1"),
                new Bad("/v1/completions", completion("run", "a", 1_000_000, ""), 400, "max_tokens", "per-request limit of 256"),
                new Bad("/v1/completions", completion("run", longPrompt, 4, ""), 400, "prompt", "context is 256 tokens"),
                new Bad("/v1/completions", completion("run", "a", 4, ", \"temperature\": \"hot\""), 400, "temperature", "expected a number"),
                new Bad("/v1/completions", completion("run", "a", 4, ", \"max_token\": 3"), 400, "max_token", "unknown field"),
                new Bad("/v1/completions", completion("run", "a", 4, ", \"n\": 2"), 400, "n", "only n = 1"),
                new Bad("/v1/completions", "{\"model\": \"run\", \"prompt\": \"a\",", 400, null, "not valid JSON"),
                new Bad("/v1/completions", "[1, 2]", 400, null, "must be a JSON object"),
                new Bad("/v1/chat/completions", "{\"model\": \"run\", \"messages\": [{\"role\": \"robot\", \"content\": \"hi\"}]}", 400,
                        "messages[0].role", "unknown role"),
                new Bad("/v1/completions", completion("run:exit-2", "a", 4, ", \"manyfold\": {\"decoder\": \"self-speculative\"}"), 400,
                        "model", "ask for model run"));
        for (Bad bad : cases) {
            ServeFixtures.Reply r = post(url + bad.path(), bad.body());
            assertThat(r.status()).as(bad + " -> " + r).isEqualTo(bad.status());
            JsonNode error = r.json().path("error");
            assertThat(error.path("message").asText()).as(bad + " -> " + r).contains(bad.message());
            assertThat(error.path("type").asText()).as(r.toString()).isEqualTo("invalid_request_error");
            if (bad.param() == null) {
                assertThat(error.path("param").isNull()).as(r.toString()).isTrue();
            } else {
                assertThat(error.path("param").asText()).as(r.toString()).isEqualTo(bad.param());
            }
        }
        assertThat(post(url + "/v1/completions", completion("run", "a", 4, "")).status()).isEqualTo(200);
    }

    @Test
    void aBodyOverTheLimitIsRefusedWith413() {
        try (ManyfoldServer small = ManyfoldServer.start(served, ServeOptions.loopback().withLimits(64, 200))) {
            ServeFixtures.Reply r = post(small.url() + "/v1/completions", completion("run", "x".repeat(300), 4, ""));

            assertThat(r.status()).as(r.toString()).isEqualTo(413);
            assertThat(r.json().path("error").path("message").asText()).contains("at most 200 bytes");
            assertThat(post(small.url() + "/v1/completions", completion("run", "ab", 4, "")).status()).isEqualTo(200);
        }
    }

    @Test
    void withAnApiKeyEveryRouteButHealthNeedsTheBearerKey() {
        try (ManyfoldServer keyed = ManyfoldServer.start(served, ServeOptions.loopback().withApiKey("s3cret"))) {
            String u = keyed.url();
            assertThat(get(u + "/health", null).status()).isEqualTo(200);
            ServeFixtures.Reply none = get(u + "/v1/models", null);
            assertThat(none.status()).isEqualTo(401);
            assertThat(none.json().path("error").path("code").asText()).isEqualTo("invalid_api_key");
            assertThat(get(u + "/v1/models", "wrong").status()).isEqualTo(401);
            assertThat(get(u + "/metrics", null).status()).isEqualTo(401);
            assertThat(post(u + "/v1/completions", completion("run", "a", 4, ""), "wrong").status()).isEqualTo(401);
            assertThat(get(u + "/v1/models", "s3cret").status()).isEqualTo(200);
            assertThat(post(u + "/v1/completions", completion("run", "a", 4, ""), "s3cret").status()).isEqualTo(200);
        }
    }

    @Test
    void requestsBeyondTheRunningAndQueuedOnesGet429() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        try (ManyfoldServer busy = ManyfoldServer.start(ServeFixtures.gated(served, gate, 0), ServeOptions.loopback().withConcurrency(1, 1))) {
            String u = busy.url();
            CompletableFuture<ServeFixtures.Reply> running = CompletableFuture.supplyAsync(() -> post(u + "/v1/completions",
                    completion("run", "a", 4, "")));
            awaitMetric(u, "manyfold_decodes_running", 1);
            CompletableFuture<ServeFixtures.Reply> queued = CompletableFuture.supplyAsync(() -> post(u + "/v1/completions",
                    completion("run", "b", 4, "")));
            awaitMetric(u, "manyfold_queue_depth", 1);

            ServeFixtures.Reply refused = post(u + "/v1/completions", completion("run", "c", 4, ""));
            gate.countDown();

            assertThat(refused.status()).as(refused.toString()).isEqualTo(429);
            assertThat(refused.json().path("error").path("code").asText()).isEqualTo("rate_limit_exceeded");
            assertThat(running.get(60, TimeUnit.SECONDS).status()).isEqualTo(200);
            assertThat(queued.get(60, TimeUnit.SECONDS).status()).isEqualTo(200);
        }
    }

    @Test
    void aStreamingClientThatDisconnectsCancelsItsDecode() throws Exception {
        CountDownLatch open = new CountDownLatch(0);
        try (ManyfoldServer slow = ManyfoldServer.start(ServeFixtures.gated(served, open, 20), ServeOptions.loopback())) {
            try (Socket socket = send(slow, completion("run", "The computer", 200, ", \"stream\": true"))) {
                InputStream in = socket.getInputStream();
                String seen = "";
                while (!seen.contains("data: ")) {
                    int b = in.read();
                    assertThat(b).as("the stream ended before its first event: " + seen).isNotNegative();
                    seen += (char) b;
                }
                assertThat(seen).startsWith("HTTP/1.1 200");
            }
            String metrics = awaitMetric(slow.url(), "manyfold_decodes_cancelled_total{reason=\"disconnect\"}", 1);
            assertThat(metric(metrics, "manyfold_generated_tokens_total{budget=\"run\"}")).isLessThan(200);
            assertThat(metric(metrics, "manyfold_decodes_running")).isZero();
        }
    }

    @Test
    void aNonStreamingClientThatDisconnectsCancelsItsDecodeAndTheServerKeepsServing() throws Exception {
        CountDownLatch open = new CountDownLatch(0);
        try (ManyfoldServer slow = ManyfoldServer.start(ServeFixtures.gated(served, open, 20), ServeOptions.loopback())) {
            // 200 tokens at 20 ms a step take 4 s; the client hangs up once the decode runs.
            try (Socket socket = send(slow, completion("run", "The computer", 200, ""))) {
                awaitMetric(slow.url(), "manyfold_decodes_running", 1);
            }
            String metrics = awaitMetric(slow.url(), "manyfold_decodes_cancelled_total{reason=\"disconnect\"}", 1);
            assertThat(metric(metrics, "manyfold_generated_tokens_total{budget=\"run\"}")).as("tokens decoded before the cancel")
                    .isLessThan(200);
            assertThat(metric(metrics, "manyfold_decodes_running")).isZero();

            ServeFixtures.Reply next = post(slow.url() + "/v1/completions", completion("run", "Unix is", 3, ""));
            assertThat(next.status()).as(next.toString()).isEqualTo(200);
            assertThat(next.json().path("usage").path("completion_tokens").asInt()).isEqualTo(3);
        }
    }

    /** A raw connection that has sent {@code body} as a completion request and not read anything yet. */
    private static Socket send(ManyfoldServer to, String body) throws java.io.IOException {
        Socket socket = new Socket("127.0.0.1", to.port());
        OutputStream out = socket.getOutputStream();
        out.write(("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
                + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
        out.flush();
        return socket;
    }

    @Test
    void concurrentRequestsGetTheSameAnswersAsSequentialOnes() throws Exception {
        List<String> bodies = new ArrayList<>();
        String[] prompts = {"The computer", "Unix is", "A program", "Memory"};
        for (String p : prompts) {
            bodies.add(completion("run", p, 24, ""));
            bodies.add(completion("run:exit-2", p, 24, ""));
            bodies.add(completion("run", p, 24, ", \"manyfold\": {\"decoder\": \"self-speculative\", \"draft\": 2}"));
            bodies.add(completion("run", p, 24, ", \"temperature\": 0.9, \"seed\": 5"));
        }
        List<String> sequential = new ArrayList<>();
        for (String b : bodies) {
            sequential.add(text(post(url + "/v1/completions", b)));
        }
        ExecutorService clients = Executors.newFixedThreadPool(8);
        try {
            List<Future<String>> concurrent = new ArrayList<>();
            for (String b : bodies) {
                concurrent.add(clients.submit(() -> text(post(url + "/v1/completions", b))));
            }
            for (int i = 0; i < bodies.size(); i++) {
                assertThat(concurrent.get(i).get(120, TimeUnit.SECONDS)).as(bodies.get(i)).isEqualTo(sequential.get(i));
            }
        } finally {
            clients.shutdownNow();
        }
        List<String> sampled = List.of(sequential.get(3), sequential.get(7), sequential.get(11), sequential.get(15));
        assertThat(sampled).as("sampled answers differ by prompt, so equality is not vacuous").doesNotHaveDuplicates();
    }

    @Test
    void batchedDecodeStepsGiveTheSameAnswersAsSequentialUnbatchedOnes() throws Exception {
        List<String> bodies = new ArrayList<>();
        for (String p : new String[] {"The computer", "Unix is", "A program", "Memory", "Data"}) {
            bodies.add(completion("run", p, 16, ""));
            bodies.add(completion("run:exit-2", p, 16, ""));
        }
        bodies.add(completion("run", "Unix is", 16, ", \"temperature\": 0.9, \"seed\": 5"));
        bodies.add(completion("run", "Memory", 16, ", \"manyfold\": {\"decoder\": \"self-speculative\", \"draft\": 2}"));
        List<String> sequential = new ArrayList<>();
        for (String b : bodies) {
            sequential.add(text(post(url + "/v1/completions", b)));
        }
        ExecutorService clients = Executors.newFixedThreadPool(bodies.size());
        try (ManyfoldServer batched = ManyfoldServer.start(served, ServeOptions.loopback().withConcurrency(bodies.size(), 16).withBatch(8))) {
            assertThat(batched.batching()).isTrue();
            for (int round = 0; round < 2; round++) {
                List<Future<String>> concurrent = new ArrayList<>();
                for (String b : bodies) {
                    concurrent.add(clients.submit(() -> text(post(batched.url() + "/v1/completions", b))));
                }
                for (int i = 0; i < bodies.size(); i++) {
                    assertThat(concurrent.get(i).get(120, TimeUnit.SECONDS)).as(bodies.get(i)).isEqualTo(sequential.get(i));
                }
            }
            String metrics = get(batched.url() + "/metrics", null).body();
            double forwards = metric(metrics, "manyfold_batched_forwards_total");
            double steps = metric(metrics, "manyfold_batched_steps_total");
            assertThat(forwards).as("batched forwards").isPositive();
            assertThat(steps).as("steps in batched forwards: some batch held several requests' steps").isGreaterThan(forwards);
        } finally {
            clients.shutdownNow();
        }
    }

    @Test
    void metricsCountRequestsTokensAndLatenciesPerBudget() {
        post(url + "/v1/completions", completion("run:exit-2", "Memory", 6, ""));
        ServeFixtures.Reply r = get(url + "/metrics", null);

        assertThat(r.status()).isEqualTo(200);
        assertThat(r.contentType()).startsWith("text/plain");
        String text = r.body();
        assertThat(metric(text, "manyfold_requests_total{route=\"/v1/completions\",status=\"200\"}")).isPositive();
        assertThat(metric(text, "manyfold_generated_tokens_total{budget=\"run:exit-2\"}")).isGreaterThanOrEqualTo(6);
        assertThat(metric(text, "manyfold_time_to_first_token_seconds_count{budget=\"run:exit-2\"}")).isPositive();
        assertThat(text).contains("# TYPE manyfold_time_per_output_token_seconds histogram", "manyfold_queue_depth ",
                "manyfold_decode_tokens_per_second_bucket{budget=\"run:exit-2\"");
    }

    @Test
    void shutdownCancelsAStreamThatOutlivesTheDeadlineAndRefusesNewRequests() throws Exception {
        CountDownLatch open = new CountDownLatch(0);
        ServeOptions quick = new ServeOptions("127.0.0.1", 0, 1, 4, 256, 1 << 20, java.util.Optional.empty(), java.time.Duration.ofMillis(300));
        ManyfoldServer closing = ManyfoldServer.start(ServeFixtures.gated(served, open, 20), quick);
        String u = closing.url();
        CompletableFuture<ServeFixtures.Reply> stream = CompletableFuture.supplyAsync(() -> post(u + "/v1/completions",
                completion("run", "The computer", 200, ", \"stream\": true")));
        awaitMetric(u, "manyfold_decodes_running", 1);
        CompletableFuture<Void> shutdown = CompletableFuture.runAsync(closing::shutdown);

        ServeFixtures.Reply reply = stream.get(60, TimeUnit.SECONDS);
        shutdown.get(60, TimeUnit.SECONDS);
        assertThat(reply.status()).isEqualTo(200);
        assertThat(reply.events()).last().isEqualTo("[DONE]");
        assertThat(reply.events().get(reply.events().size() - 2)).contains("\"code\":\"shutting_down\"");
    }

    private static String text(ServeFixtures.Reply r) {
        assertThat(r.status()).as(r.toString()).isEqualTo(200);
        return r.json().path("choices").get(0).path("text").asText();
    }

    /** Polls /metrics (at most 600 times, 50 ms apart) until the sample reaches the value; returns the last scrape. */
    private static String awaitMetric(String u, String sample, double value) throws InterruptedException {
        String text = "";
        for (int i = 0; i < 600; i++) {
            text = get(u + "/metrics", null).body();
            if (metric(text, sample) >= value) {
                return text;
            }
            Thread.sleep(50);
        }
        throw new AssertionError(sample + " never reached " + value + ":\n" + text);
    }
}
