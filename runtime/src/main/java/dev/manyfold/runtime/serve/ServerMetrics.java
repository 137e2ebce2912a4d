package dev.manyfold.runtime.serve;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.function.IntSupplier;

/**
 * The server's Prometheus metrics, one registry per server. Decode metrics are labelled by
 * {@code budget} (the model id, plus {@code /decoder} when the extension field chose one).
 */
final class ServerMetrics {
    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final Counter requests = Counter.builder().name("manyfold_requests_total")
            .help("HTTP requests by route and status").labelNames("route", "status").register(registry);
    private final Counter promptTokens = Counter.builder().name("manyfold_prompt_tokens_total")
            .help("Prompt tokens of completed decodes").labelNames("budget").register(registry);
    private final Counter generatedTokens = Counter.builder().name("manyfold_generated_tokens_total")
            .help("Tokens generated").labelNames("budget").register(registry);
    private final Counter cancelled = Counter.builder().name("manyfold_decodes_cancelled_total")
            .help("Decodes ended before their end: client disconnected or server shutting down").labelNames("reason").register(registry);
    private final Histogram duration = Histogram.builder().name("manyfold_request_duration_seconds")
            .help("Time from admission to the last token, queueing included").unit(io.prometheus.metrics.model.snapshots.Unit.SECONDS)
            .classicOnly().classicExponentialUpperBounds(0.005, 2, 16).labelNames("budget").register(registry);
    private final Histogram firstToken = Histogram.builder().name("manyfold_time_to_first_token_seconds")
            .help("Time from admission to the first token, queueing included").unit(io.prometheus.metrics.model.snapshots.Unit.SECONDS)
            .classicOnly().classicExponentialUpperBounds(0.001, 2, 16).labelNames("budget").register(registry);
    private final Histogram perToken = Histogram.builder().name("manyfold_time_per_output_token_seconds")
            .help("Mean time between tokens after the first, per decode").unit(io.prometheus.metrics.model.snapshots.Unit.SECONDS)
            .classicOnly().classicExponentialUpperBounds(0.0005, 2, 14).labelNames("budget").register(registry);
    private final Histogram tokensPerSecond = Histogram.builder().name("manyfold_decode_tokens_per_second")
            .help("Tokens per second of each decode (first token to last)").classicOnly()
            .classicExponentialUpperBounds(1, 2, 14).labelNames("budget").register(registry);
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();

    ServerMetrics(IntSupplier queued, IntSupplier running) {
        GaugeWithCallback.builder().name("manyfold_queue_depth").help("Requests admitted and waiting for a decode slot")
                .callback(cb -> cb.call(queued.getAsInt())).register(registry);
        GaugeWithCallback.builder().name("manyfold_decodes_running").help("Decodes running now")
                .callback(cb -> cb.call(running.getAsInt())).register(registry);
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            io.prometheus.metrics.core.metrics.CounterWithCallback.builder().name("process_cpu_seconds_total")
                    .help("CPU time of the server process, all threads").callback(cb -> cb.call(os.getProcessCpuTime() / 1e9)).register(registry);
        }
    }

    /** Counts the batched forwards of a {@link StepBatcher} and the decode steps they held (their ratio is the mean batch). */
    void batching(java.util.function.Supplier<long[]> counts) {
        io.prometheus.metrics.core.metrics.CounterWithCallback.builder().name("manyfold_batched_forwards_total")
                .help("Batched decode forwards run (--batch)").callback(cb -> cb.call(counts.get()[0])).register(registry);
        io.prometheus.metrics.core.metrics.CounterWithCallback.builder().name("manyfold_batched_steps_total")
                .help("Decode steps run inside batched forwards (--batch)").callback(cb -> cb.call(counts.get()[1])).register(registry);
    }

    void request(String route, int status) {
        requests.labelValues(route, Integer.toString(status)).inc();
    }

    void cancelled(String reason) {
        cancelled.labelValues(reason).inc();
    }

    /**
     * Records one finished decode.
     *
     * @param firstTokenSeconds from admission, or negative when no token came
     */
    void decode(String budget, int prompt, int tokens, double seconds, double firstTokenSeconds) {
        promptTokens.labelValues(budget).inc(prompt);
        generatedTokens.labelValues(budget).inc(tokens);
        duration.labelValues(budget).observe(seconds);
        if (firstTokenSeconds >= 0) {
            firstToken.labelValues(budget).observe(firstTokenSeconds);
        }
        if (tokens > 1) {
            double decodeSeconds = seconds - firstTokenSeconds;
            perToken.labelValues(budget).observe(decodeSeconds / (tokens - 1));
            if (decodeSeconds > 0) {
                tokensPerSecond.labelValues(budget).observe((tokens - 1) / decodeSeconds);
            }
        }
    }

    String contentType() {
        return writer.getContentType();
    }

    String scrape() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            writer.write(out, registry.scrape());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}
