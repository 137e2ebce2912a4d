package dev.manyfold.runtime.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

/**
 * A load test of a running server: for each concurrency level and budget, that many clients
 * send streaming completions back to back for a fixed time; the report gives aggregate
 * tokens/s, time to first token and per-token latency (the gaps between streamed chunks)
 * percentiles, and errors. Levels run in order and budgets interleave within a level.
 */
public final class LoadTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A budget: the model id and the {@code manyfold} extension object (may be empty). */
    public record Budget(String label, String model, Optional<JsonNode> extension) {
        /** Parses {@code MODEL} or {@code MODEL JSON}: {@code run:exit-2}, {@code run {"decoder": "self-speculative", "draft": 2}}. */
        public static Budget parse(String spec) {
            String s = spec.strip();
            int space = s.indexOf(' ');
            if (space < 0) {
                return new Budget(s, s, Optional.empty());
            }
            String model = s.substring(0, space);
            try {
                JsonNode ext = JSON.readTree(s.substring(space + 1));
                if (!ext.isObject()) {
                    throw new IllegalArgumentException("--budget " + spec + ": the part after the model id must be a JSON object");
                }
                String label = model + (ext.has("decoder") ? "/" + ext.get("decoder").asText() : "") + " " + compact(ext);
                return new Budget(label, model, Optional.of(ext));
            } catch (IOException e) {
                throw new IllegalArgumentException("--budget " + spec + ": the part after the model id is not JSON (" + e.getMessage()
                        .lines().findFirst().orElse("") + ")");
            }
        }

        private static String compact(JsonNode ext) {
            ObjectNode copy = ext.deepCopy();
            copy.remove("decoder");
            return copy.isEmpty() ? "" : copy.toString();
        }
    }

    /** One measured cell. Latencies in milliseconds. */
    public record Row(String budget, int clients, int requests, int errors, long tokens, double seconds, double tokensPerSecond,
            double ttftP50, double ttftP99, double itlP50, double itlP99) {}

    private final String url;
    private final Optional<String> apiKey;
    private final List<String> prompts;
    private final int maxTokens;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10))
            .build();

    public LoadTest(String url, Optional<String> apiKey, List<String> prompts, int maxTokens) {
        this.url = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
        this.apiKey = apiKey;
        this.prompts = List.copyOf(prompts);
        this.maxTokens = maxTokens;
    }

    /** Runs every level × budget cell for {@code seconds} each, after {@code warmup} requests per budget. */
    public List<Row> run(List<Budget> budgets, List<Integer> levels, double seconds, int warmup, PrintWriter progress) throws Exception {
        for (Budget b : budgets) {
            for (int i = 0; i < warmup; i++) {
                Sample s = request(b, prompts.get(i % prompts.size()));
                if (s.error != null) {
                    throw new IllegalArgumentException("warm-up request for " + b.label() + " failed: " + s.error);
                }
            }
        }
        List<Row> rows = new ArrayList<>();
        for (int clients : levels) {
            for (Budget b : budgets) {
                Row row = cell(b, clients, seconds);
                progress.printf(Locale.ROOT, "  %-40s %3d clients: %6.1f tok/s, %d requests, %d errors%n", b.label(), clients,
                        row.tokensPerSecond(), row.requests(), row.errors());
                progress.flush();
                rows.add(row);
            }
        }
        return rows;
    }

    private Row cell(Budget budget, int clients, double seconds) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        long start = System.nanoTime();
        long deadline = start + (long) (seconds * 1e9);
        try {
            List<Future<List<Sample>>> futures = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                int client = c;
                futures.add(pool.submit(() -> {
                    List<Sample> samples = new ArrayList<>();
                    for (int i = client; System.nanoTime() < deadline; i += clients) {
                        samples.add(request(budget, prompts.get(i % prompts.size())));
                    }
                    return samples;
                }));
            }
            List<Sample> all = new ArrayList<>();
            for (Future<List<Sample>> f : futures) {
                all.addAll(f.get());
            }
            double elapsed = (System.nanoTime() - start) / 1e9;
            long tokens = all.stream().filter(s -> s.error == null).mapToLong(s -> s.tokens).sum();
            double[] ttft = all.stream().filter(s -> s.error == null && s.ttftMs >= 0).mapToDouble(s -> s.ttftMs).sorted().toArray();
            double[] itl = all.stream().filter(s -> s.error == null).flatMapToDouble(s -> Arrays.stream(s.gapsMs)).sorted().toArray();
            int errors = (int) all.stream().filter(s -> s.error != null).count();
            return new Row(budget.label(), clients, all.size(), errors, tokens, elapsed, tokens / elapsed, pct(ttft, 50), pct(ttft, 99),
                    pct(itl, 50), pct(itl, 99));
        } finally {
            pool.shutdownNow();
        }
    }

    private static double pct(double[] sorted, double p) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int i = (int) Math.ceil(p / 100 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    private static final class Sample {
        long tokens;
        double ttftMs = -1;
        double[] gapsMs = new double[0];
        String error;
    }

    private Sample request(Budget budget, String prompt) {
        Sample sample = new Sample();
        ObjectNode body = JSON.createObjectNode();
        body.put("model", budget.model());
        body.put("prompt", prompt);
        body.put("max_tokens", maxTokens);
        body.put("stream", true);
        budget.extension().ifPresent(e -> body.set("manyfold", e));
        HttpRequest.Builder rb = HttpRequest.newBuilder(URI.create(url + "/v1/completions")).timeout(Duration.ofMinutes(5))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body.toString()));
        apiKey.ifPresent(k -> rb.header("Authorization", "Bearer " + k));
        long sent = System.nanoTime();
        try {
            HttpResponse<Stream<String>> response = http.send(rb.build(), HttpResponse.BodyHandlers.ofLines());
            if (response.statusCode() != 200) {
                try (Stream<String> lines = response.body()) {
                    sample.error = response.statusCode() + " " + String.join("\n", lines.toList());
                }
                return sample;
            }
            List<Double> gaps = new ArrayList<>();
            long last = -1;
            boolean done = false;
            try (Stream<String> lines = response.body()) {
                for (Iterator<String> it = lines.iterator(); it.hasNext(); ) {
                    String line = it.next();
                    if (!line.startsWith("data: ")) {
                        continue;
                    }
                    String data = line.substring(6);
                    if (data.equals("[DONE]")) {
                        done = true;
                        continue;
                    }
                    long now = System.nanoTime();
                    JsonNode chunk = JSON.readTree(data);
                    if (chunk.has("error")) {
                        sample.error = chunk.get("error").toString();
                        continue;
                    }
                    if (!chunk.path("choices").path(0).path("text").asText("").isEmpty()) {
                        if (last < 0) {
                            sample.ttftMs = (now - sent) / 1e6;
                        } else {
                            gaps.add((now - last) / 1e6);
                        }
                        last = now;
                    }
                    if (chunk.has("usage")) {
                        sample.tokens = chunk.get("usage").path("completion_tokens").asLong();
                    }
                }
            }
            if (!done && sample.error == null) {
                sample.error = "the stream ended without data: [DONE]";
            }
            sample.gapsMs = gaps.stream().mapToDouble(Double::doubleValue).toArray();
        } catch (IOException e) {
            sample.error = e.toString();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            sample.error = "interrupted";
        }
        return sample;
    }

    /** The rows as a Markdown table, with each budget's ratios against its 1-client row (or first level). */
    public static String table(List<Row> rows) {
        StringBuilder out = new StringBuilder();
        out.append("| budget | clients | requests | errors | tokens/s | × 1 client | TTFT p50 / p99 ms | per-token p50 / p99 ms | p99 per-token × 1 client |\n");
        out.append("|---|---|---|---|---|---|---|---|---|\n");
        for (Row r : rows) {
            Row base = rows.stream().filter(b -> b.budget().equals(r.budget())).findFirst().orElse(r);
            out.append(String.format(Locale.ROOT, "| %s | %d | %d | %d | %.1f | %.2f | %.1f / %.1f | %.2f / %.2f | %.2f |%n", r.budget(),
                    r.clients(), r.requests(), r.errors(), r.tokensPerSecond(), r.tokensPerSecond() / base.tokensPerSecond(), r.ttftP50(),
                    r.ttftP99(), r.itlP50(), r.itlP99(), r.itlP99() / base.itlP99()));
        }
        return out.toString();
    }
}
