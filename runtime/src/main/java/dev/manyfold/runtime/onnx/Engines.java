package dev.manyfold.runtime.onnx;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.decoder.LanguageModel;
import dev.manyfold.runtime.model.LlamaModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Picks the engine a language model runs on. {@code pytorch} is the model as loaded (DJL);
 * {@code onnxruntime} runs the same weights as ONNX graphs on ONNX Runtime, either from an
 * export directory ({@code manyfold export RUN --format onnx -o DIR}) or from a run, whose
 * graphs are exported on first use into {@code RUN/onnx/} (rebuilt when the checkpoint
 * changes).
 */
public final class Engines {
    public static final String PYTORCH = "pytorch";
    public static final String ONNXRUNTIME = "onnxruntime";
    public static final List<String> NAMES = List.of(PYTORCH, ONNXRUNTIME);
    /** Name of the file in a cache or export directory that says which checkpoint it came from. */
    static final String STAMP = "manyfold-source.txt";

    private Engines() {}

    /** The system property that fixes ONNX Runtime's intra-op thread count (overrides the default by size and the recipe). */
    public static final String THREADS_PROPERTY = "manyfold.onnx.threads";
    /** The recipe's {@code decode:} key for ONNX Runtime's intra-op thread count (read by the host, like {@code engine}). */
    public static final String THREADS_KEY = "onnx-threads";
    /**
     * Above this many bytes of F32 weights read per token, decoding is bound by memory
     * bandwidth and a second intra-op thread pays (measured: the 379 MB model ran 1.6–1.8× faster
     * with 2 threads than 1 on an idle 2-core machine, while the 6.6 MB 8-layer SoFT model was
     * slower with 2; docs/results.md, "ONNX Runtime engine — fewer calls per token").
     */
    public static final long LARGE_MODEL_BYTES = 32L << 20;

    /**
     * ONNX Runtime's intra-op threads when nothing fixes them: 1 for a model whose weights per
     * token stay at most {@link #LARGE_MODEL_BYTES} (per-node overhead dominates and a second
     * thread only adds synchronisation), else 2 (bandwidth-bound: two cores read faster than
     * one), never more than the machine's processors. With 2 or more, spinning is off.
     */
    public static int defaultThreads(long weightBytesPerToken, int processors) {
        return weightBytesPerToken > LARGE_MODEL_BYTES ? Math.max(1, Math.min(2, processors)) : 1;
    }

    /** Why {@link #defaultThreads} chose its count for {@code bytes} of F32 weights per token, for notes. */
    static String sizeReason(long bytes) {
        return sizeReason(bytes, " per token");
    }

    private static String sizeReason(long bytes, String per) {
        return String.format(java.util.Locale.ROOT, "%.1f MB of F32 weights%s, %s %.1f MB", bytes / 1e6, per,
                bytes > LARGE_MODEL_BYTES ? "above" : "at most", LARGE_MODEL_BYTES / 1e6);
    }

    /**
     * PyTorch's intra-op threads for training a model of {@code weightBytes} bytes of F32
     * parameters, by {@link #defaultThreads}: 1 for a model of at most 32 MiB, whose training
     * ops are too small to pay for waking a second OpenMP worker (measured on an idle 2-core
     * machine with 1 thread against 2: the Fashion-MNIST MLP 2.0x faster per step, the 8-layer
     * SoFT LLaMA 1.31x, a width-16 CNN with BatchNorm 1.23x; the LLaMA's step losses were
     * identical), else 2; left alone when {@code -Dai.djl.pytorch.num_threads} or
     * {@code OMP_NUM_THREADS} fixes the count. Used by {@code train} and {@code bench train};
     * returns the note they print.
     */
    public static String pytorchTrainingThreads(long weightBytes) {
        return dev.manyfold.runtime.engine.PyTorchEngine.intraOpThreads(
                defaultThreads(weightBytes, Runtime.getRuntime().availableProcessors()), "default for training " + sizeReason(weightBytes, ""));
    }

