package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The bundle's {@code bin/manyfold}, run as a separate process. Exit codes: 0 ok, 2 bad input, 3 not available. */
class CliTest {
    @TempDir
    Path tmp;

    private Path pluginRootWithGoodAndRefusedPlugins() {
        PluginJars jars = new PluginJars(tmp.resolve("build"));
        Path root = tmp.resolve("plugins");
        jars.plugin("good").sources(PluginJars.dimensionPlugin("good", "GoodPlugin", "good", "good")).writeTo(root);
        jars.plugin("future-api").descriptor("api-version", "[2.0,3.0)")
                .sources(PluginJars.dimensionPlugin("future", "FuturePlugin", "future", "future")).writeTo(root);
        jars.plugin("throws-on-start").source("boom.BoomPlugin", """
                package boom;

                public final class BoomPlugin implements dev.manyfold.api.Plugin {
                    public BoomPlugin() {
                        throw new IllegalStateException("CUDA driver not found");
                    }
                }
                """).writeTo(root);
        return root;
    }

    private static String line(String output, String prefix) {
        return output.lines().map(String::strip).filter(l -> l.startsWith(prefix)).findFirst()
                .orElseThrow(() -> new AssertionError("no line starting with \"" + prefix + "\" in:\n" + output));
    }

    // ---- manyfold plugins ---------------------------------------------------------------

