package dev.manyfold.runtime.cli;

import dev.manyfold.runtime.data.Tokenizer;
import dev.manyfold.runtime.host.HostContext;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.onnx.Engines;
import dev.manyfold.runtime.onnx.OrtLanguageModel;
import dev.manyfold.runtime.serve.RunModelLoader;
import dev.manyfold.runtime.serve.ManyfoldServer;
import dev.manyfold.runtime.serve.ServeOptions;
import dev.manyfold.runtime.serve.ServedModel;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "serve", description = "Serve a run over an OpenAI-compatible HTTP API; each request picks its budget (RUN:exit-N, or"
        + " the manyfold field's decoder and settings) from the one set of weights.")
final class ServeCommand implements Callable<Integer> {
    /** The engines --engine accepts: how each opens a run's language model. */
    private static final Map<String, RunModelLoader.Opener> ENGINES = new TreeMap<>(Map.of(
            Engines.PYTORCH, RunModelLoader.PYTORCH,
            Engines.ONNXRUNTIME, (p, path) -> EngineChoice.open(p, path, Engines.ONNXRUNTIME).model()));

    @ParentCommand
    Main main;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "RUN_OR_EXPORT", description = "A run directory (latest checkpoint) or a .safetensors checkpoint")
    Path path;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to bind (default ${DEFAULT-VALUE}; 0.0.0.0 for all)")
    String host;

    @Option(names = "--port", defaultValue = "8080", description = "Port (default ${DEFAULT-VALUE}; 0 picks a free one)")
    int port;

    @Option(names = "--engine", paramLabel = "NAME",
            description = "Inference engine: pytorch (default for runs) or onnxruntime (the default, and the only one, for an ONNX export)")
    String engine;

    @Option(names = "--model-name", paramLabel = "ID", description = "Model id clients send (default: the run directory's name)")
    String modelName;

    @Option(names = "--max-concurrency", defaultValue = "16", paramLabel = "N",
            description = "Decodes running at once (default ${DEFAULT-VALUE}); of those, at most --max-unbatched outside a batch")
    int maxConcurrency;

    @Option(names = "--batch", defaultValue = "16", paramLabel = "N",
            description = "Continuous batching: run up to N concurrent greedy/sampling requests' decode steps as one batched forward"
                    + " per iteration (pytorch and onnxruntime; default ${DEFAULT-VALUE}; 1: each request on its own); needs --max-concurrency"
                    + " of at least N to fill a batch")
    int batch;

    @Option(names = "--max-unbatched", defaultValue = "2", paramLabel = "N",
            description = "Of those, decodes that run on their own at once: self-speculative and early-exit ones, any on an engine that"
                    + " cannot batch, all with --batch 1 (default ${DEFAULT-VALUE}: one per core of a 2-core machine)")
    int maxUnbatched;

    @Option(names = "--max-queue", defaultValue = "64", paramLabel = "N",
            description = "Requests waiting for a decode slot; more are answered 429 (default ${DEFAULT-VALUE})")
    int maxQueue;

    @Option(names = "--max-tokens", defaultValue = "512", paramLabel = "N",
            description = "Largest max_tokens one request may ask for, and the default (default ${DEFAULT-VALUE}; capped by the context)")
    int maxTokens;

    @Option(names = "--max-body-bytes", defaultValue = "1048576", paramLabel = "BYTES",
            description = "Largest request body; larger ones are answered 413 (default ${DEFAULT-VALUE})")
    long maxBodyBytes;

    @Option(names = "--api-key-file", paramLabel = "FILE",
            description = "A file holding the API key: every route but /health and / then needs Authorization: Bearer KEY")
    Path apiKeyFile;

    @Option(names = "--shutdown-timeout", defaultValue = "30", paramLabel = "SECONDS",
            description = "On SIGTERM, how long running decodes may finish before they are cancelled (default ${DEFAULT-VALUE})")
    int shutdownTimeout;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        ServeOptions options = new ServeOptions(host, port, maxConcurrency, maxQueue, maxTokens, maxBodyBytes, apiKey(),
                Duration.ofSeconds(Math.max(0, shutdownTimeout)), batch, maxUnbatched);
        String id = modelName != null ? modelName : defaultId(path);
        try (Manyfold host = main.host()) {
            ServedModel served = EngineChoice.isOnnxExport(path) ? export(host, id) : RunModelLoader.load(host, path, id, opener());
            try (served) {
                ManyfoldServer server = ManyfoldServer.start(served, options);
                Thread hook = new Thread(server::shutdown, "manyfold-serve-shutdown");
                Runtime.getRuntime().addShutdownHook(hook);
                out.printf("serving %s on %s (engine %s, models %s, decoders %s, max concurrency %d%s)%n", path, server.url(),
                        engine != null ? engine : EngineChoice.isOnnxExport(path) ? Engines.ONNXRUNTIME : Engines.PYTORCH,
                        server.modelIds(), served.decoders().names(), maxConcurrency,
                        server.batching() ? ", batch " + batch : batch > 1 ? ", batch off: the engine cannot batch" : "");
                out.flush();
                server.awaitShutdown();
                return 0;
            }
        }
    }

    /** An ONNX export directory: ONNX Runtime only, the tokenizer from the graphs' metadata, decoders without a run's context. */
    private ServedModel export(Manyfold host, String id) {
        if (engine != null && !engine.equals(Engines.ONNXRUNTIME)) {
            throw new IllegalArgumentException(path + " is an ONNX export; it runs on --engine onnxruntime only");
        }
        OrtLanguageModel model = Engines.open(path);
        try {
            Tokenizer tokenizer = EngineChoice.tokenizer(model, path);
            return new ServedModel(id, model, tokenizer, RunModelLoader.PLAIN_CHAT, RunModelLoader.decoders(host, new HostContext(0, Optional.empty(), Path.of("."),
                    line -> {})), () -> {
                        try {
                            tokenizer.close();
                        } finally {
                            model.close();
                        }
                    });
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    private RunModelLoader.Opener opener() {
        RunModelLoader.Opener opener = ENGINES.get(engine == null ? Engines.PYTORCH : engine);
        if (opener == null) {
            throw new IllegalArgumentException("--engine: unknown engine \"" + engine + "\" (accepted: one of " + ENGINES.keySet() + ")");
        }
        return opener;
    }

    private Optional<String> apiKey() throws IOException {
        if (apiKeyFile == null) {
            return Optional.empty();
        }
        if (!Files.isRegularFile(apiKeyFile)) {
            throw new IllegalArgumentException("--api-key-file " + apiKeyFile + ": no such file");
        }
        String key = Files.readString(apiKeyFile).strip();
        if (key.isEmpty() || key.chars().anyMatch(Character::isWhitespace)) {
            throw new IllegalArgumentException("--api-key-file " + apiKeyFile + ": expected one key without spaces, found "
                    + (key.isEmpty() ? "an empty file" : "whitespace inside"));
        }
        return Optional.of(key);
    }

    private static String defaultId(Path path) {
        Path name = path.toAbsolutePath().normalize().getFileName();
        String id = name == null ? "model" : name.toString();
        return id.endsWith(".safetensors") ? id.substring(0, id.length() - ".safetensors".length()) : id;
    }
}