    /**
     * PyTorch's intra-op threads for decoding a model that reads {@code weightBytesPerToken}
     * bytes of F32 weights per token, by {@link #defaultThreads}: 1 for a small model, whose
     * decode ops are microseconds long and for which waking a second OpenMP worker per op costs
     * more than it saves (the 6.6 MB 8-layer SoFT model decoded 4.2x faster with 1 than with 2
     * on an idle 2-core machine), 2 for a bandwidth-bound model above 32 MiB (the 379 MB model:
     * 39.3 vs 27.8 tokens/s); left alone when {@code -Dai.djl.pytorch.num_threads} or
     * {@code OMP_NUM_THREADS} fixes the count. Used by generate, bench decode and serve; returns
     * the note {@code bench decode} prints.
     */
    public static String pytorchDecodeThreads(dev.manyfold.runtime.model.Model model) {
        return pytorchDecodeThreads(MemoryFloor.weightBytesPerToken(model));
    }

    /** As {@link #pytorchDecodeThreads(dev.manyfold.runtime.model.Model)} for {@code weightBytesPerToken} bytes of F32 weights per token. */
    public static String pytorchDecodeThreads(long weightBytesPerToken) {
        return dev.manyfold.runtime.engine.PyTorchEngine.intraOpThreads(
                defaultThreads(weightBytesPerToken, Runtime.getRuntime().availableProcessors()), "default for decoding " + sizeReason(weightBytesPerToken));
    }

    /**
     * The intra-op thread count: {@code -Dmanyfold.onnx.threads=N} if set, else {@code setting}
     * (the recipe's {@code decode.onnx-threads}, or null), else {@link #defaultThreads} for
     * {@code weightBytesPerToken} on this machine.
     */
    public static int threads(long weightBytesPerToken, Integer setting) {
        String t = System.getProperty(THREADS_PROPERTY);
        if (t != null) {
            try {
                int n = Integer.parseInt(t.trim());
                if (n >= 1) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // refused below
            }
            throw new ConfigException("-D" + THREADS_PROPERTY, "\"" + t + "\" is not a thread count", "an integer >= 1");
        }
        if (setting != null) {
            if (setting < 1) {
                throw new ConfigException("decode." + THREADS_KEY, setting + " is not a thread count", "an integer >= 1");
            }
            return setting;
        }
        return defaultThreads(weightBytesPerToken, Runtime.getRuntime().availableProcessors());
    }

    /** The model of {@code meta} with {@link #threads(long, Integer)} intra-op threads, noting why that many. */
    private static OrtLanguageModel model(OrtLanguageModel.GraphSource source, Map<String, String> meta, Integer setting) {
        long bytes;
        try {
            bytes = weightBytesPerToken(new com.fasterxml.jackson.databind.ObjectMapper().readTree(meta.get(OnnxExport.META_CONFIG)));
        } catch (Exception e) {
            bytes = 0; // no usable config: OrtLanguageModel refuses it naming the file
        }
        int threads = threads(bytes, setting);
        OrtLanguageModel m = new OrtLanguageModel(source, meta, threads);
        m.threadsNote = threads + " intra-op thread" + (threads == 1 ? "" : "s, spinning off") + " ("
                + (System.getProperty(THREADS_PROPERTY) != null ? "-D" + THREADS_PROPERTY
                        : setting != null ? "decode." + THREADS_KEY
                        : "default for " + sizeReason(bytes)) + ")";
        return m;
    }

    /**
     * F32 bytes of weights one full-model token reads, from the model config in an export's
     * metadata (every layer, the final norm, the LM head and one embedding row; as
     * {@link MemoryFloor#weightBytesPerToken}).
     */
    public static long weightBytesPerToken(com.fasterxml.jackson.databind.JsonNode config) {
        long d = config.path("dim").asLong();
        long hd = config.path("head-dim").asLong();
        long ffn = config.path("ffn").asLong();
        int heads = config.path("heads").asInt();
        int kv = config.path("kv-heads").asInt();
        int layers = config.path("layers").asInt();
        int group = Math.max(1, heads / Math.max(1, kv));
        com.fasterxml.jackson.databind.JsonNode layerHeads = config.path("layer-heads");
        long params = 0;
        for (int i = 0; i < layers; i++) {
            long h = layerHeads.isArray() ? layerHeads.get(i).asLong() : heads;
            long k = h / group;
            params += d * (h + 2 * k) * hd + h * hd * d + 3 * d * ffn + 2 * d;
        }
        params += d + d * config.path("vocab").asLong() + d;
        return 4 * params;
    }

    /** Refuses an unknown engine name, naming {@code where} (e.g. {@code --engine}). */
    public static String check(String engine, String where) {
        if (!NAMES.contains(engine)) {
            throw new ConfigException(where, "unknown engine \"" + engine + "\"", String.join(", ", NAMES));
        }
        return engine;
    }

