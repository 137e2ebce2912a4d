package dev.manyfold.spark;

import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.runtime.cli.Main;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.SparkSession;

/**
 * One Spark session per test JVM on {@code local[2,4]} (two task threads, up to four attempts
 * per task, as spark.task.maxFailures on a cluster), bound to loopback with no UI, and the tiny
 * runs the tests share, trained once through the CLI: a sorted MLP on Fashion-MNIST (width x
 * depth lattice) and a two-layer LLaMA on the built-in text with both depths trained as exits.
 */
final class SparkFixture {
    private static SparkSession spark;
    private static Path dir;
    private static Path mlp;
    private static Path llama;

    private SparkFixture() {}

    record Result(int exit, String out, String err) {
        String describe() {
            return "exit " + exit + "\n--- out\n" + out + "--- err\n" + err;
        }
    }

    static synchronized SparkSession spark() {
        if (spark == null) {
            spark = SparkSession.builder().master("local[2,4]").appName("manyfold-spark-tests")
                    .config("spark.ui.enabled", "false")
                    .config("spark.driver.host", "127.0.0.1")
                    .config("spark.driver.bindAddress", "127.0.0.1")
                    .config("spark.sql.shuffle.partitions", "4")
                    .getOrCreate();
            Runtime.getRuntime().addShutdownHook(new Thread(spark::stop));
        }
        return spark;
    }

    static synchronized Path dir() {
        if (dir == null) {
            try {
                dir = Files.createTempDirectory("manyfold-spark-test");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return dir;
    }

    /** A sorted MLP, width [8, 16] x depth [1, 2] (4 sub-models), trained 5 steps on 1000 Fashion-MNIST examples. */
    static synchronized Path mlp() {
        if (mlp == null) {
            mlp = train("mlp", """
                    name: tiny-sorted-mlp
                    model: { family: mlp, hidden: 16, blocks: 2 }
                    data: { type: fashion-mnist, limit: 1000 }
                    dimensions: { width: { budgets: [8, 16] }, depth: { budgets: [1, 2] } }
                    objective: { type: stochastic, sandwich: true }
                    train: { steps: 5, batch: 32, lr: 1e-3, seed: 7 }
                    """);
        }
        return mlp;
    }

    /** A two-layer LLaMA trained 3 steps with a loss at both exits (depths 1 and 2). */
    static synchronized Path llama() {
        if (llama == null) {
            llama = train("llama", """
                    name: tiny-llama
                    model: { family: llama, dim: 16, layers: 2, heads: 2, ffn: 24 }
                    data: { type: text, context: 32, limit: 300 }
                    dimensions: { depth: { budgets: [1, 2] } }
                    objective: { type: all-exits }
                    train: { steps: 3, batch: 4, lr: 1e-3, seed: 3 }
                    """);
        }
        return llama;
    }

    private static Path train(String name, String recipe) {
        try {
            Path file = dir().resolve(name + ".yaml");
            Files.writeString(file, recipe);
            Path run = dir().resolve(name + "-run");
            Result r = cli("train", file, "--run-dir", run);
            assertThat(r.exit()).as(r.describe()).isZero();
            return run;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The manyfold CLI in-process. */
    static Result cli(Object... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = Main.execute(strings(args), new PrintWriter(out, true), new PrintWriter(err, true));
        return new Result(exit, out.toString(), err.toString());
    }

    /** A Spark job in the shared session. */
    static Result job(Job job, Object... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = job.run(spark(), strings(args), new PrintWriter(out, true), new PrintWriter(err, true));
        return new Result(exit, out.toString(), err.toString());
    }

    interface Job {
        int run(SparkSession spark, String[] args, PrintWriter out, PrintWriter err);
    }

    private static String[] strings(Object... args) {
        List<String> list = new ArrayList<>();
        for (Object a : args) {
            list.add(a.toString());
        }
        return list.toArray(String[]::new);
    }
}
