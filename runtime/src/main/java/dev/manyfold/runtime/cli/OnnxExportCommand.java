package dev.manyfold.runtime.cli;

import dev.manyfold.api.ConfigException;
import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.model.LlamaModel;
import dev.manyfold.runtime.onnx.ClassifierGraphs;
import dev.manyfold.runtime.onnx.Engines;
import dev.manyfold.runtime.onnx.GraphKey;
import dev.manyfold.runtime.onnx.LlamaGraphs;
import dev.manyfold.runtime.onnx.OnnxExport;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** {@code export --format onnx}: a directory of LLaMA graphs, or one MLP/CNN graph file. */
final class OnnxExportCommand {
    private OnnxExportCommand() {}

    static int export(Run p, Path source, SubModel sub, Integer exit, Path out, PrintWriter w) {
        if (p.model() instanceof LlamaModel llama) {
            if (!sub.equals(SubModel.FULL)) {
                throw new IllegalArgumentException("--format onnx of a language model exports the full model and its trained exits;"
                        + " use --exit N for one exit instead of --sub-model");
            }
            if (exit != null && !llama.exits().contains(exit)) {
                throw new ConfigException("--exit", "exit " + exit + " is not a trained exit of " + source, "one of " + llama.exits());
            }
            if (Files.isRegularFile(out)) {
                throw new ConfigException(out.toString(), "is a file; a language model exports a directory of graphs", "a directory path");
            }
            String tokenizer = tokenizer(p);
            if (!tokenizer.equals(dev.manyfold.runtime.data.DataConfig.BYTE_TOKENIZER)) {
                // The export carries its tokenizer, so the directory is self-contained.
                Path file = Files.isDirectory(Path.of(tokenizer)) ? Path.of(tokenizer).resolve("tokenizer.json") : Path.of(tokenizer);
                try {
                    Files.createDirectories(out);
                    Files.copy(file, out.resolve("tokenizer.json"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot copy the tokenizer " + file + " into " + out, e);
                }
                tokenizer = "tokenizer.json";
            }
            LlamaGraphs graphs = OnnxExport.graphs(llama, tokenizer, source.toAbsolutePath().toString());
            List<GraphKey> keys = OnnxExport.standardKeys(llama.layers(), llama.exits(), exit);
            if (exit != null && exit < llama.layers()) {
                // One exit on its own is decodable: the full model's step graph still checks inputs on load.
                keys = new java.util.ArrayList<>(keys);
                keys.add(new GraphKey(0, llama.layers(), true, true, true, true));
            }
            List<Path> files = OnnxExport.write(graphs, keys, out);
            long bytes = files.stream().mapToLong(f -> {
                try {
                    return Files.size(f);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).sum();
            w.printf("exported %d ONNX graphs (exits %s%s), %,d bytes -> %s%n", files.size(), llama.exits(),
                    exit == null ? "" : ", only exit " + exit, bytes, out);
            for (Path f : files) {
                w.printf("  %s%n", f.getFileName());
            }
            w.printf("decode it on ONNX Runtime: manyfold generate %s --prompt TEXT (or the run with --engine onnxruntime)%n", out);
            return 0;
        }
        if (exit != null) {
            sub = sub.with(dev.manyfold.runtime.model.Model.DEPTH, exit);
        }
        byte[] model = ClassifierGraphs.build(p.model(), sub, source.toAbsolutePath().toString());
        try {
            if (out.getParent() != null) {
                Files.createDirectories(out.getParent());
            }
            Files.write(out, model);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out, e);
        }
        Map<String, String> meta = Engines.metadata(out); // ORT loads it back: the file is a valid model
        w.printf("exported %s %s as ONNX (input [N, features] -> logits [N, classes]), %,d bytes -> %s (%d metadata entries)%n",
                p.model().family(), sub, model.length, out, meta.size());
        return 0;
    }

    static String tokenizer(Run p) {
        Object t = p.recipe().section("data").asMap().get("tokenizer");
        return t == null ? "byte" : t.toString();
    }
}