    /**
     * {@code model} (loaded from {@code checkpoint}) on {@code engine}. For {@code onnxruntime} the
     * result is an {@link OrtLanguageModel} the caller closes.
     */
    public static LanguageModel on(LlamaModel model, Path checkpoint, String tokenizer, String engine) {
        return on(model, checkpoint, tokenizer, engine, null);
    }

    /**
     * As {@link #on(LlamaModel, Path, String, String)} with ONNX Runtime's intra-op thread count
     * {@code threads} (the recipe's {@code decode.onnx-threads}; null: the default by size, see
     * {@link #threads(long, Integer)}).
     */
    public static LanguageModel on(LlamaModel model, Path checkpoint, String tokenizer, String engine, Integer threads) {
        check(engine, "engine");
        if (engine.equals(PYTORCH)) {
            return model;
        }
        Path dir = cacheDir(checkpoint);
        prepareCache(dir, stamp(checkpoint));
        // The folded weights are composed only when a graph is missing from the cache.
        java.util.function.Supplier<LlamaGraphs> graphs = new java.util.function.Supplier<>() {
            private LlamaGraphs built;

            @Override
            public synchronized LlamaGraphs get() {
                if (built == null) {
                    built = OnnxExport.graphs(model, tokenizer, checkpoint.toString());
                }
                return built;
            }
        };
        OrtLanguageModel.GraphSource files = OrtLanguageModel.directory(dir);
        OrtLanguageModel.GraphSource source = new OrtLanguageModel.GraphSource() {
            @Override
            public Object find(GraphKey key) {
                Object f = files.find(key);
                if (f == null && key.to() <= model.layers()) {
                    synchronized (this) {
                        f = files.find(key);
                        if (f == null) {
                            // Another thread or process (an executor sharing the run) may be exporting the same graph: one does,
                            // the others then find its file, complete (written to a temporary file, then renamed).
                            try (CacheLock lock = CacheLock.acquire(dir)) {
                                f = files.find(key);
                                if (f == null) {
                                    f = OnnxExport.write(graphs.get(), List.of(key), dir).get(0);
                                }
                            } catch (IOException e) {
                                throw new UncheckedIOException("cannot lock the ONNX cache " + dir + ": " + e.getMessage(), e);
                            }
                        }
                    }
                }
                return f;
            }

            @Override
            public String describe(GraphKey key) {
                return files.describe(key);
            }

            @Override
            public Object findBatchStep(int to) {
                Object f = files.findBatchStep(to);
                if (f == null && to <= model.layers()) {
                    synchronized (this) {
                        f = files.findBatchStep(to);
                        if (f == null) {
                            Path p = dir.resolve(LlamaGraphs.batchStepFileName(to));
                            try {
                                Files.write(p, graphs.get().buildBatchStep(to));
                            } catch (IOException e) {
                                throw new UncheckedIOException("cannot write " + p + ": " + e.getMessage(), e);
                            }
                            f = p;
                        }
                    }
                }
                return f;
            }
        };
        Map<String, String> meta = OnnxExport.metadata(model, tokenizer, checkpoint.toString());
        return model(source, meta, threads);
    }

