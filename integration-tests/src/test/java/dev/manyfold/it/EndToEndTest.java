package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Train, evaluate, export and refuse bad input through the bundle's launcher, as a user would. */
class EndToEndTest {
    private static final String TINY_MLP = """
            name: tiny-mlp
            model: { family: mlp, hidden: 32, blocks: 2 }
            data: { type: fashion-mnist, limit: 2000 }
            train: { steps: 40, batch: 64, lr: 3e-3, seed: 7, checkpoint-every: 20, log-every: 10 }
            """;

    @TempDir
    Path dir;

    private Path write(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text);
    }

    @Test
    void engineStartsOfflineFromTheBundledNativeLibraryWithoutNetwork() throws IOException {
        Path cache = Files.createDirectories(dir.resolve("djl-cache"));
        // A dead proxy: any download attempt would fail. The fresh cache proves nothing was there before.
        Cli.Result r = Cli.run(Map.of("DJL_CACHE_DIR", cache.toString(), "MANYFOLD_OPTS",
                "-Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort=9 -Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=9"), "doctor");

        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).as(r.describe()).contains("offline:       true").contains("engine:        PyTorch 2.7.1");
        try (Stream<Path> files = Files.walk(cache)) {
            assertThat(files.map(p -> p.getFileName().toString())).as("libraries extracted from pytorch-native-cpu")
                    .contains("libtorch_cpu.so");
        }
    }

    @Test
    void trainEvalExportAndResumeRunEndToEnd() throws IOException {
        Path recipe = write("tiny.yaml", TINY_MLP);
        Path run = dir.resolve("run");

        Cli.Result train = Cli.run("train", recipe.toString(), "--run-dir", run.toString());
        assertThat(train.exit()).as(train.describe()).isZero();
        assertThat(train.out()).as(train.describe()).contains("step 40/40 loss").contains("done: 40 steps")
                .contains("eval full: loss").contains("checkpoint-40.safetensors");
        assertThat(run.resolve("checkpoint-20.safetensors")).exists();
        assertThat(run.resolve("checkpoint-40.safetensors")).exists();
        assertThat(Files.readAllLines(run.resolve("metrics.jsonl"))).filteredOn(l -> l.contains("\"loss\"") && !l.contains("eval"))
                .hasSize(40);

        Cli.Result eval = Cli.run("eval", run.toString());
        assertThat(eval.exit()).as(eval.describe()).isZero();
        assertThat(eval.out()).as(eval.describe()).contains("sub-model").containsPattern("full\\s+27,\\d{3}");

        Path exported = dir.resolve("small.safetensors");
        Cli.Result export = Cli.run("export", run.toString(), "--sub-model", "depth=1,width=16", "-o", exported.toString());
        assertThat(export.exit()).as(export.describe()).isZero();
        assertThat(export.out()).contains("exported depth=1,width=16: 13,002 parameters");
        Cli.Result evalSmall = Cli.run("eval", exported.toString());
        assertThat(evalSmall.exit()).as(evalSmall.describe()).isZero();
        assertThat(evalSmall.out()).containsPattern("full\\s+13,002");

        // resuming a finished run from its checkpoint at step 20 reaches the same final loss line
        Path resumed = dir.resolve("resumed");
        Files.createDirectories(resumed);
        Files.copy(run.resolve("checkpoint-20.safetensors"), resumed.resolve("checkpoint-20.safetensors"));
        Cli.Result resume = Cli.run("train", recipe.toString(), "--run-dir", resumed.toString(), "--resume");
        assertThat(resume.exit()).as(resume.describe()).isZero();
        assertThat(resume.out()).contains("resumed from step 20");
        assertThat(lastLine(resume.out(), "eval full:")).isEqualTo(lastLine(train.out(), "eval full:"));
    }

    @Test
    void aCorruptCheckpointIsRefusedWithAClearErrorNamingTheFile() throws IOException {
        Path recipe = write("tiny.yaml", TINY_MLP.replace("steps: 40", "steps: 2"));
        Path run = dir.resolve("run");
        assertThat(Cli.run("train", recipe.toString(), "--run-dir", run.toString()).exit()).isZero();
        Path file = run.resolve("checkpoint-2.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(raf.length() / 2);
        }
        Cli.Result r = Cli.run("eval", file.toString());
        assertThat(r.exit()).as(r.describe()).isEqualTo(2);
        assertThat(r.err()).as(r.describe()).contains(file.toString()).doesNotContain("Exception in thread");
    }

    @Test
    void missingDataGivesTheInstallHint() throws IOException {
        Path recipe = write("nodata.yaml", TINY_MLP.replace("limit: 2000", "limit: 2000, path: " + dir.resolve("nowhere")));
        Cli.Result r = Cli.run("train", recipe.toString(), "--run-dir", dir.resolve("run").toString());
        assertThat(r.exit()).as(r.describe()).isEqualTo(2);
        assertThat(r.err()).as(r.describe()).contains("apt-get install dataset-fashion-mnist");
    }

    @Test
    void budgetsTheModelCannotTakeAreRefusedBeforeTrainingNamingTheRecipePath() throws IOException {
        for (String dimensions : new String[] {"{ depth: { budgets: [0, 1] } }", "{ depth: { budgets: [1, 3] } }"}) {
            Path recipe = write("bad.yaml", TINY_MLP + "dimensions: " + dimensions + "\n");
            Cli.Result r = Cli.run("train", recipe.toString(), "--run-dir", dir.resolve("run").toString());
            assertThat(r.exit()).as(r.describe()).isEqualTo(2);
            assertThat(r.err()).as(r.describe()).contains("dimensions.depth").contains("[1, 2]");
            assertThat(r.out()).as(r.describe()).doesNotContain("step 1/");
        }
        Path heads = write("heads.yaml", """
                model: { family: llama, dim: 32, heads: 3, layers: 2 }
                data: { type: text, limit: 50, context: 16 }
                train: { steps: 2 }
                """);
        Cli.Result r = Cli.run("train", heads.toString(), "--run-dir", dir.resolve("run2").toString());
        assertThat(r.exit()).as(r.describe()).isEqualTo(2);
        assertThat(r.err()).as(r.describe()).contains("model.heads").contains("not divisible");
    }

    private static String lastLine(String text, String prefix) {
        return text.lines().filter(l -> l.startsWith(prefix)).reduce((a, b) -> b).orElse("<none>");
    }
}
