package dev.manyfold.runtime.cli;

import dev.manyfold.api.Globs;
import dev.manyfold.api.Settings;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.recipe.Recipe;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * Lists the linear sites of a recipe's model, the names that {@code targets} globs of masks
 * and adapters match, with their {@code [out, in]} shapes and which recipe sections target
 * each one.
 */
@Command(name = "sites", mixinStandardHelpOptions = true,
        description = "List the linear sites of a recipe's model (the names masks: and adapters: targets match), their [out, in] shapes and "
                + "which masks[i] / adapters[i] target each. Builds the model's shape only (no weights, no data read).")
final class SitesCommand implements Callable<Integer> {
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
            // The weightless shape model and the plugin sections, as validate checks them: no weights, no data read.
            TrainJob.Checked checked = TrainJob.check(host, recipe, TrainJob.scratchDir());
            dev.manyfold.api.ModelShape shape = checked.shape();
            List<Settings> masks = recipe.sections("masks");
            List<Settings> adapters = recipe.sections("adapters");
            out.printf(Locale.ROOT, "%s model of %s: %d linear sites%n", shape.family(), recipe.name(), shape.sites().size());
            for (String site : shape.sites()) {
                List<String> by = new ArrayList<>();
                for (int i = 0; i < masks.size(); i++) {
                    if (Globs.matches(checked.components().masks().get(i).targets(), site)) {
                        by.add("masks[" + i + "]");
                    }
                }
                for (int i = 0; i < adapters.size(); i++) {
                    if (Globs.matches(checked.components().adapters().get(i).targets(), site)) {
                        by.add("adapters[" + i + "]");
                    }
                }
                int[] dims = shape.siteShape(site);
                out.printf(Locale.ROOT, "  %-28s [%d, %d]%s%n", site, dims[0], dims[1], by.isEmpty() ? "" : "  " + String.join(", ", by));
            }
            return 0;
        }
    }
}
