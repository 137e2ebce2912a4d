package dev.manyfold.runtime.cli;

import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.train.Evaluator;
import dev.manyfold.runtime.train.HostBatch;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "eval", description = "Evaluate a run or checkpoint: the full model and every targeted sub-model.")
final class EvalCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "RUN_OR_CHECKPOINT", description = "A run directory (latest checkpoint) or a .safetensors checkpoint")
    Path path;

    @Option(names = "--batches", description = "Validation batches to use (default ${DEFAULT-VALUE})", defaultValue = "50")
    int batches;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        try (Manyfold host = main.host(); TrainJob.Prepared p = TrainJob.load(host, path, out)) {
            List<HostBatch> data = p.data().validation(batches);
            List<SubModel> subModels = TrainJob.lattice(p);
            out.printf(Locale.ROOT, "%-28s %12s %14s %9s %9s %8s%n", "sub-model", "parameters", "FLOPs", "loss", "accuracy", "% full");
            Evaluator.Result full = null;
            for (SubModel sub : subModels) {
                Evaluator.Result r = Evaluator.evaluate(p.model(), data, sub, p.model().parameters().manager());
                if (full == null) {
                    full = r;
                }
                out.printf(Locale.ROOT, "%-28s %,12d %,14d %9.4f %8.2f%% %7.1f%%%n", sub, r.parameters(), r.flops(), r.loss(),
                        100 * r.accuracy(), 100 * r.accuracy() / Math.max(1e-12, full.accuracy()));
            }
            return 0;
        }
    }
}
