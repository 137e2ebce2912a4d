package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.runtime.checkpoint.Checkpoint;
import dev.manyfold.runtime.checkpoint.DType;
import dev.manyfold.runtime.checkpoint.SafeTensors;
import dev.manyfold.runtime.checkpoint.Tensor;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Run directories, checkpoints, plugins and exit codes through the bundle's launcher, as a
 * careless user or a second process would hit them: every case exits 2 with a message naming
 * what and where, prints no stack trace, and loses nothing.
 */
class ReliabilityCliTest {
    private static final String RECIPE = """
            name: rel-mlp
            model: { family: mlp, hidden: 16, blocks: 2 }
            data: { type: fashion-mnist, limit: 300 }
            train: { steps: 4, batch: 16, seed: 5, checkpoint-every: 1, log-every: 1 }
            """;

    @TempDir
    static Path dir;

    static Path recipe;
    static Path run;

    @BeforeAll
    static void trainOnce() throws IOException {
        recipe = Files.writeString(dir.resolve("rel.yaml"), RECIPE);
        run = dir.resolve("run");
        Cli.Result r = Cli.run("train", recipe.toString(), "--run-dir", run.toString());
        assertThat(r.exit()).as(r.describe()).isZero();
    }

    private static void assertRefused(Cli.Result r, String... mentions) {
        assertThat(r.exit()).as(r.describe()).isEqualTo(2);
        String error = r.err().lines().filter(l -> l.startsWith("error: ")).findFirst().orElse("<no error line>");
        assertThat(error).as(r.describe()).contains(mentions);
        assertThat(r.err()).as(r.describe()).doesNotContain("\tat ").doesNotContain("Exception in");
    }

    private static Path copyRun(String name) throws IOException {
        Path copy = Files.createDirectories(dir.resolve(name));
        try (Stream<Path> files = Files.list(run)) {
            for (Path f : files.toList()) {
                if (!f.getFileName().toString().equals(".lock")) {
                    Files.copy(f, copy.resolve(f.getFileName()));
                }
            }
        }
        return copy;
    }

