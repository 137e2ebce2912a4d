package dev.manyfold.spark;

import dev.manyfold.api.ConfigException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * What both jobs share: the Spark session they run in, plugin directories, and the exit codes
 * of the CLI (0 done, 2 bad input with a message naming what and where, no stack trace).
 */
abstract class JobCommand implements Callable<Integer> {
    SparkSession spark;
    PrintWriter out;

    @Option(names = "--plugins", paramLabel = "DIR", description = "A plugin root directory every executor can read (repeatable);"
            + " plugins on the class path (--jars) load too")
    List<String> plugins = new ArrayList<>();

    @Option(names = "--partitions", paramLabel = "N", description = "Spark partitions (tasks) to split the work into "
            + "(default: the session's default parallelism)")
    Integer partitions;

    @Option(names = "--overwrite", description = "Replace existing output (default: refuse to write over it)")
    boolean overwrite;

    int partitions() {
        int n = partitions != null ? partitions : spark.sparkContext().defaultParallelism();
        if (n < 1) {
            throw new IllegalArgumentException("--partitions must be >= 1, got " + n);
        }
        return n;
    }

    /** Refuses an existing output directory unless --overwrite, before any work is done. */
    void checkOutput(String dir) {
        if (overwrite) {
            return;
        }
        try {
            org.apache.hadoop.fs.Path out = new org.apache.hadoop.fs.Path(dir);
            if (out.getFileSystem(spark.sparkContext().hadoopConfiguration()).exists(out)) {
                throw new IllegalArgumentException("--out " + dir + " already exists (use --overwrite to replace it)");
            }
        } catch (java.io.IOException e) {
            throw new UncheckedIOException("--out " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Runs a job command in {@code spark}; returns the exit code. */
    static int execute(JobCommand command, SparkSession spark, String[] args, PrintWriter out, PrintWriter err) {
        command.spark = spark;
        command.out = out;
        CommandLine cli = new CommandLine(command);
        cli.setOut(out);
        cli.setErr(err);
        cli.setExecutionExceptionHandler((e, line, parsed) -> {
            Throwable cause = badInput(e);
            if (cause == null) {
                throw e;
            }
            err.println("error: " + cause.getMessage());
            return 2;
        });
        return cli.execute(args);
    }

    /** The bad-input cause of a failure (also inside a failed Spark task), or null for a bug. */
    static Throwable badInput(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof IllegalArgumentException || t instanceof ConfigException || t instanceof UncheckedIOException
                    || t instanceof dev.manyfold.runtime.data.DataException || t instanceof BadRowException
                    || t instanceof dev.manyfold.runtime.checkpoint.CheckpointException || t instanceof org.apache.spark.sql.AnalysisException) {
                return t;
            }
        }
        return null;
    }

    /** The entry point of spark-submit: the session spark-submit configured, exit code as the process status. */
    static void main(JobCommand command, String[] args) {
        SparkSession spark = SparkSession.builder().appName("manyfold " + command.getClass().getSimpleName()).getOrCreate();
        int exit;
        try {
            exit = execute(command, spark, args, new PrintWriter(System.out, true), new PrintWriter(System.err, true));
        } finally {
            spark.stop();
        }
        System.exit(exit);
    }
}
