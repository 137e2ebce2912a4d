package dev.manyfold.runtime.eval;

import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.runtime.cli.Main;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code manyfold eval} in-process through picocli, on a tiny MLP sorted along width [8, 16]
 * x depth [1, 2] and trained for 5 steps on 1000 Fashion-MNIST examples. The dimensions come
 * from a test plugin packaged into a plugin root, so the sorted plugin is not needed.
 */
class EvalCommandTest {
    @TempDir
    static Path dir;
    private static Path plugins;
    private static Path run;

    record Result(int exit, String out, String err) {
        String describe() {
            return "exit " + exit + "\n--- out\n" + out + "--- err\n" + err;
        }
    }

    static Result cli(Object... args) {
        List<String> list = new ArrayList<>();
        for (Object a : args) {
            list.add(a.toString());
        }
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = Main.execute(list.toArray(String[]::new), new PrintWriter(out, true), new PrintWriter(err, true));
        return new Result(exit, out.toString(), err.toString());
    }

    @BeforeAll
    static void trainTinySortedMlp() throws IOException {
        plugins = PluginJar.write(dir.resolve("plugins"), "test-dimensions", BudgetDimensionsPlugin.class);
        Path recipe = dir.resolve("tiny.yaml");
        Files.writeString(recipe, """
                name: tiny-sorted-mlp
                model: { family: mlp, hidden: 16, blocks: 2 }
                data: { type: fashion-mnist, limit: 1000 }
                dimensions: { width: { budgets: [8, 16] }, depth: { budgets: [1, 2] } }
                train: { steps: 5, batch: 32, lr: 1e-3, seed: 7 }
                """);
        run = dir.resolve("run");
        Result r = cli("--plugins", plugins, "train", recipe, "--run-dir", run);
        assertThat(r.exit()).as(r.describe()).isZero();
    }