    /**
     * Makes {@code dir} the cache of the checkpoint {@code stamp} describes. A cache of another
     * checkpoint is emptied and restamped under the {@link CacheLock} (threads of this JVM and
     * other processes sharing the run wait for one another), and the stamp is replaced by a
     * rename, so no reader ever sees a partial stamp and takes the cache for stale.
     */
    static void prepareCache(Path dir, String stamp) {
        try {
            if (stamped(dir, stamp)) {
                return;
            }
            Files.createDirectories(dir);
            try (CacheLock lock = CacheLock.acquire(dir)) {
                if (stamped(dir, stamp)) {
                    return;
                }
                try (Stream<Path> files = Files.list(dir)) {
                    for (Path f : files.filter(f -> f.getFileName().toString().endsWith(".onnx")).toList()) {
                        Files.delete(f);
                    }
                }
                OnnxExport.writeAtomically(dir.resolve(STAMP), stamp.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare the ONNX cache " + dir + ": " + e.getMessage(), e);
        }
    }

    private static boolean stamped(Path dir, String stamp) throws IOException {
        return Files.isRegularFile(dir.resolve(STAMP)) && Files.readString(dir.resolve(STAMP)).equals(stamp);
    }

    /** An export directory (or one graph file in it) on ONNX Runtime; bad input is refused naming the file. */
    public static OrtLanguageModel open(Path path) {
        return open(path, null);
    }

    /** As {@link #open(Path)} with ONNX Runtime's intra-op thread count {@code threads} (null: the default by size). */
    public static OrtLanguageModel open(Path path, Integer threads) {
        Path dir = Files.isDirectory(path) ? path : path.toAbsolutePath().getParent();
        if (!Files.exists(path)) {
            throw new ConfigException(path.toString(), "no such file or directory", "an export directory written by manyfold export --format onnx");
        }
        Path probe;
        try (Stream<Path> files = Files.list(dir)) {
            probe = Files.isDirectory(path) ? files.filter(f -> f.getFileName().toString().endsWith(".onnx")).sorted().findFirst()
                    .orElseThrow(() -> new ConfigException(path.toString(), "no .onnx file in this directory",
                            "an export directory written by manyfold export --format onnx")) : path;
        } catch (IOException e) {
            throw new ConfigException(path.toString(), "cannot list: " + e.getMessage(), "a readable export directory");
        }
        Map<String, String> meta = metadata(probe);
        if (!OnnxExport.FORMAT_LLAMA.equals(meta.get(OnnxExport.META_FORMAT))) {
            throw new ConfigException(probe.toString(), "not a Manyfold language-model export: metadata_props lacks "
                    + OnnxExport.META_FORMAT + "=" + OnnxExport.FORMAT_LLAMA
                    + (meta.containsKey(OnnxExport.META_FORMAT) ? " (it has " + meta.get(OnnxExport.META_FORMAT) + ")" : ""),
                    "a directory written by manyfold export --format onnx from a llama run");
        }
        OrtLanguageModel model = model(OrtLanguageModel.directory(dir), meta, threads);
        checkInputs(model, dir);
        return model;
    }

    /** The {@code metadata_props} of an ONNX file; a file ORT cannot load is refused naming it. */
    public static Map<String, String> metadata(Path file) {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions o = OrtLanguageModel.options(1); OrtSession s = env.createSession(file.toString(), o)) {
            return s.getMetadata().getCustomMetadata();
        } catch (OrtException e) {
            throw new ConfigException(file.toString(), "not a loadable ONNX model (" + firstLine(e.getMessage()) + ")",
                    "an ONNX file written by manyfold export --format onnx");
        }
    }

    /** Loads the decode-step graph of the full model and checks its inputs. */
    private static void checkInputs(OrtLanguageModel model, Path dir) {
        GraphKey key = new GraphKey(0, model.layers(), true, true, true, true);
        if (!model.has(key)) {
            throw new ConfigException(dir.resolve(key.fileName()).toString(), "the full model's decode-step graph is missing",
                    "an export directory written by manyfold export --format onnx");
        }
        OrtSession s = model.session(key);
        java.util.Set<String> need = new java.util.TreeSet<>(List.of("tokens", "seqlens_k", "total_sequence_length"));
        for (int i = 0; i < model.layers(); i++) {
            need.add("past_key_" + i);
            need.add("past_value_" + i);
        }
        need.removeAll(s.getInputNames());
        java.util.Set<String> outs = new java.util.TreeSet<>(List.of("logits", "hidden_out"));
        outs.removeAll(s.getOutputNames());
        if (!need.isEmpty() || !outs.isEmpty()) {
            throw new ConfigException(dir.resolve(key.fileName()).toString(), "the graph lacks "
                    + (need.isEmpty() ? "" : "inputs " + need) + (need.isEmpty() || outs.isEmpty() ? "" : " and ")
                    + (outs.isEmpty() ? "" : "outputs " + outs), "a decode-step graph written by manyfold export --format onnx");
        }
    }

    static Path cacheDir(Path checkpoint) {
        Path parent = checkpoint.toAbsolutePath().getParent();
        return parent.resolve("onnx");
    }

    static String stamp(Path checkpoint) {
        try {
            return checkpoint.toAbsolutePath().getFileName() + " " + Files.size(checkpoint) + " " + Files.getLastModifiedTime(checkpoint).toMillis()
                    + " manyfold-onnx " + OnnxExport.VERSION + "\n";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String firstLine(String s) {
        return s == null ? "" : s.lines().findFirst().orElse("");
    }
}
