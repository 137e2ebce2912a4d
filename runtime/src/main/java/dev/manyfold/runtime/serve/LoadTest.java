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
 * A load test of running servers: for each concurrency level, server and budget, that many
 * clients send streaming completions back to back for a fixed time; the report gives aggregate
 * tokens/s, time to first token and per-token latency (the gaps between streamed chunks)
 * percentiles, errors, and the server's CPU time per token (from its
 * {@code process_cpu_seconds_total}, which a shared machine disturbs less than wall time).
 * Within a round, levels run in order and servers and budgets interleave within a level;
 * with several rounds, each cell's samples are pooled over the rounds, so load drift on a
 * shared machine falls on every level and server alike.
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

    /** One measured cell, pooled over the rounds. Latencies in milliseconds; {@code cpuMsPerToken} NaN when the server does not report its CPU time. */
    public record Row(String server, String budget, int clients, int requests, int errors, long tokens, double seconds, double tokensPerSecond,
            double ttftP50, double ttftP99, double itlP50, double itlP99, double cpuMsPerToken) {}

    /** A server under test: a label for the report and its base URL. */
    public record Server(String label, String url) {
        /** Parses {@code URL} or {@code LABEL=URL}. */
        public static Server parse(String spec) {
            int eq = spec.indexOf('=');
            int scheme = spec.indexOf("://");
            String url = eq > 0 && (scheme < 0 || eq < scheme) ? spec.substring(eq + 1) : spec;
            String label = url == spec ? spec : spec.substring(0, eq);
            return new Server(label, url.endsWith("/") ? url.substring(0, url.length() - 1) : url);
        }
    }

    private final List<Server> servers;
    private final Optional<String> apiKey;
    private final List<String> prompts;
    private final int maxTokens;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10))
            .build();

    public LoadTest(List<Server> servers, Optional<String> apiKey, List<String> prompts, int maxTokens) {
        if (servers.isEmpty()) {
            throw new IllegalArgumentException("no server to load-test");
        }
        this.servers = List.copyOf(servers);
        this.apiKey = apiKey;
        this.prompts = List.copyOf(prompts);
        this.maxTokens = maxTokens;
    }

    /** Runs every round × level × server × budget cell for {@code seconds} each, after {@code warmup} requests per server and budget. */
    public List<Row> run(List<Budget> budgets, List<Integer> levels, double seconds, int warmup, int rounds, PrintWriter progress)
            throws Exception {
        for (Server server : servers) {
            for (Budget b : budgets) {
                for (int i = 0; i < warmup; i++) {
                    Sample s = request(server, b, prompts.get(i % prompts.size()));
                    if (s.error != null) {
                        throw new IllegalArgumentException("warm-up request for " + b.label() + " on " + server.url() + " failed: " + s.error);
                    }
                }
            }
        }
        java.util.Map<String, Cell> cells = new java.util.LinkedHashMap<>();
        for (int round = 1; round <= rounds; round++) {
            for (int clients : levels) {
                for (Server server : servers) {
                    for (Budget b : budgets) {
                        Cell cell = cells.computeIfAbsent(server.label() + "\u0000" + b.label() + "\u0000" + clients,
                                k -> new Cell(server.label(), b.label(), clients));
                        Cell.Part part = cell(server, b, clients, seconds);
                        cell.add(part);
                        progress.printf(Locale.ROOT, "  round %d %-10s %-40s %3d clients: %6.1f tok/s, %d requests, %d errors, %.2f CPU ms/token%n",
                                round, server.label(), b.label(), clients, part.tokens / part.seconds, part.samples.size(), part.errors(),
                                part.cpuSeconds / part.tokens * 1000);
                        progress.flush();
                    }
                }
            }
        }
        List<Row> rows = new ArrayList<>();
        for (int clients : levels) {
            for (Server server : servers) {
                for (Budget b : budgets) {
                    rows.add(cells.get(server.label() + "\u0000" + b.label() + "\u0000" + clients).row());
                }
            }
        }
        return rows;
    }

    /** One cell's samples over the rounds. */
    private static final class Cell {
        record Part(List<Sample> samples, double seconds, long tokens, double cpuSeconds) {
            int errors() {
                return (int) samples.stream().filter(s -> s.error != null).count();
            }
        }

        final String server;
        final String budget;
        final int clients;
        final List<Sample> samples = new ArrayList<>();
        double seconds;
        long tokens;
        double cpuSeconds;

        Cell(String server, String budget, int clients) {
            this.server = server;
            this.budget = budget;
            this.clients = clients;
        }

        void add(Part part) {
            samples.addAll(part.samples);
            seconds += part.seconds;
            tokens += part.tokens;
            cpuSeconds += part.cpuSeconds;
        }

        Row row() {
            double[] ttft = samples.stream().filter(s -> s.error == null && s.ttftMs >= 0).mapToDouble(s -> s.ttftMs).sorted().toArray();
            double[] itl = samples.stream().filter(s -> s.error == null).flatMapToDouble(s -> Arrays.stream(s.gapsMs)).sorted().toArray();
            int errors = (int) samples.stream().filter(s -> s.error != null).count();
            return new Row(server, budget, clients, samples.size(), errors, tokens, seconds, tokens / seconds, pct(ttft, 50), pct(ttft, 99),
                    pct(itl, 50), pct(itl, 99), cpuSeconds / tokens * 1000);
        }
    }

    private Cell.Part cell(Server server, Budget budget, int clients, double seconds) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        double cpuBefore = serverCpuSeconds(server);
        long start = System.nanoTime();
        long deadline = start + (long) (seconds * 1e9);
        try {
            List<Future<List<Sample>>> futures = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                int client = c;
                futures.add(pool.submit(() -> {
                    List<Sample> samples = new ArrayList<>();
                    for (int i = client; System.nanoTime() < deadline; i += clients) {
                        samples.add(request(server, budget, prompts.get(i % prompts.size())));
                    }
                    return samples;
                }));
            }
            List<Sample> all = new ArrayList<>();
            for (Future<List<Sample>> f : futures) {
                all.addAll(f.get());
            }
            double elapsed = (System.nanoTime() - start) / 1e9;
            double cpu = serverCpuSeconds(server) - cpuBefore;
            long tokens = all.stream().filter(s -> s.error == null).mapToLong(s -> s.tokens).sum();
            return new Cell.Part(all, elapsed, tokens, cpu);
        } finally {
            pool.shutdownNow();
        }
    }

    /** The server's {@code process_cpu_seconds_total} from its /metrics, or NaN. */
    private double serverCpuSeconds(Server server) {
        HttpRequest.Builder rb = HttpRequest.newBuilder(URI.create(server.url() + "/metrics")).timeout(Duration.ofSeconds(30)).GET();
        apiKey.ifPresent(k -> rb.header("Authorization", "Bearer " + k));
        try {
            HttpResponse<String> r = http.send(rb.build(), HttpResponse.BodyHandlers.ofString());
            return r.body().lines().filter(l -> l.startsWith("process_cpu_seconds_total ")).mapToDouble(l -> Double.parseDouble(l.substring(26).strip()))
                    .findFirst().orElse(Double.NaN);
        } catch (IOException | NumberFormatException e) {
            return Double.NaN;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Double.NaN;
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

    private Sample request(Server server, Budget budget, String prompt) {
        Sample sample = new Sample();
        ObjectNode body = JSON.createObjectNode();
        body.put("model", budget.model());
        body.put("prompt", prompt);
        body.put("max_tokens", maxTokens);
        body.put("stream", true);
        budget.extension().ifPresent(e -> body.set("manyfold", e));
        HttpRequest.Builder rb = HttpRequest.newBuilder(URI.create(server.url() + "/v1/completions")).timeout(Duration.ofMinutes(5))
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

    /**
     * The rows as a Markdown table, with each server and budget's ratios against its 1-client
     * row (or first level); the server column only when there are several.
     */
    public static String table(List<Row> rows) {
        boolean several = rows.stream().map(Row::server).distinct().count() > 1;
        StringBuilder out = new StringBuilder();
        out.append(several ? "| server " : "").append("| budget | clients | requests | errors | tokens/s | × 1 client | TTFT p50 / p99 ms"
                + " | per-token p50 / p99 ms | p99 per-token × 1 client | server CPU ms/token |\n");
        out.append(several ? "|---" : "").append("|---|---|---|---|---|---|---|---|---|---|\n");
        for (Row r : rows) {
            Row base = rows.stream().filter(b -> b.server().equals(r.server()) && b.budget().equals(r.budget())).findFirst().orElse(r);
            out.append(several ? "| " + r.server() + " " : "").append(String.format(Locale.ROOT,
                    "| %s | %d | %d | %d | %.1f | %.2f | %.1f / %.1f | %.2f / %.2f | %.2f | %.2f |%n", r.budget(), r.clients(), r.requests(),
                    r.errors(), r.tokensPerSecond(), r.tokensPerSecond() / base.tokensPerSecond(), r.ttftP50(), r.ttftP99(), r.itlP50(),
                    r.itlP99(), r.itlP99() / base.itlP99(), r.cpuMsPerToken()));
        }
        return out.toString();
    }
}
