package dev.manyfold.runtime.serve;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.decoder.Generation;
import dev.manyfold.api.decoder.LanguageModel;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An OpenAI-compatible HTTP server over one {@link ServedModel}: every request picks its own
 * budget (an exit, a decoder and its settings) from the one set of weights.
 *
 * <p>Routes: {@code POST /v1/completions}, {@code POST /v1/chat/completions} (both with
 * {@code stream: true} as server-sent events ending in {@code data: [DONE]}),
 * {@code GET /v1/models} (and {@code /v1/models/{id}}), {@code GET /health}, {@code GET /metrics} (Prometheus text) and the
 * playground page at {@code /}. Up to {@code maxConcurrency} decodes run at once, up to
 * {@code maxQueue} more wait, and the rest are answered 429. A client that disconnects
 * cancels its decode: a streaming one at the next token (its write fails), a non-streaming
 * one within {@value #DISCONNECT_CHECK_MILLIS} ms of a token (see {@link ClientConnection}).
 */
public final class ManyfoldServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ManyfoldServer.class);
    private static final Set<String> ROUTES = Set.of("/", "/health", "/metrics", "/v1/models", "/v1/models/{id}", "/v1/completions",
            "/v1/chat/completions");

    /** How long a ready decode step waits for other requests' steps to batch with. */
    private static final long BATCH_LINGER_MICROS = 3000;
    /** The least time between two checks that a non-streaming request's client is still connected. */
    private static final long DISCONNECT_CHECK_MILLIS = 50;

    private final ServedModel served;
    private final ServeOptions options;
    private final ObjectMapper json = new ObjectMapper();
    private final ThreadPoolExecutor pool;
    private final ServerMetrics metrics;
    private final AtomicInteger running = new AtomicInteger();
    /** Completion handlers in progress (a stream's last events are written by its handler after the decode ends). */
    private final AtomicInteger handling = new AtomicInteger();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final long created = Instant.now().getEpochSecond();
    private final String playground;
    private final Javalin app;
    /** Batches greedy and sampling requests' decode steps, or null ({@code --batch 1}, or an engine that cannot). */
    private final StepBatcher batcher;
    private final LanguageModel batching;
    /** Permits for decodes that run on their own (not in a batch): {@link ServeOptions#maxUnbatched()}. */
    private final java.util.concurrent.Semaphore unbatched;
    private volatile boolean draining;
    private volatile boolean cancelAll;
    private boolean shutDown;

    private ManyfoldServer(ServedModel served, ServeOptions options) {
        this.served = requireNonNull(served, "served is null");
        this.options = requireNonNull(options, "options is null");
        BlockingQueue<Runnable> queue = options.maxQueue() == 0 ? new SynchronousQueue<>() : new ArrayBlockingQueue<>(options.maxQueue());
        AtomicInteger threads = new AtomicInteger();
        this.pool = new ThreadPoolExecutor(options.maxConcurrency(), options.maxConcurrency(), 0, TimeUnit.MILLISECONDS, queue, r -> {
            Thread t = new Thread(r, "manyfold-decode-" + threads.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.metrics = new ServerMetrics(queue::size, running::get);
        this.batcher = options.batch() > 1 && StepBatcher.supports(served.model())
                ? new StepBatcher(served.model(), options.batch(), BATCH_LINGER_MICROS)
                : null;
        this.batching = batcher == null ? null : batcher.model();
        this.unbatched = new java.util.concurrent.Semaphore(Math.min(options.maxUnbatched(), options.maxConcurrency()), true);
        if (batcher != null) {
            metrics.batching(batcher::counts);
        }
        this.playground = resource("playground.html");
        this.app = Javalin.create(config -> {
            config.showJavalinBanner = false;
            config.http.maxRequestSize = options.maxBodyBytes();
            config.http.disableCompression();
            config.jetty.defaultHost = options.host();
        });
        app.before(this::admit);
        app.after(ctx -> metrics.request(ROUTES.contains(ctx.path()) ? ctx.path()
                : ctx.path().startsWith("/v1/models/") ? "/v1/models/{id}" : "other", ctx.statusCode()));
        app.get("/health", ctx -> ctx.json(Map.of("status", "ok", "model", served.id())));
        app.get("/", ctx -> ctx.html(playground));
        app.get("/metrics", ctx -> ctx.contentType(metrics.contentType()).result(metrics.scrape()));
        app.get("/v1/models", ctx -> send(ctx, 200, models()));
        app.get("/v1/models/{id}", ctx -> {
            Budgets.exitOf(served, ctx.pathParam("id"));
            for (JsonNode m : models().get("data")) {
                if (m.get("id").asText().equals(ctx.pathParam("id"))) {
                    send(ctx, 200, m);
                }
            }
        });
        app.post("/v1/completions", ctx -> complete(ctx, false));
        app.post("/v1/chat/completions", ctx -> complete(ctx, true));
        app.exception(ApiError.class, (e, ctx) -> send(ctx, e.status(), e.body(json)));
        app.exception(HttpResponseException.class, (e, ctx) -> send(ctx, e.getStatus(), new ApiError(e.getStatus(),
                e.getStatus() == 404 ? "invalid_request_error" : "server_error", null, null,
                e.getStatus() == 404 ? "no route " + ctx.method() + " " + ctx.path() + " (accepted: " + new java.util.TreeSet<>(ROUTES) + ")"
                        : e.getMessage()).body(json)));
        app.exception(Exception.class, (e, ctx) -> {
            LOG.error("request {} {} failed", ctx.method(), ctx.path(), e);
            send(ctx, 500, new ApiError(500, "server_error", null, null, "internal error: " + e).body(json));
        });
    }

    /**
     * Starts a server; it listens when this returns.
     *
     * @throws IllegalArgumentException when the address cannot be bound (port in use, unknown host)
     */
    public static ManyfoldServer start(ServedModel served, ServeOptions options) {
        ManyfoldServer server = new ManyfoldServer(served, options);
        try {
            server.app.start(options.host(), options.port());
        } catch (io.javalin.util.JavalinBindException e) {
            server.pool.shutdownNow();
            throw new IllegalArgumentException("--port " + options.port() + ": cannot listen on " + options.host() + ":" + options.port()
                    + " (" + e.getMessage() + ")", e);
        }
        return server;
    }

    /** The port it listens on (the chosen one when started with port 0). */
    public int port() {
        return app.port();
    }

    /** The base URL, such as {@code http://127.0.0.1:8080}. */
    public String url() {
        String host = options.host().contains(":") ? "[" + options.host() + "]" : options.host();
        return "http://" + host + ":" + port();
    }

    /** The model ids offered: the full model and each trained exit. */
    public java.util.List<String> modelIds() {
        return Budgets.ids(served);
    }

    /** Blocks until {@link #shutdown} has finished. */
    public void awaitShutdown() throws InterruptedException {
        stopped.await();
    }

    /**
     * Stops gracefully: new requests are answered 503, admitted ones may finish until the
     * shutdown timeout, then running decodes are cancelled (a stream gets an error event) and
     * the listener closes. Idempotent.
     */
    public void shutdown() {
        synchronized (this) {
            if (shutDown) {
                return;
            }
            shutDown = true;
        }
        draining = true;
        pool.shutdown();
        try {
            if (!pool.awaitTermination(options.shutdownTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
                LOG.warn("shutdown: decodes still running after {}; cancelling them", options.shutdownTimeout());
                cancelAll = true;
                pool.awaitTermination(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            cancelAll = true;
            Thread.currentThread().interrupt();
        } finally {
            // Let handlers whose decode ended write their last events ([DONE], the shutdown error) before the listener closes.
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (handling.get() > 0 && System.nanoTime() < until) {
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            app.stop();
            if (batcher != null) {
                batcher.close();
                long[] c = batcher.counts();
                LOG.info("batched {} decode steps in {} forwards (mean batch {})", c[1], c[0], c[0] == 0 ? 0 : String.format("%.2f", c[1] / (double) c[0]));
            }
            stopped.countDown();
        }
    }

    @Override
    public void close() {
        shutdown();
    }

    private void admit(Context ctx) {
        String path = ctx.path();
        if (options.apiKey().isPresent() && !path.equals("/health") && !path.equals("/")) {
            String header = ctx.header("Authorization");
            String expected = "Bearer " + options.apiKey().get();
            if (header == null || !MessageDigest.isEqual(header.getBytes(StandardCharsets.UTF_8), expected.getBytes(StandardCharsets.UTF_8))) {
                throw new ApiError(401, "invalid_request_error", null, "invalid_api_key", header == null
                        ? "no API key: send the header Authorization: Bearer KEY (the key in the server's --api-key-file)"
                        : "incorrect API key in the Authorization header");
            }
        }
        if (draining && !path.equals("/health") && !path.equals("/metrics")) {
            throw new ApiError(503, "server_error", null, "shutting_down", "the server is shutting down; retry on another replica");
        }
    }

    private ObjectNode models() {
        ObjectNode root = json.createObjectNode();
        root.put("object", "list");
        ArrayNode data = root.putArray("data");
        LanguageModel model = served.model();
        for (String id : Budgets.ids(served)) {
            ObjectNode m = data.addObject();
            m.put("id", id);
            m.put("object", "model");
            m.put("created", created);
            m.put("owned_by", "manyfold");
            ObjectNode ext = m.putObject("manyfold");
            ext.put("exit", Budgets.exitOf(served, id));
            ext.put("layers", model.layers());
            ext.put("context_length", model.contextLength());
        }
        ObjectNode ext = root.putObject("manyfold");
        ext.putPOJO("exits", model.exits());
        ext.putPOJO("decoders", served.decoders().names());
        ext.put("max_tokens", options.maxTokens());
        return root;
    }

    private void complete(Context ctx, boolean chat) {
        handling.incrementAndGet();
        try {
            answer(ctx, chat);
        } finally {
            handling.decrementAndGet();
        }
    }

    private void answer(Context ctx, boolean chat) {
        JsonNode body;
        try {
            body = json.readTree(readBody(ctx));
        } catch (JsonProcessingException e) {
            throw ApiError.invalid(null, "the request body is not valid JSON: " + e.getOriginalMessage() + " at line "
                    + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        DecodePlan plan = DecodePlan.parse(body, chat, served, new DecodePlan.Limits(options.maxTokens()), json);
        long admitted = System.nanoTime();
        String id = (chat ? "chatcmpl-" : "cmpl-") + UUID.randomUUID().toString().replace("-", "");
        Responses responses = new Responses(json, plan, id, Instant.now().getEpochSecond());
        EventStream stream = plan.stream() ? new EventStream(ctx, responses) : null;
        // A stream notices a gone client when it writes a token; a plain answer asks the kernel between tokens.
        ClientConnection client = stream == null ? new ClientConnection(ctx.req().getLocalPort(), ctx.req().getRemotePort(),
                DISCONNECT_CHECK_MILLIS) : null;
        Future<Outcome> future;
        try {
            future = pool.submit(() -> decode(plan, stream, client, admitted));
        } catch (RejectedExecutionException e) {
            if (draining) {
                throw new ApiError(503, "server_error", null, "shutting_down", "the server is shutting down; retry on another replica");
            }
            throw new ApiError(429, "rate_limit_error", null, "rate_limit_exceeded", "the server is busy: " + options.maxConcurrency()
                    + " decodes running and " + options.maxQueue() + " waiting (its --max-concurrency and --max-queue); retry later");
        }
        Outcome outcome;
        try {
            outcome = future.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            future.cancel(true);
            Thread.currentThread().interrupt();
            throw new ApiError(503, "server_error", null, "shutting_down", "interrupted while decoding");
        }
        if (stream == null && outcome != null) { // null: the client went away, nobody to answer
            send(ctx, 200, responses.complete(outcome));
        }
    }

    private byte[] readBody(Context ctx) throws IOException {
        long max = options.maxBodyBytes();
        long declared = ctx.req().getContentLengthLong();
        if (declared > max) {
            throw tooLarge(declared + " bytes");
        }
        try (InputStream in = ctx.req().getInputStream()) {
            byte[] bytes = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, max + 1));
            if (bytes.length > max) {
                throw tooLarge("more than " + max + " bytes");
            }
            return bytes;
        }
    }

    private ApiError tooLarge(String size) {
        return new ApiError(413, "invalid_request_error", null, "request_too_large", "the request body has " + size
                + "; this server accepts at most " + options.maxBodyBytes() + " bytes (its --max-body-bytes)");
    }

    /**
     * Runs on a decode thread; streams through {@code stream} when given, else watches
     * {@code client} between tokens. Null when the decode was cancelled and nothing is left to send.
     */
    private Outcome decode(DecodePlan plan, EventStream stream, ClientConnection client, long admitted) {
        LanguageModel model = modelFor(plan);
        boolean alone = model != batching;
        if (alone) {
            try {
                unbatched.acquire();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ApiError(503, "server_error", null, "shutting_down", "interrupted while waiting for a decode slot");
            }
        }
        running.incrementAndGet();
        try {
            if (cancelAll) {
                throw new ApiError(503, "server_error", null, "shutting_down", "the server shut down before this request's turn");
            }
            if (client != null && client.gone()) {
                throw new Cancelled("disconnect"); // left while queued
            }
            TextStream text = new TextStream(served.tokenizer(), plan.stops());
            long[] first = {-1};
            IntConsumer onToken = token -> {
                if (cancelAll) {
                    throw new Cancelled("shutdown");
                }
                if (client != null && client.gone()) {
                    throw new Cancelled("disconnect");
                }
                if (first[0] < 0) {
                    first[0] = System.nanoTime();
                }
                String delta = text.accept(token);
                if (stream != null && !delta.isEmpty()) {
                    stream.delta(delta);
                }
                if (text.stopped()) {
                    throw new Cancelled("stop");
                }
            };
            Map<String, Double> statistics = Map.of();
            String finish;
            try {
                Generation g = plan.decoder().generate(model, plan.prompt(), plan.maxTokens(), onToken);
                statistics = g.statistics();
                int[] tokens = g.tokens();
                boolean eos = tokens.length > 0 && served.model().eosToken().isPresent()
                        && tokens[tokens.length - 1] == served.model().eosToken().getAsInt();
                finish = tokens.length >= plan.maxTokens() && !eos ? "length" : "stop";
            } catch (Cancelled c) {
                if (!c.getMessage().equals("stop")) {
                    metrics.cancelled(c.getMessage());
                    record(plan, text.tokens(), admitted, first[0]);
                    if (stream != null && c.getMessage().equals("shutdown")) {
                        stream.error(new ApiError(503, "server_error", null, "shutting_down", "the server shut down during this decode"));
                    } else if (stream == null && c.getMessage().equals("shutdown")) {
                        throw new ApiError(503, "server_error", null, "shutting_down", "the server shut down during this decode");
                    }
                    if (c.getMessage().equals("disconnect")) {
                        LOG.info("{}: the client disconnected; decode cancelled after {} of at most {} tokens", plan.budget(), text.tokens(),
                                plan.maxTokens());
                    }
                    return null;
                }
                finish = "stop";
            } catch (RuntimeException e) {
                ApiError error = e instanceof ConfigException c ? DecodePlan.invalid(c)
                        : e instanceof IllegalArgumentException ? ApiError.invalid(null, e.getMessage())
                        : e instanceof ApiError a ? a : null;
                if (error == null) {
                    LOG.error("decode failed", e);
                    error = new ApiError(500, "server_error", null, null, "the decode failed: " + e);
                }
                if (stream != null && stream.started()) {
                    stream.error(error);
                    return null;
                }
                throw error;
            }
            String tail = text.finish();
            if (stream != null && !tail.isEmpty()) {
                stream.delta(tail);
            }
            long end = System.nanoTime();
            record(plan, text.tokens(), admitted, first[0]);
            Outcome outcome = new Outcome(text.text(), text.tokens(), finish, statistics, (end - admitted) / 1e9,
                    first[0] < 0 ? -1 : (first[0] - admitted) / 1e9, first[0] < 0 ? 0 : (end - first[0]) / 1e9);
            if (stream != null) {
                stream.finish(outcome);
            }
            return outcome;
        } catch (Cancelled c) {
            // the client went away while the last events were written
            metrics.cancelled(c.getMessage());
            return null;
        } finally {
            running.decrementAndGet();
            if (alone) {
                unbatched.release();
            }
        }
    }

    /** The batching model for greedy and sampling requests when batching is on; otherwise the served model. */
    private LanguageModel modelFor(DecodePlan plan) {
        return batching != null && plan.decoderType().equals(served.decoders().defaultName()) ? batching : served.model();
    }

    /** Whether decode steps of concurrent greedy and sampling requests are batched. */
    public boolean batching() {
        return batcher != null;
    }

    private void record(DecodePlan plan, int tokens, long admitted, long first) {
        long end = System.nanoTime();
        metrics.decode(plan.budget(), plan.prompt().length, tokens, (end - admitted) / 1e9, first < 0 ? -1 : (first - admitted) / 1e9);
    }

    private void send(Context ctx, int status, JsonNode body) {
        try {
            ctx.status(status).contentType("application/json").result(json.writeValueAsString(body));
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String resource(String name) {
        try (InputStream in = ManyfoldServer.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("missing resource " + name + " next to " + ManyfoldServer.class.getName());
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Ends a decode from its token callback; the message is the reason (stop, disconnect, shutdown). */
    static final class Cancelled extends dev.manyfold.runtime.host.HostSignal {
        private static final long serialVersionUID = 1L;

        Cancelled(String reason) {
            super(reason);
        }
    }

    /** A finished decode. Times in seconds from admission; {@code firstToken} is negative when no token came. */
    record Outcome(String text, int tokens, String finish, Map<String, Double> statistics, double seconds, double firstToken,
            double decodeSeconds) {}
}
