package dev.manyfold.runtime.cli;

import ai.djl.ndarray.NDManager;
import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.checkpoint.Checkpoint;
import dev.manyfold.runtime.checkpoint.SafeTensors;
import dev.manyfold.runtime.checkpoint.Tensor;
import dev.manyfold.runtime.host.Manyfold;
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

@Command(name = "export", description = "Cut a sub-model out of a run as a standalone, smaller safetensors checkpoint.")
final class ExportCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "RUN_OR_CHECKPOINT", description = "A run directory (latest checkpoint) or a checkpoint file")
    Path path;

    @Option(names = "--sub-model", paramLabel = "DIM=B,...", description = "Budgets, e.g. depth=2,width=64 (default: the full model)")
    String subModel;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "FILE", description = "Output .safetensors file")
    Path out;

    @Override
    public Integer call() {
        PrintWriter w = spec.commandLine().getOut();
        SubModel sub = parse(subModel);
        try (Manyfold host = main.host(); TrainJob.Prepared p = TrainJob.load(host, path, w);
                NDManager manager = p.model().parameters().manager().newSubManager()) {
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