    @Test
    void aSecondTrainOnADirectoryInUseIsRefusedWithTheHoldersPidAndTheLockDiesWithAKill() throws Exception {
        Path busy = dir.resolve("busy");
        Path slow = Files.writeString(dir.resolve("slow.yaml"), RECIPE.replace("steps: 4", "steps: 100000"));
        List<String> command = new ArrayList<>(List.of(Bundle.launcher().toString(), "train", slow.toString(), "--run-dir", busy.toString()));
        Process holder = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
            String line;
            do {
                line = out.readLine();
            } while (line != null && !line.contains("step 1/"));
            assertThat(line).as("the first run started training").isNotNull();

            assertRefused(Cli.run("train", slow.toString(), "--run-dir", busy.toString()), "in use by process " + holder.pid());
            assertRefused(Cli.run("train", slow.toString(), "--run-dir", busy.toString(), "--resume"), "in use by process " + holder.pid());

            holder.destroyForcibly(); // kill -9
            assertThat(holder.waitFor(60, TimeUnit.SECONDS)).isTrue();
            // no stale lock: the next command gets past the lock to the recipe check
            assertRefused(Cli.run("train", recipe.toString(), "--run-dir", busy.toString(), "--resume"), "differs", "train.steps was 100000, now 4");
        } finally {
            holder.destroyForcibly();
        }
    }

    @Test
    void trainIntoAUsedDirectoryIsRefusedAndOverwriteMovesTheOldRunAside() throws IOException {
        Path used = copyRun("used");
        byte[] metrics = Files.readAllBytes(used.resolve("metrics.jsonl"));
        assertRefused(Cli.run("train", recipe.toString(), "--run-dir", used.toString()), "already holds a run", "--resume", "--overwrite");
        assertThat(Files.readAllBytes(used.resolve("metrics.jsonl"))).isEqualTo(metrics);

        Cli.Result over = Cli.run("train", recipe.toString(), "--run-dir", used.toString(), "--overwrite");
        assertThat(over.exit()).as(over.describe()).isZero();
        assertThat(over.out()).contains("moved the previous contents of " + used);
        try (Stream<Path> siblings = Files.list(dir)) {
            Path aside = siblings.filter(p -> p.getFileName().toString().startsWith("used.replaced-")).findFirst().orElseThrow();
            assertThat(Files.readAllBytes(aside.resolve("metrics.jsonl"))).isEqualTo(metrics);
        }
        assertThat(Files.readAllLines(used.resolve("metrics.jsonl"))).filteredOn(l -> !l.contains("eval")).hasSize(4);
    }

    @Test
    void resumeWithAChangedRecipeIsRefusedBeforeAnythingIsWritten() throws IOException {
        Path copy = copyRun("changed");
        byte[] stored = Files.readAllBytes(copy.resolve("recipe.yaml"));
        Path changed = Files.writeString(dir.resolve("changed.yaml"), RECIPE.replace("seed: 5", "seed: 6"));
        assertRefused(Cli.run("train", changed.toString(), "--run-dir", copy.toString(), "--resume"), "train.seed was 5, now 6");
        assertThat(Files.readAllBytes(copy.resolve("recipe.yaml"))).isEqualTo(stored);
    }

    @Test
    void exportMayNotReplaceARunsCheckpointPointerOrRecipe() throws IOException {
        Path copy = copyRun("export");
        byte[] checkpoint = Files.readAllBytes(copy.resolve("checkpoint-4.safetensors"));
        for (String name : List.of("checkpoint-4.safetensors", "latest", "recipe.yaml")) {
            assertRefused(Cli.run("export", copy.toString(), "-o", copy.resolve(name).toString()), "--out", "would replace a file of the run");
        }
        assertThat(Files.readAllBytes(copy.resolve("checkpoint-4.safetensors"))).isEqualTo(checkpoint);
    }

    /** The run's latest checkpoint rewritten with one change. */
    private static Path altered(String name, java.util.function.BiConsumer<Map<String, Tensor>, Map<String, String>> change) throws IOException {
        Path copy = copyRun(name);
        Path file = copy.resolve("checkpoint-4.safetensors");
        Checkpoint c = Checkpoint.load(file);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        c.tensors().forEach((n, t) -> tensors.put(n, Tensor.of(n, t.dtype(), t.shape(), copyOf(t.data()))));
        Map<String, String> metadata = new LinkedHashMap<>(c.metadata());
        change.accept(tensors, metadata);
        SafeTensors.write(file, tensors, metadata);
        return copy;
    }

    private static byte[] copyOf(ByteBuffer b) {
        byte[] bytes = new byte[b.remaining()];
        b.duplicate().get(bytes);
        return bytes;
    }

    @Test
    void checkpointStepsOutsideTheRunAreRefusedOnResume() throws IOException {
        for (String step : List.of("abc", "1000", "9223372036854775807")) {
            Path copy = altered("step-" + step.length(), (t, m) -> m.put("step", step));
            assertRefused(Cli.run("train", recipe.toString(), "--run-dir", copy.toString(), "--resume"), "checkpoint-4.safetensors",
                    "metadata step", "[0, 4]");
        }
    }

    @Test
    void nonFiniteOrIntegerWeightsAreRefusedAtLoadNamingTheTensor() throws IOException {
        Path nan = altered("nan", (t, m) -> {
            Tensor w = t.get("head.weight");
            byte[] bytes = copyOf(w.data());
            ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putFloat(4, Float.NaN);
            t.put("head.weight", Tensor.of("head.weight", DType.F32, w.shape(), bytes));
        });
        assertRefused(Cli.run("eval", nan.toString()), "tensor head.weight", "non-finite", "flat index 1");
        Path ints = altered("ints", (t, m) -> {
            Tensor w = t.get("head.bias");
            t.put("head.bias", Tensor.of("head.bias", DType.I32, w.shape(), copyOf(w.data())));
        });
        assertRefused(Cli.run("eval", ints.toString()), "tensor head.bias is I32 where float weights are expected");
        assertRefused(Cli.run("train", recipe.toString(), "--run-dir", nan.toString(), "--resume"), "tensor head.weight", "non-finite");
    }

    @Test
    void pipesAndFilesWherePathsAreExpectedExitTwoWithoutHanging() throws Exception {
        Path fifo = dir.resolve("fifo");
        assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();
        assertRefused(Cli.run("validate", fifo.toString()), fifo.toString(), "not a regular file");
        assertRefused(Cli.run("eval", fifo.toString()), fifo.toString(), "not a regular file");
        Path file = Files.writeString(dir.resolve("plain-file"), "x");
        assertRefused(Cli.run("train", recipe.toString(), "--run-dir", file.toString()), "is an existing file");
        assertRefused(Cli.run("eval", run.toString(), "--out", "/proc/manyfold-eval-out"), "/proc/manyfold-eval-out");
    }

    @Test
    void hostilePluginsAreRefusedByNameAndEveryCommandKeepsWorking() {
        Path root = dir.resolve("hostile");
        PluginJars jars = new PluginJars(dir.resolve("build"));
        jars.plugin("exits").source("ex.ExitPlugin", """
                package ex;
                public final class ExitPlugin implements dev.manyfold.api.Plugin {
                    public ExitPlugin() { System.exit(0); }
                }
                """).writeTo(root);
        jars.plugin("escapes").descriptor("description", "\\uZZZZ").sources(PluginJars.dimensionPlugin("esc", "EscPlugin", "x", "esc"))
                .writeTo(root);
        Cli.Result validate = Cli.run("--plugins", Bundle.plugins().toString(), "--plugins", root.toString(), "validate",
                recipe.toString());
        assertThat(validate.exit()).as(validate.describe()).isZero();
        assertThat(validate.out()).contains("is valid");
        Cli.Result plugins = Cli.run("--plugins", Bundle.plugins().toString(), "--plugins", root.toString(), "plugins");
        assertThat(plugins.out()).as(plugins.describe()).contains("plugin [exits] called System.exit while starting")
                .contains("malformed descriptor").contains("sorted");
    }
}
