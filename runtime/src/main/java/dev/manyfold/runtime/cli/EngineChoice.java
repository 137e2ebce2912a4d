package dev.manyfold.runtime.cli;

import dev.manyfold.api.ConfigException;
import dev.manyfold.api.decoder.LanguageModel;
import dev.manyfold.runtime.checkpoint.CheckpointStore;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.model.LlamaModel;
import dev.manyfold.runtime.onnx.Engines;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code --engine} of generate, bench decode and eval, else the recipe's {@code decode.engine}, else pytorch. Public for
 * the Spark jobs (manyfold-spark), which choose an engine the same way.
 */
public final class EngineChoice {
    private EngineChoice() {}

    /** The engine names to use: {@code option} (comma-separated, may be null) or the recipe's, else pytorch. */
    public static List<String> names(List<String> option, Run p) {
        List<String> out = new ArrayList<>();
        if (option != null && !option.isEmpty()) {
            for (String e : option) {
                String name = Engines.check(e.trim(), "--engine");
                if (out.contains(name)) {
                    throw new IllegalArgumentException("--engine names " + name + " twice");
                }
                out.add(name);
            }
            return out;
        }
        Object section = p.recipe().asMap().get("decode");
        if (section instanceof Map<?, ?> m && m.get("engine") != null) {
            return List.of(Engines.check(m.get("engine").toString(), "decode.engine"));
        }
        return List.of(Engines.PYTORCH);
    }

    /** The run's language model on {@code engine}; close it when done (a no-op for pytorch). */
    public static Opened open(Run p, Path path, String engine) {
        if (!(p.model() instanceof LlamaModel llama)) {
            throw new ConfigException(path.toString(), "holds a " + p.model().family() + " model; this command needs a language model",
                    "a run of family llama");
        }
        if (engine.equals(Engines.PYTORCH)) {
            Engines.pytorchDecodeThreads(llama);
            return new Opened(llama);
        }
        Path checkpoint = Files.isDirectory(path) ? CheckpointStore.keepingAll().latest(path).orElseGet(() -> weightsFile(path)) : path;
        LanguageModel model = Engines.on(llama, checkpoint, OnnxExportCommand.tokenizer(p), engine, threads(p));
        return new Opened(model);
    }

    /** The recipe's {@code decode.onnx-threads} (ONNX Runtime's intra-op threads), or null when it has none. */
    public static Integer threads(Run p) {
        Object section = p.recipe().asMap().get("decode");
        if (section instanceof Map<?, ?> m && m.get(Engines.THREADS_KEY) != null) {
            Object v = m.get(Engines.THREADS_KEY);
            if (!(v instanceof Integer n) || n < 1) {
                throw new ConfigException("decode." + Engines.THREADS_KEY, "\"" + v + "\" is not a thread count", "an integer >= 1");
            }
            return n;
        }
        return null;
    }

    /** A Hugging Face directory's weights file (what an ONNX cache beside it is stamped with). */
    private static Path weightsFile(Path dir) {
        for (String name : List.of(dev.manyfold.runtime.hf.HfWeights.SINGLE, dev.manyfold.runtime.hf.HfWeights.INDEX)) {
            if (Files.isRegularFile(dir.resolve(name))) {
                return dir.resolve(name);
            }
        }
        throw new ConfigException(dir.toString(), "holds neither a checkpoint nor model.safetensors", "a run directory or a Hugging Face model directory");
    }

    /** True for a directory of {@code .onnx} graphs without checkpoints (an export), or an {@code .onnx} file. */
    public static boolean isOnnxExport(Path path) {
        if (Files.isRegularFile(path)) {
            return path.getFileName().toString().endsWith(".onnx");
        }
        if (!Files.isDirectory(path) || CheckpointStore.keepingAll().latest(path).isPresent()) {
            return false;
        }
        try (java.util.stream.Stream<Path> files = Files.list(path)) {
            return files.anyMatch(f -> f.getFileName().toString().endsWith(".onnx"));
        } catch (java.io.IOException e) {
            return false;
        }
    }

    /**
     * The text of {@code --text FILE} for a command on an ONNX export directory, which has no
     * validation data of its own; refused naming the export when it is missing or unreadable.
     *
     * @param missing what the export lacks, for the message (e.g. "validation text")
     */
    static String exportText(Path export, Path text, String missing, String use) {
        if (text == null) {
            throw new IllegalArgumentException(export + " is an ONNX export, which has no " + missing + ": give --text FILE " + use);
        }
        try {
            return Files.readString(text);
        } catch (java.io.IOException | java.io.UncheckedIOException e) {
            throw new IllegalArgumentException("--text " + text + ": cannot read it as UTF-8 text (" + e.getMessage() + ")");
        }
    }

    /** The tokenizer an export names in its metadata ({@code byte} or a tokenizer.json path). */
    public static dev.manyfold.runtime.data.Tokenizer tokenizer(dev.manyfold.runtime.onnx.OrtLanguageModel model, Path path) {
        String t = model.metadata().getOrDefault(dev.manyfold.runtime.onnx.OnnxExport.META_TOKENIZER, "byte");
        if (t.equals(dev.manyfold.runtime.data.DataConfig.BYTE_TOKENIZER)) {
            return new dev.manyfold.runtime.data.ByteTokenizer();
        }
        Path file = Path.of(t);
        if (!file.isAbsolute()) {
            file = (Files.isDirectory(path) ? path : path.toAbsolutePath().getParent()).resolve(t);
        }
        return dev.manyfold.runtime.data.HuggingFaceTokenizer.load(file);
    }

    /** A model on an engine. */
    public record Opened(LanguageModel model) implements AutoCloseable {
        @Override
        public void close() {
            if (model instanceof AutoCloseable c) {
                try {
                    c.close();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
        }
    }
}
