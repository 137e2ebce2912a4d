package dev.manyfold.runtime.job;

import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.runtime.cli.Main;
import dev.manyfold.runtime.eval.PluginJar;
import dev.manyfold.runtime.train.TrainConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every command builds one {@link Run}: the train section parsed once, each plugin section's
 * factory called once, the recipe's decoder created once per {@code generate}.
 */
class RunBuiltOnceTest {
    @TempDir
    Path dir;

    private Path counts;
    private Path plugins;

    @BeforeEach
    void countingPlugin() {
        counts = dir.resolve("counts.txt");
        System.setProperty(CountingPlugin.COUNTS, counts.toString());
        plugins = PluginJar.write(dir.resolve("plugins"), "counting", CountingPlugin.class);
    }

    @AfterEach
    void clear() {
        System.clearProperty(CountingPlugin.COUNTS);
    }

    private record Command(int exit, String out, String err, Map<String, Long> creates, long trainParses) {}

    private Command run(String... args) throws IOException {
        Files.deleteIfExists(counts);
        long before = TrainConfig.parses();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        String[] all = new String[args.length + 2];
        all[0] = "--plugins";
        all[1] = plugins.toString();
        System.arraycopy(args, 0, all, 2, args.length);
        int exit = Main.execute(all, new PrintWriter(out, true), new PrintWriter(err, true));
        List<String> lines = Files.exists(counts) ? Files.readAllLines(counts) : List.of();
        return new Command(exit, out.toString(), err.toString(),
                lines.stream().collect(Collectors.groupingBy(Function.identity(), Collectors.counting())), TrainConfig.parses() - before);
    }

    @Test
    void trainGenerateEvalAndValidateEachParseTheRecipeOnceAndCreateEachPluginSectionOnce() throws IOException {
        Path recipe = Files.writeString(dir.resolve("tiny.yaml"), """
                name: tiny
                model: { family: llama, dim: 16, layers: 2, heads: 2, ffn: 24 }
                data: { type: text, context: 16, limit: 300 }
                dimensions: { depth: { budgets: [1, 2] } }
                decode: { type: counting }
                train: { steps: 2, batch: 4, seed: 3 }
                """);
        Path runDir = dir.resolve("run");

        Command train = run("train", recipe.toString(), "--run-dir", runDir.toString());
        assertThat(train.exit()).as(train.err()).isZero();
        assertThat(train.creates()).as("train").containsExactlyInAnyOrderEntriesOf(Map.of("dimension", 1L, "decoder", 1L));
        assertThat(train.trainParses()).as("train sections parsed by train").isEqualTo(1);

        Command generate = run("generate", runDir.toString(), "--prompt", "ab", "--max-new-tokens", "2");
        assertThat(generate.exit()).as(generate.err()).isZero();
        assertThat(generate.out()).contains("decoder counting: 0 new tokens");
        assertThat(generate.creates()).as("generate").containsExactlyInAnyOrderEntriesOf(Map.of("dimension", 1L, "decoder", 1L));
        assertThat(generate.trainParses()).as("train sections parsed by generate").isEqualTo(1);

        Command eval = run("eval", runDir.toString(), "--batches", "1", "--no-exits");
        assertThat(eval.exit()).as(eval.err()).isZero();
        assertThat(eval.creates()).as("eval").containsExactlyInAnyOrderEntriesOf(Map.of("dimension", 1L, "decoder", 1L));
        assertThat(eval.trainParses()).as("train sections parsed by eval").isEqualTo(1);

        Command validate = run("validate", recipe.toString());
        assertThat(validate.exit()).as(validate.err()).isZero();
        assertThat(validate.creates()).as("validate").containsExactlyInAnyOrderEntriesOf(Map.of("dimension", 1L, "decoder", 1L));
        assertThat(validate.trainParses()).as("train sections parsed by validate").isEqualTo(1);

        Command sites = run("sites", recipe.toString());
        assertThat(sites.exit()).as(sites.err()).isZero();
        assertThat(sites.creates()).as("sites").containsExactlyInAnyOrderEntriesOf(Map.of("dimension", 1L, "decoder", 1L));
        assertThat(sites.trainParses()).as("train sections parsed by sites").isEqualTo(1);
    }
}
