package dev.manyfold.runtime.cli;

import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.eval.EvalReport;
import dev.manyfold.runtime.eval.ExitAnalysis;
import dev.manyfold.runtime.eval.ExitProfile;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.model.LlamaModel;
import dev.manyfold.runtime.model.Model;
import dev.manyfold.runtime.train.HostBatch;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.TreeSet;
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
            try (Manyfold host = main.host(); TrainJob.Prepared p = TrainJob.load(host, path, o)) {
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
    private static void printSparsity(TrainJob.Prepared p, List<SubModel> subModels, PrintWriter o) {
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

    private EvalReport evaluate(TrainJob.Prepared p, PrintWriter o) {
        Model model = p.model();
        boolean text = p.data().isText();
        LlamaModel llama = model instanceof LlamaModel l ? l : null;
        if (exits != null && llama == null) {
            throw new IllegalArgumentException("--exits applies to language models (family llama), not to " + model.family());
        }
        List<SubModel> subModels = new ArrayList<>(TrainJob.lattice(p));
        if (exits != null) {
            for (int e : ExitAnalysis.exits(exits, llama.layers())) {
                SubModel sub = e == llama.layers() ? SubModel.FULL : SubModel.of(Model.DEPTH, e);
                if (!subModels.contains(sub)) {
                    subModels.add(sub);
                }
            }
            subModels.sort(Comparator.comparingLong((SubModel s) -> model.flops(s)).reversed());
        }
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
            TreeSet<Integer> depths = new TreeSet<>();
            if (exits != null) {
                depths.addAll(exits);
            } else {
                subModels.forEach(s -> depths.add(s.budgetOr(Model.DEPTH, llama.layers())));
            }
            depths.add(llama.layers());
            if (depths.size() == 1) {
                o.println("exit analysis: only the full depth is targeted (use --exits N,M,... to compare intermediate exits)");
            } else {
                profile = ExitAnalysis.profile(llama, data, List.copyOf(depths), llama.parameters().manager());
                report = report.withExits(profile.means());
                o.println();
                report.printExits(o);
                o.println();
                profile.print(o);
            }
        }
        return report;
    }
}
