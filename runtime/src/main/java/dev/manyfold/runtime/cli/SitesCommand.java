package dev.manyfold.runtime.cli;

import dev.manyfold.api.Globs;
import dev.manyfold.api.Settings;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.model.LinearSite;
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
                + "which masks[i] / adapters[i] target each. Builds the model (no training).")
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
        try (Manyfold host = main.host(); TrainJob.Prepared p = TrainJob.prepare(host, recipe, new PrintWriter(PrintWriter.nullWriter()))) {
            List<Settings> masks = recipe.sections("masks");
            List<Settings> adapters = recipe.sections("adapters");
            out.printf(Locale.ROOT, "%s model of %s: %d linear sites%n", p.model().family(), recipe.name(), p.model().sites().size());
            for (LinearSite site : p.model().sites().values()) {
                List<String> by = new ArrayList<>();
                for (int i = 0; i < masks.size(); i++) {
                    if (Globs.matches(p.components().masks().get(i).targets(), site.name())) {
                        by.add("masks[" + i + "]");
                    }
                }
                for (int i = 0; i < adapters.size(); i++) {
                    if (Globs.matches(p.components().adapters().get(i).targets(), site.name())) {
                        by.add("adapters[" + i + "]");
                    }
                }
                out.printf(Locale.ROOT, "  %-28s [%d, %d]%s%n", site.name(), site.outFeatures(), site.inFeatures(),
                        by.isEmpty() ? "" : "  " + String.join(", ", by));
            }
            return 0;
        }
    }
}
