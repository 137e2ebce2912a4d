package dev.manyfold.runtime.cli;

import dev.manyfold.runtime.model.TensorNames;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.checkpoint.Checkpoint;
import dev.manyfold.api.export.ExportFormat;
import dev.manyfold.runtime.checkpoint.StoredFormats;
import dev.manyfold.runtime.checkpoint.SafeTensors;
import dev.manyfold.runtime.checkpoint.Tensor;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.model.Model;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "export", description = {"Cut a sub-model out of a run as a standalone, smaller safetensors checkpoint.",
        "--format 2:4 keeps a masked run's weights exactly sparse (mask folded in, adapters such as SLoRB kept as tensors);",
        "--format packed-2:4 stores each 2:4 weight as its kept values plus a 3-bit pattern index per group of 4.",
        "--format hf writes a Hugging Face directory (config.json, model.safetensors, tokenizer); --format peft a LoRA adapter.",
        "--format onnx writes ONNX graphs (a language model: prefill, KV-cached decode step and draft/verify graphs per trained exit)."})
final class ExportCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "RUN_OR_CHECKPOINT", description = "A run directory (latest checkpoint) or a checkpoint file")
    Path path;

    @Option(names = "--sub-model", paramLabel = "DIM=B,...", description = "Budgets, e.g. depth=2,width=64 (default: the full model)")
    String subModel;

    @Option(names = "--exit", paramLabel = "N", description = "Shorthand for --sub-model depth=N (added to its other budgets)")
    Integer exit;

    @Option(names = "--dtype", paramLabel = "TYPE", defaultValue = "f32", description = "--format hf weights: f32 (default, exact) or bf16")
    String dtype;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "FILE", description = "Output .safetensors file (a directory for hf, peft)")
    Path out;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "dense",
            description = "dense (default: masks and adapters folded into plain weights), 2:4 (exact 2:4 weights, adapters kept), "
                    + "packed-2:4 (2:4 weights as kept values + 3-bit pattern per group; read back by every command), "
                    + "hf (a Hugging Face model directory, masks and adapters merged), peft (the LoRA adapters in PEFT's layout), "
                    + "onnx (a language model: a directory of ONNX graphs for ONNX Runtime; MLP/CNN: one .onnx file)")
    String format;

    /** The host's own formats; every other name is an export format a loaded plugin contributes (e.g. AST's 2:4, packed-2:4). */
    static final java.util.List<String> BUILT_IN = java.util.List.of("dense", "hf", "peft", "onnx");

    @Override
    public Integer call() {
        PrintWriter w = spec.commandLine().getOut();
        SubModel sub = exit == null ? parse(subModel) : parse(subModel).with(Model.DEPTH, exit);
        try (Manyfold host = main.host()) {
            ExportFormat plugged = BUILT_IN.contains(format) ? null : host.extensions().exportFormat(format).orElseThrow(() -> {
                java.util.List<String> known = new java.util.ArrayList<>(BUILT_IN);
                known.addAll(host.extensions().exportFormats().keySet());
                return new IllegalArgumentException("--format: unknown format \"" + format + "\""
                        + dev.manyfold.api.Settings.closest(format, new java.util.TreeSet<>(known)) + ", known: " + String.join(", ", known));
            });
            return export(host, plugged, sub, w);
        }
    }

    private int export(Manyfold host, ExportFormat plugged, SubModel sub, PrintWriter w) {
        if (format.equals("onnx")) {
            dev.manyfold.runtime.job.RunDirectory.checkOutsideRun(out, path, "--out");
            try (Run p = TrainJob.load(host, path, w)) {
                return OnnxExportCommand.export(p, path, parse(subModel), exit, out, w); // --exit: that exit's graphs
            }
        }
        if (!dtype.equals("f32") && !format.equals("hf")) {
            throw new IllegalArgumentException("--dtype applies to --format hf only; this export is " + format);
        }
        if (!format.equals("dense") && !format.equals("hf") && !sub.equals(SubModel.FULL)) {
            throw new IllegalArgumentException("--format " + format + " exports the full model; drop --sub-model");
        }
        dev.manyfold.runtime.job.RunDirectory.checkOutsideRun(out, path, "--out");
        try (Run p = TrainJob.load(host, path, w);
                NDManager manager = p.model().parameters().manager().newSubManager()) {
            if (format.equals("hf")) {
                return dev.manyfold.runtime.hf.HfExport.run(p, sub, out, dtype, w);
            }
            if (format.equals("peft")) {
                return dev.manyfold.runtime.hf.PeftExport.run(p, out, w);
            }
            if (plugged != null) {
                return exportSparse(p, plugged, w);
            }
            p.model().check(sub, "--sub-model");
            Model.Exported exported = p.model().export(sub, manager);
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            exported.tensors().forEach((n, a) -> tensors.put(n, Tensor.of(n, a)));
            Map<String, Object> model = new LinkedHashMap<>(exported.config());
            // A plain model: no adapters to train (train.trainable) and its weights are in the file (train.init).
            Map<String, Object> train = new LinkedHashMap<>(p.recipe().section("train").asMap());
            train.remove("trainable");
            train.remove("init");
            var recipe = p.recipe().with(Map.of("model", model, "train", train), Set.of("dimensions", "adapters", "masks", "objective", "stages"));
            Map<String, String> metadata = new LinkedHashMap<>();
            metadata.put(Checkpoint.FORMAT_VERSION, TrainJob.FORMAT_VERSION);
            metadata.put(Checkpoint.RECIPE, recipe.toYaml());
            metadata.put("family", p.model().family());
            metadata.put("exported-from", path.toAbsolutePath().toString());
            metadata.put("sub-model", sub.toString());
            metadata.put(Checkpoint.STEP, "0");
            if (out.getParent() != null) {
                Files.createDirectories(out.getParent());
            }
            SafeTensors.write(out, tensors, metadata);
            long bytes = Files.size(out);
            w.printf("exported %s: %,d parameters (%,d in the full model), %,d bytes -> %s%n", sub, p.model().parameterCount(sub),
                    p.model().totalParameters(), bytes, out);
            return 0;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot write " + out, e);
        }
    }

    /** A plugin's export format ({@code --format 2:4}, {@code packed-2:4}, ...): the masked model's tensors as the format stores them. */
    private int exportSparse(Run p, ExportFormat exportFormat, PrintWriter w) throws java.io.IOException {
        Sparse sparse = sparseTensors(p.model());
        if (sparse.masks().isEmpty()) {
            throw new IllegalArgumentException("--format " + format + ": the run has no masked site (no masks section), nothing is 2:4");
        }
        Map<String, dev.manyfold.api.export.StoredTensor> stored;
        try {
            stored = exportFormat.pack(StoredFormats.toStored(sparse.tensors()), sparse.masks());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--format " + format + ": " + e.getMessage(), e);
        }
        Map<String, Tensor> tensors = StoredFormats.fromStored(stored, "export format " + format);
        var recipe = p.recipe().with(Map.of(), Set.of("masks", "objective"));
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put(Checkpoint.FORMAT_VERSION, TrainJob.FORMAT_VERSION);
        metadata.put(Checkpoint.RECIPE, recipe.toYaml());
        metadata.put("family", p.model().family());
        metadata.put("exported-from", path.toAbsolutePath().toString());
        metadata.put("sub-model", SubModel.FULL.toString());
        metadata.put(Checkpoint.STEP, "0");
        if (exportFormat.needsUnpack()) {
            metadata.put(ExportFormat.METADATA, format);
        }
        if (out.getParent() != null) {
            Files.createDirectories(out.getParent());
        }
        SafeTensors.write(out, tensors, metadata);
        long dense = 0;
        for (var e : p.model().parameters().all().entrySet()) {
            if (!TensorNames.isMask(e.getKey()) && !TensorNames.isAdapter(e.getKey())) {
                dense += e.getValue().getShape().size() * e.getValue().getDataType().getNumOfBytes();
            }
        }
        long sparseDense = sparse.masks().keySet().stream().mapToLong(n -> sparse.tensors().get(n).byteSize()).sum();
        long adapters = tensors.values().stream().filter(t -> TensorNames.isAdapter(t.name())).mapToLong(Tensor::byteSize).sum();
        long sparseStored = exportFormat.maskedBytes(stored, sparse.masks().keySet());
        long data = tensors.values().stream().mapToLong(Tensor::byteSize).sum();
        long other = data - sparseStored - adapters;
        w.printf("exported %s: %d masked sites -> %s (file %,d bytes)%n", format, sparse.masks().size(), out, Files.size(out));
        w.printf("  tensor bytes: %,d = 2:4 weights %,d (dense %,d: %.2f%%, %.3f bits per weight) + adapters %,d + other dense tensors %,d%n",
                data, sparseStored, sparseDense, 100.0 * sparseStored / sparseDense, 32.0 * sparseStored / sparseDense, adapters, other);
        w.printf("  the dense model: %,d bytes; this export: %.2f%% of it (%.2f%% without adapters)%n", dense, 100.0 * data / dense,
                100.0 * (data - adapters) / dense);
        return 0;
    }

    /** A masked model's tensors with every mask folded into its weight, and the keep masks by weight name. */
    record Sparse(Map<String, Tensor> tensors, Map<String, boolean[]> masks) {}

    /**
     * Every parameter except masks; a site weight with a mask is stored as {@code M⊙W}
     * (exact zeros at pruned positions), adapters as their own tensors.
     */
    static Sparse sparseTensors(Model model) {
        Map<String, dev.manyfold.runtime.model.LinearSite> masked = new LinkedHashMap<>();
        model.sites().values().forEach(site -> {
            if (site.mask() != null) {
                masked.put(site.weight().getName(), site);
            }
        });
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, boolean[]> masks = new LinkedHashMap<>();
        try (NDManager scratch = model.parameters().manager().newSubManager()) {
            model.parameters().all().forEach((name, array) -> {
                if (TensorNames.isMask(name)) {
                    return;
                }
                var site = masked.get(name);
                if (site == null) {
                    tensors.put(name, Tensor.of(name, array));
                    return;
                }
                NDArray mask = site.mask();
                NDArray folded = dev.manyfold.runtime.model.Ops.own(scratch, array.stopGradient()).mul(mask);
                tensors.put(name, Tensor.of(name, folded));
                float[] m = mask.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
                boolean[] keep = new boolean[m.length];
                for (int i = 0; i < m.length; i++) {
                    keep[i] = m[i] != 0;
                }
                masks.put(name, keep);
            });
        }
        return new Sparse(tensors, masks);
    }

    /** Parses {@code depth=2,width=64}. */
    static SubModel parse(String text) {
        if (text == null || text.isBlank() || text.equals("full")) {
            return SubModel.FULL;
        }
        Map<String, Integer> budgets = new LinkedHashMap<>();
        for (String part : text.split(",")) {
            String[] kv = part.split("=");
            if (kv.length != 2) {
                throw new IllegalArgumentException("--sub-model: cannot read \"" + part + "\"; accepted: DIM=BUDGET[,DIM=BUDGET...], e.g. depth=2,width=64");
            }
            try {
                budgets.put(kv[0].trim(), Integer.parseInt(kv[1].trim()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--sub-model: budget \"" + kv[1] + "\" of " + kv[0] + " is not an integer");
            }
        }
        try {
            return SubModel.of(budgets);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--sub-model: " + e.getMessage());
        }
    }
}