    @Test
    void pluginsListsTheBundledSortedPluginWithVersionApiRangeOriginStatusAndDimensions() throws IOException {
        Properties descriptor = Bundle.pluginDescriptor("sorted");

        Cli.Result r = Cli.run("plugins");

        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).as(r.describe())
                .contains("sorted " + descriptor.getProperty("version") + "\n")
                .contains("  api:    " + descriptor.getProperty("api-version") + "\n")
                .contains("  status: loaded\n")
                .contains("  dimensions:   depth, width, ffn, heads, embedding\n")
                .contains("core " + descriptor.getProperty("version") + "\n")
                .contains("  objectives:   standard, last-token\n")
                .contains("dsee " + descriptor.getProperty("version") + "\n")
                .contains("  adapters:     dsee, lora\n")
                .contains("ast " + descriptor.getProperty("version") + "\n")
                .contains("  decoders:     greedy, self-speculative, early-exit\n")
                .contains("5 plugin(s) loaded, 0 refused");
        String sortedBlock = r.out().substring(r.out().indexOf("sorted "));
        Path from = Path.of(line(sortedBlock, "from:").substring("from:".length()).strip());
        assertThat(from.toRealPath()).isEqualTo(Bundle.plugins().resolve("sorted").toRealPath());
    }

    @Test
    void pluginsWithAPluginRootListsLoadedAndRefusedPluginsWithTheReason() {
        Path root = pluginRootWithGoodAndRefusedPlugins();

        Cli.Result r = Cli.run("--plugins", root.toString(), "plugins");

        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).as(r.describe())
                .contains("good 1.0.0\n  about:  test plugin good\n  api:    [1.0,2.0)\n  from:   " + root.resolve("good")
                        + "\n  status: loaded\n  dimensions:   good\n")
                .contains("future-api 1.0.0\n  about:  test plugin future-api\n  api:    [2.0,3.0)\n  from:   " + root.resolve("future-api") + "\n"
                        + "  status: refused: plugin [future-api] requires API version [2.0,3.0) but this host provides 1.1.0\n")
                .contains("  status: refused: plugin [throws-on-start] failed to start: IllegalStateException: CUDA driver not found\n")
                .contains("2 plugin(s) loaded, 2 refused");
        // a root given with --plugins replaces the bundle's default plugins/ directory
        assertThat(r.out()).doesNotContain("sorted ");
    }

    @Test
    void pluginsWithSeveralRootsLoadsFromEach() {
        Path root = pluginRootWithGoodAndRefusedPlugins();

        Cli.Result r = Cli.run("--plugins", Bundle.plugins().toString(), "--plugins", root.toString(), "plugins");

        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).as(r.describe()).contains("  dimensions:   depth, width, ffn, heads, embedding\n")
                .contains("  dimensions:   good\n").contains("6 plugin(s) loaded, 2 refused");
    }

    // ---- manyfold validate --------------------------------------------------------------

    @Test
    void validateAcceptsEveryExampleRecipe() {
        for (Path example : Bundle.examples()) {
            Cli.Result r = Cli.run("validate", example.toString());

            assertThat(r.exit()).as(r.describe()).isZero();
            assertThat(r.out()).as(r.describe()).containsPattern("recipe \\S+ is valid");
            assertThat(r.err()).as(r.describe()).doesNotContain("error");
        }
    }

    @Test
    void validateReportsTheDimensionsOfTheSortedExample() {
        Path sorted = Bundle.examples().stream().filter(p -> p.getFileName().toString().startsWith("sorted-")).findFirst()
                .orElseThrow(() -> new AssertionError("no sorted-*.yaml example in " + Bundle.examples()));

        Cli.Result r = Cli.run("validate", sorted.toString());

        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).as(r.describe()).contains("dimensions: [width, depth]");
    }

    // ---- manyfold train (the README's first command, bounded) -------------------------------

    @Test
    void trainOfTheSortedExamplePrintsItsSubModelTableAndThePlotPath() {
        Path sorted = Bundle.examples().stream().filter(p -> p.getFileName().toString().equals("sorted-mlp-fashion-mnist.yaml"))
                .findFirst().orElseThrow(() -> new AssertionError("no sorted-mlp-fashion-mnist.yaml in " + Bundle.examples()));
        Path run = tmp.resolve("sorted-run");

        // the README's command with --set overrides that keep it to seconds: 3 widths x 4 depths, a few steps on 1000 examples
        Cli.Result r = Cli.run("train", sorted.toString(), "--run-dir", run.toString(), "--set", "train.steps=4",
                "--set", "train.eval-every=0", "--set", "train.warmup=0", "--set", "data.limit=1000", "--set", "dimensions.width.range.step=112");

        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).as(r.describe()).contains("pytorch: 1 intra-op thread (default for training 1.9 MB of F32 weights, at most 33.6 MB)")
                .contains("sub-models: 12 in one set of weights")
                .containsPattern("(?m)^sub-model +parameters +FLOPs/example +loss +accuracy +% of full$")
                .containsPattern("(?m)^full +[0-9,]+ ")
                .containsPattern("(?m)^depth=1,width=32 +[0-9,]+ ")
                .contains("table: " + run.resolve("eval.csv"))
                .contains("plot: " + run.resolve("eval.png"));
        assertThat(run.resolve("eval.png")).isNotEmptyFile();
        assertThat(run.resolve("eval.csv")).content().hasLineCount(13);
        assertThat(run.resolve("recipe.yaml")).content().contains("steps: 4");
    }

    @Test
    void trainRefusesASetOverrideThatIsNotKeyEqualsValue() {
        Cli.Result r = Cli.run("train", Bundle.examples().get(0).toString(), "--run-dir", tmp.resolve("x").toString(), "--set", "train.steps");

        assertThat(r.exit()).as(r.describe()).isEqualTo(2);
        assertThat(r.err()).as(r.describe()).contains("--set train.steps: expected KEY=VALUE");
    }

    static Stream<Arguments> badRecipes() {
        return Stream.of(
                Arguments.of("unknown dimension", "dimensions: {dept: {budgets: [1]}}\n",
                        "error: dimensions.dept: unknown dimension \"dept\" (did you mean \"depth\"?)"),
                Arguments.of("unknown key in a plugin section", "dimensions: {depth: {budgets: [1, 2], budget: 3}}\n",
                        "error: dimensions.depth.budget: unknown key (did you mean \"budgets\"?)"),
                Arguments.of("unknown key in a nested plugin section",
                        "dimensions: {width: {range: {from: 8, to: 64, stpe: 8}}}\n",
                        "error: dimensions.width.range.stpe: unknown key (did you mean \"step\"?)"),
                Arguments.of("value the plugin refuses", "dimensions: {width: {budgets: [1], fractions: [0.5]}}\n",
                        "error: dimensions.width: more than one budget form given"),
                Arguments.of("wrong value type", "train: {steps: many}\n",
                        "error: train.steps: expected an integer, got string \"many\""),
                Arguments.of("missing required key", "train: {batch: 4}\n",
                        "error: train.steps: required key is missing"),
                Arguments.of("missing type in a list section", "adapters: [{rank: 4}]\n",
                        "error: adapters[0].type: required key is missing"),
                Arguments.of("unknown section", "model: {family: mlp}\ndimension: {depth: {budgets: [1]}}\n",
                        "error: dimension: unknown recipe section (did you mean \"dimensions\"?)"),
                Arguments.of("bad ratio in a later stage's prune step",
                        "model: {family: mlp}\ntrain: {steps: 10}\nstages: [{name: tune}, {name: recover, prune: {type: dsee-prune, adapted: 1.5}}]\n",
                        "error: stages[1].prune.adapted: pruning ratio 1.5 is outside [0, 1)"),
                Arguments.of("bad train key in a stage", "model: {family: mlp}\ntrain: {steps: 10}\nstages: [{name: tune, train: {lr: -1}}]\n",
                        "error: stages[0].train.lr"),
                Arguments.of("YAML syntax error", "model: {family: mlp}\ntrain:\n  steps: [1, 2\n  batch: 4\n",
                        "not valid YAML at line"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badRecipes")
    void validateRefusesABadRecipeWithExitCode2AndTheRecipePath(String what, String yaml, String expected) throws IOException {
        Path recipe = Files.writeString(tmp.resolve("bad.yaml"), yaml);

        Cli.Result r = Cli.run("validate", recipe.toString());

        assertThat(r.exit()).as(r.describe()).isEqualTo(2);
        assertThat(r.err()).as(r.describe()).contains(expected);
        assertThat(r.out()).as(r.describe()).doesNotContain("is valid");
    }

    @Test
    void validateOfAMissingFileExitsWithBadInputNamingTheFile() {
        Path missing = tmp.resolve("nope.yaml");

        Cli.Result r = Cli.run("validate", missing.toString());

        assertThat(r.exit()).as(r.describe()).isEqualTo(2);
        assertThat(r.err()).as(r.describe()).contains("error: " + missing + ": recipe file not found");
    }

    @Test
    void validateStillWorksWhenAPluginInTheRootIsRefused() {
        Path root = pluginRootWithGoodAndRefusedPlugins();
        Path example = Bundle.examples().get(0);

        Cli.Result r = Cli.run("--plugins", Bundle.plugins().toString(), "--plugins", root.toString(), "validate", example.toString());

        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).as(r.describe()).contains("is valid");
    }

    @Test
    void helpListsEveryCommand() {
        Cli.Result r = Cli.run("--help");

        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).as(r.describe()).contains("plugins", "validate", "train", "eval", "generate", "bench", "export");
    }

    @Test
    void unknownCommandIsBadInput() {
        Cli.Result r = Cli.run("trian");

        assertThat(r.exit()).as(r.describe()).isEqualTo(2);
        assertThat(r.err()).as(r.describe()).contains("trian");
    }
}
