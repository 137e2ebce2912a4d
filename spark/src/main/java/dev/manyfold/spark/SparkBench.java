package dev.manyfold.spark;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Throughput of the batch generation job (and, with {@code --eval-run}, of the lattice
 * evaluation) on several local masters in one process, one after the other: rows per second
 * on each and the ratio to the first master. Each master gets a warm-up job first (model
 * load, JIT), so the timed job measures steady-state per-row cost.
 */
@Command(name = "spark-bench", mixinStandardHelpOptions = true, description = "rows/s of batch-generate on local[1] vs local[2] ...")
public final class SparkBench implements Callable<Integer> {
    @Parameters(paramLabel = "RUN", description = "A language-model run directory")
    Path run;

    @Option(names = "--rows", defaultValue = "200", description = "Prompts to generate for (default ${DEFAULT-VALUE})")
    int rows;

    @Option(names = "--max-new-tokens", defaultValue = "16", description = "Tokens per prompt (default ${DEFAULT-VALUE})")
    int maxNewTokens;

    @Option(names = "--masters", split = ",", defaultValue = "local[1],local[2]", description = "Masters, baseline first")
    List<String> masters;

    @Option(names = "--eval-run", paramLabel = "RUN", description = "Also time lattice-eval on this run (cells = batches x sub-models)")
    Path evalRun;

    @Option(names = "--eval-batches", defaultValue = "20", description = "Validation batches for --eval-run (default ${DEFAULT-VALUE})")
    int evalBatches;

    @Option(names = "--rounds", defaultValue = "2", description = "Rounds over the masters (default ${DEFAULT-VALUE}): the"
            + " ratio is taken within each round; later rounds run on a JIT-warm JVM for every master")
    int rounds;

    @Option(names = "--work", required = true, description = "Scratch directory for prompts and outputs")
    Path work;

    public static void main(String[] args) {
        System.exit(new CommandLine(new SparkBench()).execute(args));
    }

    @Override
    public Integer call() throws IOException {
        Files.createDirectories(work);
        Path prompts = work.resolve("prompts.jsonl");
        List<String> lines = new ArrayList<>();
        String[] seeds = {"The ", "Linux is", "Once upon a time", "perl -e", "Debian", "A fortune: ", "Hello", "What is"};
        for (int i = 0; i < rows; i++) {
            lines.add("{\"id\": " + i + ", \"prompt\": \"" + seeds[i % seeds.length] + i + "\"}");
        }
        Files.write(prompts, lines);
        System.out.printf(Locale.ROOT, "load average at start: %.2f (%d cores)%n", loadAverage(),
                Runtime.getRuntime().availableProcessors());
        for (int round = 1; round <= rounds; round++) {
            System.out.printf(Locale.ROOT, "round %d%n", round);
            round(prompts, round);
        }
        return 0;
    }

    /**
     * One pass over the masters (in the given order on odd rounds, reversed on even rounds, so
     * that drifting load falls on both alike): a warm-up job then the timed job on each; wall
     * rates with ratios against the first master, and the process CPU seconds per row, which
     * load from other processes inflates far less than wall time.
     */
    private void round(Path prompts, int round) {
        List<String> order = new ArrayList<>(masters);
        if (round % 2 == 0) {
            java.util.Collections.reverse(order);
        }
        java.util.Map<String, double[]> gen = new java.util.LinkedHashMap<>();
        java.util.Map<String, double[]> eval = new java.util.LinkedHashMap<>();
        for (String master : order) {
            SparkSession spark = SparkSession.builder().master(master).appName("manyfold-spark-bench")
                    .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
                    .config("spark.driver.bindAddress", "127.0.0.1").getOrCreate();
            try {
                int cores = spark.sparkContext().defaultParallelism();
                String tag = master.replaceAll("[^a-z0-9]", "");
                run(spark, BatchGenerate::run, "--input", prompts, "--out", work.resolve(tag + "-warm"), "--overwrite",
                        "--max-new-tokens", Integer.toString(maxNewTokens), "--partitions", Integer.toString(cores));
                double load = loadAverage();
                long cpu = cpuNanos();
                double t = run(spark, BatchGenerate::run, run.toString(), "--input", prompts, "--out", work.resolve(tag + "-gen"),
                        "--overwrite", "--max-new-tokens", Integer.toString(maxNewTokens), "--partitions", Integer.toString(4 * cores));
                double cpuPerRow = (cpuNanos() - cpu) / 1e9 / rows;
                gen.put(master, new double[] {rows / t, cpuPerRow});
                System.out.printf(Locale.ROOT, "%-10s batch-generate: %d rows x %d tokens in %.1f s = %.2f rows/s, %.4f CPU-s/row, load %.2f"
                        + " -> %.2f%n", master, rows, maxNewTokens, t, rows / t, cpuPerRow, load, loadAverage());
                if (evalRun != null) {
                    run(spark, LatticeEval::run, evalRun.toString(), "--batches", Integer.toString(evalBatches), "--out",
                            work.resolve(tag + "-eval-warm").toString(), "--overwrite");
                    StringWriter out = new StringWriter();
                    load = loadAverage();
                    cpu = cpuNanos();
                    double te = run(spark, out, LatticeEval::run, evalRun.toString(), "--batches", Integer.toString(evalBatches), "--out",
                            work.resolve(tag + "-eval").toString(), "--overwrite", "--partitions", Integer.toString(4 * cores));
                    long cells = Long.parseLong(out.toString().replaceAll("(?s).*\\n(\\d+) cells.*", "$1").trim());
                    double cpuPerCell = (cpuNanos() - cpu) / 1e9 / cells;
                    eval.put(master, new double[] {cells / te, cpuPerCell});
                    System.out.printf(Locale.ROOT, "%-10s lattice-eval:   %d cells in %.1f s = %.2f cells/s, %.4f CPU-s/cell, load %.2f"
                            + " -> %.2f%n", master, cells, te, cells / te, cpuPerCell, load, loadAverage());
                }
            } finally {
                spark.stop();
            }
        }
        String base = masters.get(0);
        for (String master : masters.subList(1, masters.size())) {
            System.out.printf(Locale.ROOT, "round %d (%s): %s / %s rows/s x%.2f%s%n", round, String.join(" then ", order), master, base,
                    gen.get(master)[0] / gen.get(base)[0], eval.isEmpty() ? "" : String.format(Locale.ROOT, ", cells/s x%.2f",
                            eval.get(master)[0] / eval.get(base)[0]));
        }
    }

    private static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    private double run(SparkSession spark, Job job, Object... args) {
        return run(spark, new StringWriter(), job, args);
    }

    private double run(SparkSession spark, StringWriter out, Job job, Object... args) {
        List<String> list = new ArrayList<>();
        if (!(args.length > 0 && args[0] instanceof String s && !s.startsWith("--"))) {
            list.add(run.toString());
        }
        for (Object a : args) {
            list.add(a.toString());
        }
        StringWriter err = new StringWriter();
        long start = System.nanoTime();
        int exit = job.run(spark, list.toArray(String[]::new), new PrintWriter(out, true), new PrintWriter(err, true));
        double seconds = (System.nanoTime() - start) / 1e9;
        if (exit != 0) {
            throw new UncheckedIOException(new IOException("job failed (exit " + exit + "): " + err));
        }
        return seconds;
    }

    interface Job {
        int run(SparkSession spark, String[] args, PrintWriter out, PrintWriter err);
    }

    private static double loadAverage() {
        return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    }
}
