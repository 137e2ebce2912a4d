package dev.manyfold.runtime.cli;

import dev.manyfold.runtime.host.HostContext;
import dev.manyfold.runtime.job.StagedJob;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.recipe.Recipe;
import dev.manyfold.runtime.recipe.RecipeValidator;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "validate", description = "Check a recipe against the loaded plugins without running it.")
final class ValidateCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "RECIPE", description = "YAML recipe file")
    Path recipeFile;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        Recipe recipe = Recipe.load(recipeFile);
        try (Manyfold host = main.host()) {
            // Exactly the checks train makes before its first step (data sources and model shape included).
            Path work = TrainJob.scratchDir();
            List<String> stages = StagedJob.isStaged(recipe) ? StagedJob.validate(host, recipe, work) : List.of();
            TrainJob.Checked checked = StagedJob.isStaged(recipe) ? null : TrainJob.check(host, recipe, work);
            RecipeValidator.Components c = checked != null ? checked.components()
                    : new RecipeValidator(host.extensions()).validate(recipe, new HostContext(42, Optional.empty(), work, line -> {},
                            recipe.asMap()));
            out.printf("recipe %s is valid%n", recipe.name());
            out.printf("  dimensions: %s%n", c.dimensions().isEmpty() ? "none (full model only)" : c.dimensions().keySet());
            out.printf("  objective:  %s%n", recipe.optionalSection("objective").map(s -> s.getString("type")).orElse("default"));
            out.printf("  adapters:   %d, masks: %d, decoder: %s%n", c.adapters().size(), c.masks().size(),
                    recipe.optionalSection("decode").map(s -> s.getString("type")).orElse("none"));
            if (checked != null) {
                out.printf(java.util.Locale.ROOT, "  model:      %s, %,d parameters%n", checked.shape().family(), checked.parameters());
            }
            c.train().ifPresent(t -> out.printf("  train:      %d steps, batch %d, lr %s, seed %d%n", t.steps(), t.batch(), t.lr(), t.seed()));
            if (!stages.isEmpty()) {
                out.printf("  stages:     %s%n", String.join(" -> ", stages));
            }
            return 0;
        }
    }
}