    @Test
    void evalCoversTheLatticeAndWritesCsvAndPlotIntoTheRunDirectory() throws IOException {
        Result r = cli("--plugins", plugins, "eval", run, "--batches", "4");
        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).contains("evaluating 4 sub-models").contains("FLOPs/example").contains("% of full")
                .containsPattern("\\nfull\\s+\\d").contains("depth=1,width=8").contains("wrote ");
        List<String> csv = Files.readAllLines(run.resolve("eval.csv"));
        assertThat(csv.get(0)).isEqualTo("sub_model,depth,width,parameters,flops_per_example,loss,accuracy,accuracy_pct_of_full,is_full");
        assertThat(csv.subList(1, csv.size())).extracting(l -> l.startsWith("\"") ? l.substring(1, l.indexOf('"', 1)) : l.split(",")[0])
                .containsExactlyInAnyOrder("full", "depth=1", "width=8", "depth=1,width=8");
        assertThat(csv.get(1)).startsWith("full,2,16,").endsWith(",100.000,true");
        BufferedImage png = ImageIO.read(run.resolve("eval.png").toFile());
        assertThat(png).isNotNull();
        assertThat(png.getWidth()).isEqualTo(EvalPlot.DEFAULT_WIDTH);
        assertThat(png.getHeight()).isEqualTo(EvalPlot.DEFAULT_HEIGHT);
        assertThat(run.resolve("eval-exits.csv")).as("no exit analysis for a classifier").doesNotExist();
    }

    @Test
    void selectionOptionsReadTheEvaluatedTable() throws IOException {
        Path out = dir.resolve("selection");
        Result r = cli("--plugins", plugins, "eval", run, "--batches", "4", "--out", out, "--max-flops", "1G", "--threshold", "0");
        assertThat(r.exit()).as(r.describe()).isZero();
        EvalReport table = EvalReport.readCsv(out.resolve("eval.csv"), java.util.Optional.empty());
        EvalRow best = table.bestWithin(Long.MAX_VALUE).orElseThrow();
        assertThat(r.out()).contains("best sub-model within 1,000,000,000 FLOPs/example (highest accuracy; ties: fewer FLOPs): "
                + best.name() + ":");
        assertThat(r.out()).contains("4 of 4 sub-models qualify for threshold 0%");

        Result none = cli("--plugins", plugins, "eval", run, "--batches", "4", "--out", out, "--max-flops", "10", "--threshold",
                "1000");
        assertThat(none.exit()).as(none.describe()).isZero();
        assertThat(none.out()).contains("no sub-model fits within 10 FLOPs/example: the cheapest, depth=1,width=8, needs")
                .contains("no sub-model qualifies for threshold 1000%");
    }

    @Test
    void aWrittenTableAnswersSelectionsWithoutLoadingTheRun() throws IOException {
        Path out = dir.resolve("from-table");
        Result first = cli("--plugins", plugins, "eval", run, "--batches", "4", "--out", out);
        assertThat(first.exit()).as(first.describe()).isZero();
        EvalReport table = EvalReport.readCsv(out.resolve("eval.csv"), java.util.Optional.empty());
        long cheapest = table.cheapest().flops();
        Result r = cli("eval", out.resolve("eval.csv"), "--max-flops", Long.toString(cheapest));
        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).contains("not re-evaluated").contains("best sub-model within").contains(table.cheapest().name() + ":")
                .doesNotContain("wrote ");
    }

    @Test
    void languageModelEvalShowsPerplexityAndTheExitTableAndWritesTheExitCsvsAndThePositionPlot() throws IOException {
        Path recipe = dir.resolve("tiny-llama.yaml");
        Files.writeString(recipe, """
                name: tiny-llama
                model: { family: llama, dim: 16, layers: 2, heads: 2, ffn: 24 }
                data: { type: text, context: 16, limit: 300 }
                train: { steps: 3, batch: 4, lr: 1e-3, seed: 3 }
                """);
        Path llama = dir.resolve("llama-run");
        Result trained = cli("train", recipe, "--run-dir", llama);
        assertThat(trained.exit()).as(trained.describe()).isZero();

        // A plainly trained run targets only the full model: --exits adds depth 1 to the table and the exit analysis.
        Result r = cli("eval", llama, "--batches", "2", "--exits", "1", "--threshold", "95");
        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).contains("evaluating 2 sub-models").contains("perplexity").contains("FLOPs/token")
                .contains("% of full = full-model loss / loss").containsPattern("exit\\s+KL\\(p_L\\|\\|p_n\\)\\s+cosine")
                .contains("loss <= full loss x (1 + (100 - 95)/100)");
        List<String> csv = Files.readAllLines(llama.resolve("eval.csv"));
        assertThat(csv.get(0)).isEqualTo("sub_model,depth,parameters,flops_per_token,loss,perplexity,accuracy,full_loss_over_loss_pct,"
                + "is_full");
        assertThat(csv).hasSize(3);
        assertThat(csv.get(2)).startsWith("depth=1,1,");
        List<String> exits = Files.readAllLines(llama.resolve("eval-exits.csv"));
        assertThat(exits).hasSize(3);
        assertThat(exits.get(0)).isEqualTo("exit,kl_full_to_exit_nats,cosine_hidden,positions");
        assertThat(exits.get(1)).startsWith("1,");
        assertThat(Double.parseDouble(exits.get(1).split(",")[1])).isPositive();
        assertThat(exits.get(2)).startsWith("2,0.00000000,1.00000000,");
        // ... and by token position: every window position 0..15 for exits 1 and 2, with the plot
        assertThat(r.out()).contains("per token position").containsPattern("KL exit 1\\s+\\d");
        List<String> positions = Files.readAllLines(llama.resolve(ExitProfile.CSV));
        assertThat(positions).hasSize(1 + 2 * 16).contains("exit,position,kl_full_to_exit_nats,cosine_hidden,rows");
        assertThat(positions.get(1)).startsWith("1,0,");
        assertThat(positions.get(32)).startsWith("2,15,0.00000000,1.00000000,");
        assertThat(llama.resolve(ExitProfile.PNG)).isRegularFile();

        // Without intermediate exits there is no exit table, and the stale one is removed.
        Result plain = cli("eval", llama, "--batches", "2");
        assertThat(plain.exit()).as(plain.describe()).isZero();
        assertThat(plain.out()).contains("exit analysis: only the full depth is targeted");
        assertThat(llama.resolve("eval-exits.csv")).doesNotExist();
        assertThat(llama.resolve(ExitProfile.CSV)).doesNotExist();
        assertThat(llama.resolve(ExitProfile.PNG)).doesNotExist();
    }

    @Test
    void badOptionsAreRefusedAsBadInput() {
        assertThat(cli("--plugins", plugins, "eval", run, "--max-flops", "lots").exit()).isEqualTo(Main.BAD_INPUT);
        assertThat(cli("--plugins", plugins, "eval", run, "--threshold", "-1").exit()).isEqualTo(Main.BAD_INPUT);
        Result exits = cli("--plugins", plugins, "eval", run, "--batches", "1", "--exits", "1");
        assertThat(exits.exit()).isEqualTo(Main.BAD_INPUT);
        assertThat(exits.err()).contains("--exits applies to language models");
    }
}
