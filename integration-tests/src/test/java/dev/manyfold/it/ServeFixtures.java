package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.manyfold.api.decoder.InferenceSession;
import dev.manyfold.api.decoder.LanguageModel;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.serve.RunModelLoader;
import dev.manyfold.runtime.serve.ServedModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** A briefly trained tiny SoFT LLaMA served in-process, and a small HTTP client for the tests. */
final class ServeFixtures {
    static final String TINY_SOFT = """
            name: tiny-soft
            model: { family: llama, dim: 32, layers: 4, heads: 2, ffn: 64, context: 256 }
            data: { type: text, context: 48, files: [computers] }
            dimensions: { depth: { budgets: [2, 4] } }
            objective: { type: all-exits }
            train: { steps: 200, batch: 8, lr: 3e-3, seed: 3, log-every: 50 }
            """;
    static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    private ServeFixtures() {}

    private static Path trained;

    /** The tiny model trained once per test JVM into a temporary {@code run} directory (removed at exit); served as {@code run}. */
    static synchronized Path trained() throws IOException {
        if (trained == null) {
            Path dir = Files.createTempDirectory("manyfold-serve-it");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try (java.util.stream.Stream<Path> files = Files.walk(dir)) {
                    files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
                } catch (IOException e) {
                    // best effort
                }
            }));
            trained = train(dir);
        }
        return trained;
    }

    private static Path train(Path dir) throws IOException {
        Path recipe = Files.writeString(dir.resolve("tiny-soft.yaml"), TINY_SOFT);
        Path run = dir.resolve("run");
        Cli.Result r = Cli.run("train", recipe.toString(), "--run-dir", run.toString());
        assertThat(r.exit()).as(r.describe()).isZero();
        return run;
    }

    static Manyfold host() {
        return Manyfold.builder().pluginDir(Bundle.plugins()).build();
    }

    static ServedModel load(Manyfold host, Path run) {
        return RunModelLoader.load(host, run, "run");
    }

    /** The same served model whose decodes wait at {@code open} for the gate, and whose every head call sleeps {@code sleepMs}. */
    static ServedModel gated(ServedModel served, CountDownLatch gate, long sleepMs) {
        LanguageModel m = served.model();
        LanguageModel wrapped = new LanguageModel() {
            @Override
            public int vocabularySize() {
                return m.vocabularySize();
            }

            @Override
            public int contextLength() {
                return m.contextLength();
            }

            @Override
            public int layers() {
                return m.layers();
            }

            @Override
            public List<Integer> exits() {
                return m.exits();
            }

            @Override
            public OptionalInt eosToken() {
                return m.eosToken();
            }

            @Override
            public InferenceSession open(NDManager manager) {
                try {
                    assertThat(gate.await(60, TimeUnit.SECONDS)).as("the test opened the gate").isTrue();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(e);
                }
                return new SlowSession(m.open(manager), sleepMs);
            }
        };
        return new ServedModel(served.id(), wrapped, served.tokenizer(), served.chatTemplate(), served.decoders(), () -> {});
    }

    private record SlowSession(InferenceSession s, long sleepMs) implements InferenceSession {
        @Override
        public int cachedLength(int layer) {
            return s.cachedLength(layer);
        }

        @Override
        public NDArray embed(int[] tokens, int start, NDManager manager) {
            return s.embed(tokens, start, manager);
        }

        @Override
        public NDArray run(NDArray hidden, int from, int to, int start, NDManager manager) {
            return s.run(hidden, from, to, start, manager);
        }

        @Override
        public NDArray logits(NDArray hidden, NDManager manager) {
            if (sleepMs > 0) {
                try {
                    Thread.sleep(sleepMs);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return s.logits(hidden, manager);
        }

        @Override
        public void crop(int length) {
            s.crop(length);
        }

        @Override
        public void crop(int layer, int length) {
            s.crop(layer, length);
        }

        @Override
        public void close() {
            s.close();
        }
    }

    record Reply(int status, String contentType, String body) {
        JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new UncheckedIOException("not JSON (status " + status + "): " + body, e);
            }
        }

        /** The {@code data:} payloads of a server-sent event stream. */
        List<String> events() {
            return body.lines().filter(l -> l.startsWith("data: ")).map(l -> l.substring("data: ".length())).toList();
        }

        /** The text of a stream: the concatenated {@code text} or {@code delta.content} of its chunks. */
        String streamedText() {
            StringBuilder text = new StringBuilder();
            for (String e : events()) {
                if (!e.equals("[DONE]")) {
                    try {
                        JsonNode choices = JSON.readTree(e).path("choices");
                        for (JsonNode c : choices) {
                            text.append(c.has("delta") ? c.path("delta").path("content").asText("") : c.path("text").asText(""));
                        }
                    } catch (IOException x) {
                        throw new UncheckedIOException(x);
                    }
                }
            }
            return text.toString();
        }

        @Override
        public String toString() {
            return status + " " + body;
        }
    }

    static Reply get(String url, String key) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60)).GET();
        if (key != null) {
            b.header("Authorization", "Bearer " + key);
        }
        return send(b.build());
    }

    static Reply post(String url, String body) {
        return post(url, body, null);
    }

    static Reply post(String url, String body, String key) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        if (key != null) {
            b.header("Authorization", "Bearer " + key);
        }
        return send(b.build());
    }

    private static Reply send(HttpRequest request) {
        try {
            HttpResponse<String> r = CLIENT.send(request, HttpResponse.BodyHandlers.ofString());
            return new Reply(r.statusCode(), r.headers().firstValue("Content-Type").orElse(""), r.body());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The value of one sample line of the metrics text, such as {@code manyfold_decodes_running}; 0 when absent. */
    static double metric(String metrics, String sample) {
        return metrics.lines().filter(l -> l.startsWith(sample + " ")).mapToDouble(l -> Double.parseDouble(l.substring(sample.length() + 1)))
                .findFirst().orElse(0);
    }
}
