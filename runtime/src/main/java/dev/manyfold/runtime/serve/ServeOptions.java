package dev.manyfold.runtime.serve;

import java.time.Duration;
import java.util.Optional;

/**
 * How a {@link ManyfoldServer} listens and what it admits.
 *
 * @param host the address to bind (loopback by default)
 * @param port the port, 0 for any free port
 * @param maxConcurrency decodes that run at once
 * @param maxQueue admitted requests that wait for a decode slot; beyond them, 429
 * @param maxTokens the largest {@code max_tokens} one request may ask for
 * @param maxBodyBytes the largest request body; beyond it, 413
 * @param apiKey when present, every route but {@code /health} and the playground page needs {@code Authorization: Bearer KEY}
 * @param shutdownTimeout how long a graceful shutdown lets running decodes finish before cancelling them
 * @param batch the most concurrent requests' decode steps run as one batched forward ({@code --batch}); 1 decodes each
 *     request on its own. Only greedy and sampling requests on an engine that can batch ({@code pytorch}, {@code onnxruntime} with its batched step graphs) are batched.
 * @param maxUnbatched of the {@code maxConcurrency} decodes, the most that run on their own at once (self-speculative,
 *     early-exit, any decode on an engine that cannot batch, every decode when {@code batch} is 1): each of those takes a
 *     core, while a batch of any size takes one ({@code --max-unbatched})
 */
public record ServeOptions(String host, int port, int maxConcurrency, int maxQueue, int maxTokens, long maxBodyBytes,
        Optional<String> apiKey, Duration shutdownTimeout, int batch, int maxUnbatched) {
    public ServeOptions {
        if (maxUnbatched < 1) {
            throw new IllegalArgumentException("--max-unbatched must be >= 1, got " + maxUnbatched);
        }
        if (batch < 1) {
            throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
        }
        if (maxConcurrency < 1) {
            throw new IllegalArgumentException("--max-concurrency must be >= 1, got " + maxConcurrency);
        }
        if (maxQueue < 0) {
            throw new IllegalArgumentException("--max-queue must be >= 0, got " + maxQueue);
        }
        if (maxTokens < 1) {
            throw new IllegalArgumentException("--max-tokens must be >= 1, got " + maxTokens);
        }
        if (maxBodyBytes < 1) {
            throw new IllegalArgumentException("--max-body-bytes must be >= 1, got " + maxBodyBytes);
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("--port must be in [0, 65535], got " + port);
        }
    }

    /** Options without batching ({@code batch} 1), every decode may run at once. */
    public ServeOptions(String host, int port, int maxConcurrency, int maxQueue, int maxTokens, long maxBodyBytes, Optional<String> apiKey,
            Duration shutdownTimeout) {
        this(host, port, maxConcurrency, maxQueue, maxTokens, maxBodyBytes, apiKey, shutdownTimeout, 1, maxConcurrency);
    }

    /** Loopback, any port, one decode at a time, defaults for the rest: for tests and embedding. */
    public static ServeOptions loopback() {
        return new ServeOptions("127.0.0.1", 0, 1, 16, 256, 1 << 20, Optional.empty(), Duration.ofSeconds(10), 1, 1);
    }

    /** {@code concurrency} decodes at once, any of them unbatched, and {@code queue} waiting. */
    public ServeOptions withConcurrency(int concurrency, int queue) {
        return new ServeOptions(host, port, concurrency, queue, maxTokens, maxBodyBytes, apiKey, shutdownTimeout, batch, concurrency);
    }

    public ServeOptions withApiKey(String key) {
        return new ServeOptions(host, port, maxConcurrency, maxQueue, maxTokens, maxBodyBytes, Optional.of(key), shutdownTimeout, batch, maxUnbatched);
    }

    public ServeOptions withLimits(int tokens, long bodyBytes) {
        return new ServeOptions(host, port, maxConcurrency, maxQueue, tokens, bodyBytes, apiKey, shutdownTimeout, batch, maxUnbatched);
    }

    public ServeOptions withBatch(int size) {
        return new ServeOptions(host, port, maxConcurrency, maxQueue, maxTokens, maxBodyBytes, apiKey, shutdownTimeout, size, maxUnbatched);
    }

    public ServeOptions withUnbatched(int decodes) {
        return new ServeOptions(host, port, maxConcurrency, maxQueue, maxTokens, maxBodyBytes, apiKey, shutdownTimeout, batch, decodes);
    }
}
