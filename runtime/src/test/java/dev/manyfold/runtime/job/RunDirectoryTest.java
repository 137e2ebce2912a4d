package dev.manyfold.runtime.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.manyfold.api.ConfigException;
import dev.manyfold.runtime.checkpoint.CheckpointStore;
import dev.manyfold.runtime.checkpoint.DType;
import dev.manyfold.runtime.checkpoint.Tensor;
import dev.manyfold.runtime.recipe.Recipe;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunDirectoryTest {
    private static final Recipe RECIPE = Recipe.parse("name: r\nmodel: { family: mlp }\ntrain: { steps: 20 }\n", "r.yaml");

    @TempDir
    Path tmp;

    /** A run directory as train leaves it: recipe copy, metrics, a checkpoint and the latest pointer. */
    private Path usedRun(Recipe recipe) throws Exception {
        Path run = tmp.resolve("run");
        try (RunDirectory d = RunDirectory.open(run, RunDirectory.Mode.NEW, recipe)) {
            d.writeRecipe(recipe);
        }
        Files.writeString(run.resolve("metrics.jsonl"), "{\"step\":1,\"loss\":1.0}\n");
        CheckpointStore.keepingAll().save(run, 1, Map.of("w", Tensor.of("w", DType.F32, new long[] {1}, new byte[4])), Map.of());
        return run;
    }

    @Test
    void aSecondOpenInTheSameProcessIsRefusedAndTheLockIsFreeAfterClose() {
        Path run = tmp.resolve("run");
        try (RunDirectory first = RunDirectory.open(run, RunDirectory.Mode.NEW, RECIPE)) {
            assertThatThrownBy(() -> RunDirectory.open(run, RunDirectory.Mode.NEW, RECIPE)).isInstanceOf(ConfigException.class)
                    .hasMessageContaining("in use by process " + ProcessHandle.current().pid());
        }
        RunDirectory.open(run, RunDirectory.Mode.NEW, RECIPE).close();
    }

    @Test
    void aDirectoryLockedByAnotherProcessIsRefusedWithItsPidAndTheLockDiesWithAKill() throws Exception {
        Path run = tmp.resolve("run");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process holder = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), LockHolder.class.getName(), run.toString())
                .redirectErrorStream(true).start();
        try {
            BufferedReader lines = new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
            String line;
            do {
                line = lines.readLine();
            } while (line != null && !line.equals("locked"));
            assertThat(line).as("the holder process reported its lock").isEqualTo("locked");

            assertThatThrownBy(() -> RunDirectory.open(run, RunDirectory.Mode.NEW, RECIPE)).isInstanceOf(ConfigException.class)
                    .hasMessageContaining("in use by process " + holder.pid());
            assertThatThrownBy(() -> RunDirectory.open(run, RunDirectory.Mode.RESUME, RECIPE))
                    .hasMessageContaining("in use by process " + holder.pid());

            holder.destroyForcibly(); // SIGKILL: no shutdown hook, no cleanup
            assertThat(holder.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(run.resolve(RunDirectory.LOCK)).exists();
            RunDirectory.open(run, RunDirectory.Mode.NEW, RECIPE).close();
        } finally {
            holder.destroyForcibly();
        }
    }

    /** Holds a run directory's lock until killed. */
    public static final class LockHolder {
        public static void main(String[] args) throws Exception {
            RunDirectory d = RunDirectory.open(Path.of(args[0]), RunDirectory.Mode.NEW, RECIPE);
            System.out.println("locked");
            System.out.flush();
            Thread.sleep(120_000);
            d.close();
        }
    }

    @Test
    void aNewRunInAUsedDirectoryIsRefusedAndNothingChanges() throws Exception {
        Path run = usedRun(RECIPE);
        String metrics = Files.readString(run.resolve("metrics.jsonl"));
        assertThatThrownBy(() -> RunDirectory.open(run, RunDirectory.Mode.NEW, RECIPE)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("already holds a run").hasMessageContaining("checkpoint-1.safetensors")
                .hasMessageContaining("--resume").hasMessageContaining("--overwrite");
        assertThat(Files.readString(run.resolve("metrics.jsonl"))).isEqualTo(metrics);
        assertThat(run.resolve("checkpoint-1.safetensors")).exists();
    }

    @Test
    void overwriteMovesTheOldContentsAsideAndDeletesNothing() throws Exception {
        Path run = usedRun(RECIPE);
        try (RunDirectory d = RunDirectory.open(run, RunDirectory.Mode.OVERWRITE, RECIPE)) {
            Path aside = d.movedAside().orElseThrow();
            assertThat(aside.getFileName().toString()).startsWith("run.replaced-");
            assertThat(aside.resolve("checkpoint-1.safetensors")).exists();
            assertThat(aside.resolve("metrics.jsonl")).exists();
            assertThat(aside.resolve("recipe.yaml")).exists();
            try (Stream<Path> left = Files.list(run)) {
                assertThat(left.map(p -> p.getFileName().toString()).toList()).containsExactly(RunDirectory.LOCK);
            }
        }
    }

    @Test
    void resumeWithADifferentRecipeIsRefusedBeforeAnythingIsWritten() throws Exception {
        Path run = usedRun(RECIPE);
        byte[] before = Files.readAllBytes(run.resolve("recipe.yaml"));
        Recipe changed = Recipe.parse("name: r\nmodel: { family: mlp }\ntrain: { steps: 40 }\n", "changed.yaml");
        assertThatThrownBy(() -> RunDirectory.open(run, RunDirectory.Mode.RESUME, changed)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("differs").hasMessageContaining("train.steps was 20, now 40");
        assertThat(Files.readAllBytes(run.resolve("recipe.yaml"))).isEqualTo(before);
        RunDirectory.open(run, RunDirectory.Mode.RESUME, Recipe.parse("name: r\nmodel: {family: mlp}\ntrain: {steps: 20}", "same.yaml"))
                .close();
    }

    @Test
    void withoutARecipeCopyResumeComparesWithTheCheckpointsStoredRecipe() throws Exception {
        Path run = Files.createDirectories(tmp.resolve("copied"));
        CheckpointStore.keepingAll().save(run, 1, Map.of("w", Tensor.of("w", DType.F32, new long[] {1}, new byte[4])),
                Map.of("recipe", RECIPE.toYaml()));
        Recipe changed = Recipe.parse("name: r\nmodel: { family: cnn }\ntrain: { steps: 20 }\n", "changed.yaml");
        assertThatThrownBy(() -> RunDirectory.open(run, RunDirectory.Mode.RESUME, changed)).hasMessageContaining("model.family was mlp, now cnn");
        RunDirectory.open(run, RunDirectory.Mode.RESUME, RECIPE).close();
        assertThat(run).exists();
    }

    @Test
    void aFailedStartLeavesNoEmptyDirectoryBehind() {
        Path run = tmp.resolve("runs").resolve("fresh");
        RunDirectory.open(run, RunDirectory.Mode.NEW, RECIPE).close();
        assertThat(run).doesNotExist();
    }

    @Test
    void resumeNeedsACheckpoint() throws Exception {
        Path run = tmp.resolve("run");
        try (RunDirectory d = RunDirectory.open(run, RunDirectory.Mode.NEW, RECIPE)) {
            d.writeRecipe(RECIPE);
        }
        assertThatThrownBy(() -> RunDirectory.open(run, RunDirectory.Mode.RESUME, RECIPE)).hasMessageContaining("no checkpoint to resume");
        assertThatThrownBy(() -> RunDirectory.open(tmp.resolve("missing"), RunDirectory.Mode.RESUME, RECIPE))
                .hasMessageContaining("no run directory to resume");
    }

    @Test
    void leftoverTemporaryFilesOfAKilledWriteAreRemovedAtTheNextStart() throws Exception {
        Path run = usedRun(RECIPE);
        Path leftover = Files.writeString(run.resolve(".checkpoint-2.safetensors.1f2e3d.tmp"), "torn");
        Path userFile = Files.writeString(run.resolve("notes.tmp"), "mine");
        RunDirectory.open(run, RunDirectory.Mode.RESUME, RECIPE).close();
        assertThat(leftover).doesNotExist();
        assertThat(userFile).exists();
    }

    @Test
    void aRunDirectoryThatIsAFileIsRefused() throws Exception {
        Path file = Files.writeString(tmp.resolve("file"), "x");
        assertThatThrownBy(() -> RunDirectory.open(file, RunDirectory.Mode.NEW, RECIPE)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("is an existing file");
    }

    @Test
    void exportMayNotReplaceAFileOfARun() throws Exception {
        Path run = usedRun(RECIPE);
        Path input = run.resolve("checkpoint-1.safetensors");
        for (String name : List.of("checkpoint-1.safetensors", "checkpoint-7.safetensors", "latest", "recipe.yaml", "metrics.jsonl")) {
            assertThatThrownBy(() -> RunDirectory.checkOutsideRun(run.resolve(name), run, "--out")).isInstanceOf(ConfigException.class)
                    .hasMessageStartingWith("--out: ").hasMessageContaining("would replace a file of the run");
        }
        Path elsewhere = Files.createDirectories(tmp.resolve("exports")).resolve("checkpoint-1.safetensors");
        RunDirectory.checkOutsideRun(elsewhere, run, "--out");
        RunDirectory.checkOutsideRun(run.resolve("small.safetensors"), run, "--out");
        assertThatThrownBy(() -> RunDirectory.checkOutsideRun(input, input, "--out")).hasMessageContaining("is the input");
    }

    @Test
    void recipeDifferencesNameTheFirstKeyPath() {
        assertThat(RunDirectory.difference("", Map.of("a", Map.of("b", 1)), Map.of("a", Map.of("b", 1.0)))).isNull();
        assertThat(RunDirectory.difference("", Map.of("a", List.of(1, 2)), Map.of("a", List.of(1, 3)))).isEqualTo("a[1] was 2, now 3");
        assertThat(RunDirectory.difference("", Map.of("a", 1), Map.of("a", 1, "b", 2))).isEqualTo("b was absent, now 2");
    }
}
