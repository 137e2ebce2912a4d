package dev.manyfold.runtime.cli;

import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.RunDirectory;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.recipe.Recipe;
import dev.manyfold.runtime.train.Evaluator;
import dev.manyfold.runtime.train.Progress;
import dev.manyfold.runtime.train.Trainer;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "train", description = "Train a recipe; checkpoints and metrics go to a run directory.")
final class TrainCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "RECIPE", description = "YAML recipe file")
    Path recipeFile;

    @Option(names = "--run-dir", paramLabel = "DIR", description = "Run directory (default: runs/NAME-TIMESTAMP)")
    Path runDir;

    @Option(names = "--resume", description = "Resume from the latest checkpoint in --run-dir (the same recipe)")
    boolean resume;

    @Option(names = "--set", paramLabel = "KEY=VALUE",
            description = "Override a recipe value (repeatable), a dotted path read as YAML: --set train.steps=20 --set model.hidden=64")
    java.util.List<String> sets = new java.util.ArrayList<>();

    @Option(names = "--overwrite", description = "Move the contents of a used --run-dir aside (to DIR.replaced-TIMESTAMP) and start afresh")
    boolean overwrite;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        Recipe recipe = Recipe.load(recipeFile);
        if (!sets.isEmpty()) {
            // Dotted paths into the recipe, values read as YAML; the result is checked as a recipe file is.
            recipe = Recipe.parse(recipe.with(DecoderSpecs.parse(sets, recipe.asMap(), "--set "), java.util.Set.of()).toYaml(),
                    recipe.source() + " with --set " + String.join(" ", sets));
        }
        if (resume && runDir == null) {
            throw new IllegalArgumentException("--resume needs --run-dir DIR naming the run to continue");
        }
        if (resume && overwrite) {
            throw new IllegalArgumentException("--resume and --overwrite exclude each other: continue the run or replace it");
        }
        if (resume && dev.manyfold.runtime.job.StagedJob.isStaged(recipe)) {
            throw new IllegalArgumentException("--resume is not supported for a recipe with stages; start a new --run-dir");
        }
        Path dir = runDir != null ? runDir
                : Path.of("runs", recipe.name() + "-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        RunDirectory.Mode mode = resume ? RunDirectory.Mode.RESUME : overwrite ? RunDirectory.Mode.OVERWRITE : RunDirectory.Mode.NEW;
        try (RunDirectory run = RunDirectory.open(dir, mode, recipe)) {
            run.movedAside().ifPresent(aside -> out.printf("moved the previous contents of %s to %s%n", dir, aside));
            return dev.manyfold.runtime.job.StagedJob.isStaged(recipe) ? staged(recipe, dir, out) : single(recipe, dir, out);
        }
    }

    private Integer single(Recipe recipe, Path dir, PrintWriter out) {
        try (Manyfold host = main.host(); Run prepared = TrainJob.prepare(host, recipe, out, dir)) {
            out.println("pytorch: " + trainingThreads(prepared));
            Trainer.Summary s = TrainJob.train(prepared, dir, resume, out, Progress.isTerminal());
            out.printf(Locale.ROOT, "done: %d steps in %.1f s (%.0f %s/s), final train loss %.4f%n", s.steps(), s.seconds(),
                    s.itemsPerSecond(), prepared.data().isText() ? "tokens" : "examples", s.finalLoss());
            for (Evaluator.Result r : s.eval()) {
                out.printf(Locale.ROOT, "eval %s: loss %.4f, accuracy %.2f%%, %,d parameters%n", r.subModel(), r.loss(),
                        100 * r.accuracy(), r.parameters());
            }
            prepared.data().unigramEntropy().ifPresent(h -> out.printf(Locale.ROOT,
                    "baseline: unigram cross-entropy of the validation tokens %.4f nats/token%n", h));
            if (!prepared.components().dimensions().isEmpty()) {
                subModelTable(prepared, dir, out);
            }
            out.printf("checkpoint: %s%nrun directory: %s%n", s.checkpoint(), dir);
            return 0;
        }
    }

    /** Sets PyTorch's intra-op threads for training {@code p}'s model, by its F32 size; returns how many and why. */
    static String trainingThreads(Run p) {
        return dev.manyfold.runtime.onnx.Engines.pytorchTrainingThreads(4 * p.model().parameterCount(dev.manyfold.api.SubModel.FULL));
    }

    /** Validation batches the sub-model table is computed on (as {@code manyfold eval}'s default). */
    static final int TABLE_BATCHES = 50;
    /** Rows of the table printed (the largest and the cheapest halves); eval.csv has them all. */
    static final int TABLE_ROWS = 12;

    /**
     * The many-in-one result of a run with dimensions: every targeted sub-model evaluated (as
     * {@code manyfold eval} does), an excerpt of the table printed, eval.csv and eval.png written
     * into the run directory.
     */
    private static void subModelTable(Run p, Path dir, PrintWriter out) {
        java.util.List<dev.manyfold.api.SubModel> lattice = TrainJob.lattice(p);
        var batches = p.data().validation(TABLE_BATCHES);
        var report = dev.manyfold.runtime.eval.EvalReport.evaluate(p.model(), batches, lattice,
                p.data().isText() ? dev.manyfold.runtime.eval.EvalReport.Task.LANGUAGE_MODEL : dev.manyfold.runtime.eval.EvalReport.Task.CLASSIFICATION);
        out.printf(Locale.ROOT, "%nsub-models: %d in one set of weights, evaluated on %d validation batches%n", lattice.size(), batches.size());
        report.printTable(out, TABLE_ROWS);
        java.util.List<Path> written = report.write(dir);
        out.printf("table: %s%nplot: %s%n", written.get(0), written.get(written.size() - 1));
    }

    /** A recipe with {@code stages}: every stage in order (see {@link dev.manyfold.runtime.job.StagedJob}). */
    private Integer staged(Recipe recipe, Path dir, PrintWriter out) {
        try (Manyfold host = main.host()) {
            var results = dev.manyfold.runtime.job.StagedJob.run(host, recipe, dir, out, Progress.isTerminal(),
                    p -> out.println("pytorch: " + trainingThreads(p)));
            for (var r : results) {
                for (Evaluator.Result e : r.summary().eval()) {
                    out.printf(Locale.ROOT, "stage %s: eval %s: loss %.4f, accuracy %.2f%%, %,d parameters%n", r.name(), e.subModel(),
                            e.loss(), 100 * e.accuracy(), e.parameters());
                }
            }
            out.printf("checkpoint: %s%nrun directory: %s%n", results.get(results.size() - 1).summary().checkpoint(), dir);
            return 0;
        }
    }
}
