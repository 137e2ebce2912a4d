package dev.manyfold.runtime.cli;

import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.eval.EvalReport;
import dev.manyfold.runtime.eval.ExitAnalysis;
import dev.manyfold.runtime.eval.ExitProfile;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.model.LayeredLanguageModel;
import dev.manyfold.runtime.model.Model;
import dev.manyfold.runtime.data.HostBatch;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "eval", mixinStandardHelpOptions = true, description = {
        "Evaluate a run or checkpoint: the full model and every targeted sub-model (the full lattice of the recipe's dimension "
                + "budgets). Prints the table (parameters, FLOPs, loss, accuracy or perplexity, %% of full) and writes eval.csv and "
                + "eval.png (quality against FLOPs); for language models also KL(p_L||p_n) and hidden-state cosine per depth exit "
                + "(eval-exits.csv) and per token position (eval-exit-positions.csv, eval-exit-positions.png; the paper's figure).",
        "Selection needs no search and no re-evaluation: --max-flops and --threshold read the evaluated table, which may also "
                + "be a previously written eval.csv given instead of the run."})
final class EvalCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "RUN_OR_CHECKPOINT",
            description = "A run directory (latest checkpoint), a .safetensors checkpoint, or an eval.csv written earlier")
    Path path;

    @Option(names = "--batches", description = "Validation batches to use (default ${DEFAULT-VALUE})", defaultValue = "50")
    int batches;

    @Option(names = "--out", paramLabel = "DIR",
            description = "Where eval.csv, eval.png and eval-exits.csv go (default: the run directory, or the checkpoint's directory; "
                    + "with an eval.csv input nothing is written unless --out is given)")
    Path out;

    @Option(names = "--max-flops", paramLabel = "N",
            description = "Print the best sub-model (highest accuracy; lowest loss for language models; ties: fewer FLOPs) whose "
                    + "FLOPs per example (per token for language models) are <= N. Accepts 2000000, 2e6, 2M, 750k.")
    String maxFlops;

    @Option(names = "--threshold", paramLabel = "P",
            description = "Print every sub-model reaching P%% of the full model, cheapest first: accuracy >= P/100 x full accuracy; "
                    + "for language models loss <= full loss x (1 + (100 - P)/100), e.g. 95 admits 5%% more loss.")
    Double threshold;

    @Option(names = "--exits", split = ",", paramLabel = "N",
            description = "Language models: depth exits for the KL/cosine table (default: the depths of the targeted sub-models); "
                    + "exits not yet in the table are evaluated too, e.g. to compare a normally fine-tuned run exit by exit")
    List<Integer> exits;

    @Option(names = "--engine", paramLabel = "ENGINE", defaultValue = "pytorch",
            description = "pytorch (default) or onnxruntime: loss and accuracy of each sub-model computed from its ONNX export"
                    + " (language models: depth exits only); the exit KL/cosine analysis stays on pytorch")
    String engine;

    @Option(names = "--text", paramLabel = "FILE",
            description = "For an ONNX export directory (which has no validation data): a text file to evaluate every trained exit on"
                    + " (--batches windows of the model's context, tokenized with the export's tokenizer)")
    java.nio.file.Path text;

    @Option(names = "--no-exits", description = "Language models: skip the KL/cosine exit analysis")
    boolean noExits;

    /** The per-position exit analysis of the evaluated run, when one was computed. */
    private ExitProfile profile;

    @Override
    public Integer call() {
        PrintWriter o = spec.commandLine().getOut();
        if (batches < 1) {
            throw new IllegalArgumentException("--batches must be >= 1, got " + batches);
        }
        if (EngineChoice.isOnnxExport(path)) {
            return export(o);
        }
        long budget = maxFlops == null ? -1 : EvalReport.parseFlops(maxFlops);
        if (threshold != null && !(threshold >= 0 && threshold < Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException("--threshold must be a percentage >= 0, got " + threshold);
        }
        EvalReport report;
        Optional<Path> outDir;
        if (Files.isRegularFile(path) && path.getFileName().toString().endsWith(".csv")) {
            if (exits != null) {
                throw new IllegalArgumentException("--exits needs a run or checkpoint, not a table");
            }
            Path exitsCsv = path.resolveSibling(EvalReport.EXITS_CSV);
            report = EvalReport.readCsv(path, Files.isRegularFile(exitsCsv) ? Optional.of(exitsCsv) : Optional.empty());
            o.printf("table %s (%d sub-models, not re-evaluated)%n", path, report.rows().size());
            report.printTable(o);
            report.printExits(o);
            outDir = Optional.ofNullable(out);
        } else {
            try (Manyfold host = main.host(); Run p = TrainJob.load(host, path, o)) {
                report = evaluate(p, o);
            }
            outDir = Optional.of(out != null ? out : Files.isDirectory(path) ? path : path.toAbsolutePath().getParent());
        }
        outDir.ifPresent(dir -> {
            List<Path> written = new ArrayList<>(report.write(dir));
            if (profile != null) {
                written.addAll(profile.write(dir));
            } else {
                ExitProfile.removeStale(dir);
            }
            o.println("wrote " + String.join(", ", written.stream().map(Path::toString).toList()));
        });
        if (budget >= 0) {
            report.printBestWithin(o, budget);
        }
        if (threshold != null) {
            report.printThreshold(o, threshold);
        }
        return 0;
    }

    /**
     * When the model carries masks: non-zero parameters and effective FLOPs of the full model
     * and of each depth-only sub-model, with the mask strategies' patterns.
     */
    private static void printSparsity(Run p, List<SubModel> subModels, PrintWriter o) {
        Model model = p.model();
        if (model.sites().values().stream().noneMatch(s -> s.mask() != null)) {
            return;
        }
        List<String> patterns = p.components().masks().stream().map(dev.manyfold.api.mask.MaskStrategy::pattern)
                .filter(s -> !s.isEmpty()).distinct().toList();
        o.printf(Locale.ROOT, "%nmasks%s: non-zero parameters and effective FLOPs (a masked weight saves its multiply-add)%n",
                patterns.isEmpty() ? "" : " (" + String.join(", ", patterns) + ")");
        for (SubModel sub : subModels) {
            if (sub.budgets().keySet().stream().anyMatch(d -> !d.equals(Model.DEPTH))) {
                continue;
            }
            Model.Sparsity s = model.sparsity(sub);
            o.printf(Locale.ROOT, "  %-16s %,d of %,d parameters non-zero (%.1f%%), %,d of %,d FLOPs (%.1f%%), %d masked sites%n",
                    sub, s.nonZero(), s.parameters(), 100.0 * s.nonZero() / s.parameters(), s.effectiveFlops(), s.flops(),
                    100.0 * s.effectiveFlops() / s.flops(), s.maskedSites());
        }
    }

    private EvalReport evaluate(Run p, PrintWriter o) {
        Model model = p.model();
        boolean text = p.data().isText();
        LayeredLanguageModel llama = model.languageModel().orElse(null);
        if (exits != null && llama == null) {
            throw new IllegalArgumentException("--exits applies to language models (family llama), not to " + model.family());
        }
        List<SubModel> subModels = ExitAnalysis.withExits(model, TrainJob.lattice(p), exits);
        List<HostBatch> data = p.data().validation(batches);
        long items = data.stream().mapToLong(HostBatch::labelCount).sum();
        o.printf(Locale.ROOT, "evaluating %d sub-model%s on %d validation batch%s (%,d %s)%n", subModels.size(),
                subModels.size() == 1 ? "" : "s", data.size(), data.size() == 1 ? "" : "es", items, text ? "tokens" : "examples");
        EvalReport.Task task = text ? EvalReport.Task.LANGUAGE_MODEL : EvalReport.Task.CLASSIFICATION;
        EvalReport report;
        if (dev.manyfold.runtime.onnx.Engines.check(engine, "--engine").equals(dev.manyfold.runtime.onnx.Engines.ONNXRUNTIME)) {
            dev.manyfold.runtime.onnx.OrtLanguageModel ort = llama == null ? null
                    : (dev.manyfold.runtime.onnx.OrtLanguageModel) EngineChoice.open(p, path, engine).model();
            try (dev.manyfold.runtime.onnx.OrtEvaluator evaluator = new dev.manyfold.runtime.onnx.OrtEvaluator(model, ort, path.toString())) {
                o.println("engine: onnxruntime");
                report = EvalReport.evaluate(model, data, subModels, task, sub -> evaluator.evaluate(data, sub));
            }
        } else {
            report = EvalReport.evaluate(model, data, subModels, task);
        }
        report.printTable(o);
        printSparsity(p, subModels, o);
        if (llama != null && !noExits) {
            List<Integer> depths = ExitAnalysis.tableDepths(llama, subModels, exits);
            if (depths.size() == 1) {
                o.println(ExitAnalysis.ONLY_FULL_DEPTH);
            } else {
                ExitAnalysis.Analysis analysis = ExitAnalysis.analyse(llama, data, depths, llama.parameters().manager());
                profile = analysis.profile();
                report = report.withExits(analysis.means());
                o.println();
                report.printExits(o);
                o.println();
                profile.print(o);
            }
        }
        return report;
    }

    /** An ONNX export directory: loss and top-1 accuracy of every trained exit on {@code --text}, on ONNX Runtime. */
    private int export(PrintWriter o) {
        dev.manyfold.runtime.onnx.Engines.check(engine, "--engine"); // an export always runs on onnxruntime
        if (text == null) {
            throw new IllegalArgumentException(path + " is an ONNX export, which has no validation data: give --text FILE to evaluate on");
        }
        String content;
        try {
            content = java.nio.file.Files.readString(text);
        } catch (java.io.IOException | java.io.UncheckedIOException e) {
            throw new IllegalArgumentException("--text " + text + ": cannot read it as UTF-8 text (" + e.getMessage() + ")");
        }
        try (dev.manyfold.runtime.onnx.OrtLanguageModel model = dev.manyfold.runtime.onnx.Engines.open(path);
                dev.manyfold.runtime.data.Tokenizer tokenizer = EngineChoice.tokenizer(model, path)) {
            int[] tokens = tokenizer.encode(content);
            int window = Math.min(model.contextLength(), tokens.length - 1);
            List<dev.manyfold.runtime.onnx.OrtEvaluator.ExitScore> scores = dev.manyfold.runtime.onnx.OrtEvaluator.evaluateText(model, tokens,
                    window, batches);
            o.printf(Locale.ROOT, "engine: onnxruntime (ONNX export %s); %d window%s of %d tokens from %s%n", path, batches,
                    batches == 1 ? "" : "s", window, text);
            o.printf(Locale.ROOT, "%6s %9s %9s %10s%n", "exit", "loss", "accuracy", "positions");
            for (dev.manyfold.runtime.onnx.OrtEvaluator.ExitScore e : scores) {
                o.printf(Locale.ROOT, "%6d %9.4f %9.4f %,10d%n", e.exit(), e.loss(), e.accuracy(), e.positions());
            }
            return 0;
        }
    }
}
