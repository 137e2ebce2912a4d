package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The example third-party plugin (examples/plugin-label-smoothing, its own pom, compiled
 * against manyfold-api only) dropped into a plugin directory: the unchanged CLI lists it and
 * trains with its objective, and the exit it declares becomes a trained exit that an early-exit
 * decoder accepts.
 */
class ExamplePluginTest {
    private static final String RECIPE = """
            name: smoothing
            model: { family: llama, dim: 32, layers: 4, heads: 2, ffn: 64 }
            data: { type: text, context: 32, files: [computers] }
            objective: { type: label-smoothing, epsilon: 0.1, exits: [2] }
            train: { steps: 4, batch: 4, lr: 3e-3, seed: 3, log-every: 2 }
            """;

    private static Path pluginRoot(Path dir) throws IOException {
        Path jar = Path.of(System.getProperty("manyfold.example.plugin"));
        assertThat(jar).as("build the example plugin first (mvn package from the root)").isRegularFile();
        Path plugin = Files.createDirectories(dir.resolve("plugins").resolve("label-smoothing"));
        Files.copy(jar, plugin.resolve(jar.getFileName()));
        return dir.resolve("plugins");
    }

    @Test
    void theExamplePluginLoadsFromAPluginDirectoryTrainsAndItsExitIsATrainedExit(@TempDir Path dir) throws IOException {
        Path root = pluginRoot(dir);
        Path bundled = Bundle.home().resolve("plugins");
        Cli.Result plugins = Cli.run("--plugins", bundled.toString(), "--plugins", root.toString(), "plugins");
        assertThat(plugins.exit()).as(plugins.describe()).isZero();
        assertThat(plugins.out()).contains("label-smoothing").contains("Label-smoothing cross-entropy objective");

        Path recipe = Files.writeString(dir.resolve("smoothing.yaml"), RECIPE);
        Path run = dir.resolve("run");
        Cli.Result train = Cli.run("--plugins", bundled.toString(), "--plugins", root.toString(), "train", recipe.toString(),
                "--run-dir", run.toString());
        assertThat(train.exit()).as(train.describe()).isZero();

        // Exit 2 was declared by the objective (no depth dimension in the recipe): the early-exit decoder accepts it.
        Cli.Result generate = Cli.run("--plugins", bundled.toString(), "--plugins", root.toString(), "generate", run.toString(),
                "--decoder", "early-exit", "--set", "thresholds={2: 0.5}", "--prompt", "The", "--max-new-tokens", "4");
        assertThat(generate.exit()).as(generate.describe()).isZero();
        assertThat(generate.out()).contains("mean-exit-depth");
        Cli.Result refused = Cli.run("--plugins", bundled.toString(), "--plugins", root.toString(), "generate", run.toString(),
                "--decoder", "early-exit", "--set", "thresholds={3: 0.5}", "--prompt", "The", "--max-new-tokens", "4");
        assertThat(refused.exit()).as(refused.describe()).isEqualTo(2);
        assertThat(refused.err()).contains("decode.thresholds.3").contains("not a trained exit").contains("[2, 4]");
        assertThat(refused.out()).doesNotContain("The"); // refused before the prompt was printed
    }

    /** A plugin compiled against the API 1.0 jar (the compatibility gate's baseline) loads into this 1.1 host and trains. */
    @Test
    void aPluginCompiledAgainstApi10LoadsAndTrainsUnchanged(@TempDir Path dir) throws IOException {
        Path api10 = Path.of(System.getProperty("manyfold.api10"));
        java.util.List<Path> classpath = new java.util.ArrayList<>(Bundle.apiClasspath());
        classpath.set(0, api10); // the 1.0 API instead of the bundle's 1.1 jar; DJL's API stays
        PluginJars jars = new PluginJars(dir.resolve("build"), classpath);
        jars.plugin("old-objective").sources(java.util.Map.of("old.OldPlugin", """
                package old;
                import dev.manyfold.api.*;
                import dev.manyfold.api.objective.*;
                import java.util.List;
                public final class OldPlugin implements Plugin {
                    @Override public List<ObjectiveFactory> objectives() {
                        return List.of(new ObjectiveFactory() {
                            @Override public String name() { return "old-ce"; }
                            @Override public Objective create(Settings s, Context c) {
                                return (model, batch, step, random) -> Losses.crossEntropy(
                                        model.forward(batch.inputs(), SubModel.FULL), batch.labels());
                            }
                        });
                    }
                }
                """)).writeTo(dir.resolve("plugins"));
        Path recipe = Files.writeString(dir.resolve("old.yaml"), RECIPE.replace("{ type: label-smoothing, epsilon: 0.1, exits: [2] }",
                "{ type: old-ce }"));
        Path bundled = Bundle.home().resolve("plugins");
        Cli.Result train = Cli.run("--plugins", bundled.toString(), "--plugins", dir.resolve("plugins").toString(), "train",
                recipe.toString(), "--run-dir", dir.resolve("run").toString());
        assertThat(train.exit()).as(train.describe()).isZero();
    }
}
