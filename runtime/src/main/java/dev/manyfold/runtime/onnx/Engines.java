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

    /**
     * ONNX Runtime's intra-op threads: 1 (measured fastest on the small models here), or the
     * {@code manyfold.onnx.threads} system property (with 2 or more, spinning is off).
     */
    static int threads() {
        String t = System.getProperty("manyfold.onnx.threads", "1");
        try {
            int n = Integer.parseInt(t.trim());
            if (n >= 1) {
                return n;
            }
        } catch (NumberFormatException e) {
            // refused below
        }
        throw new ConfigException("-Dmanyfold.onnx.threads", "\"" + t + "\" is not a thread count", "an integer >= 1");
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
        return new OrtLanguageModel(source, OnnxExport.metadata(model, tokenizer, checkpoint.toString()), threads());
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
        OrtLanguageModel model = new OrtLanguageModel(OrtLanguageModel.directory(dir), meta, threads());
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
