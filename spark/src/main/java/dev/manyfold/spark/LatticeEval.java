package dev.manyfold.spark;

import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.eval.EvalReport;
import dev.manyfold.runtime.eval.EvalRow;
import dev.manyfold.runtime.eval.ExitAnalysis;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.model.LayeredLanguageModel;
import dev.manyfold.runtime.model.Model;
import dev.manyfold.runtime.train.Evaluator;
import dev.manyfold.runtime.data.HostBatch;
import java.io.PrintWriter;
import java.math.BigDecimal;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code manyfold eval} as a Spark job: the validation batches x the targeted sub-models are
 * spread over the executors; each task returns exact {@link Evaluator.Sums} (summed loss,
 * correct predictions, label counts) per sub-model, which the driver adds. Sums are exact and
 * their addition associative, so the table equals single-machine {@code eval} to the last
 * digit, however the work is split.
 *
 * <p>Writes {@code OUT/table} (Parquet) and {@code OUT/table-csv} (CSV with a header) through
 * Spark's writers, and, when OUT is a local path, {@code eval.csv} and {@code eval.png} as
 * {@code manyfold eval --out OUT} does.
 */
@Command(name = "lattice-eval", mixinStandardHelpOptions = true, description = "Evaluate every targeted sub-model of a run on"
        + " its validation data, spread over a Spark cluster; the same table as manyfold eval.")
public final class LatticeEval extends JobCommand {
    @Parameters(paramLabel = "RUN_OR_CHECKPOINT", description = "A run directory or .safetensors checkpoint every executor can read"
            + " (its recipe names the data set: Fashion-MNIST IDX files, a text corpus or instruction JSONL)")
    String path;

    @Option(names = "--batches", paramLabel = "N", defaultValue = "50", description = "Validation batches (default ${DEFAULT-VALUE},"
            + " as manyfold eval)")
    int batches;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output directory (a local path or any Hadoop URI)")
    String outDir;

    @Option(names = "--report", paramLabel = "DIR", description = "Where eval.csv, eval.png and eval-exits.csv go (default: OUT when it"
            + " is a local path)")
    Path report;

    @Option(names = "--data", paramLabel = "PATH", description = "Evaluate on this data set instead of the recipe's (its validation"
            + " part, read with the recipe's data settings; a path every executor can read)")
    String dataPath;

    @Option(names = "--data-type", paramLabel = "TYPE", description = "The type of --data when it differs from the recipe's:"
            + " fashion-mnist, text or instructions")
    String dataType;

    @Option(names = "--data-set", paramLabel = "KEY=VALUE", description = "A setting of the --data section (repeatable), read as"
            + " YAML: limit=500, validation=0.5, files=[linux]")
    List<String> dataSettings = new ArrayList<>();

    @Option(names = "--exits", split = ",", paramLabel = "N", description = "Language models: depth exits for the KL/cosine table"
            + " (default: the depths of the targeted sub-models), as manyfold eval --exits")
    List<Integer> exits;

    @Option(names = "--no-exits", description = "Language models: skip the KL/cosine exit analysis")
    boolean noExits;

    /** The spark-submit entry point. */
    public static void main(String[] args) {
        JobCommand.main(new LatticeEval(), args);
    }

    /** Runs the job in {@code spark}; returns the exit code (2 for bad input). */
    public static int run(SparkSession spark, String[] args, PrintWriter out, PrintWriter err) {
        return execute(new LatticeEval(), spark, args, out, err);
    }

    /** What an executor keeps per run: the loaded run, its validation batches and its lattice. */
    record Loaded(Manyfold host, Run prepared, List<HostBatch> data, List<SubModel> subModels) {}

    /** What executors load: the run, how many batches of which data, which exits; all a task needs besides its cells. */
    record Source(String path, int batches, List<String> plugins, DataOverride data, List<Integer> exits) implements java.io.Serializable {
        private static final long serialVersionUID = 1L;

        Loaded load() {
            return ExecutorModels.get("eval|" + path + "|" + batches + "|" + plugins + "|" + data.key() + "|" + exits, () -> {
                Manyfold host = ExecutorModels.host(plugins);
                Run p = TrainJob.load(host, Path.of(path), new PrintWriter(PrintWriter.nullWriter()));
                List<SubModel> lattice = ExitAnalysis.withExits(p.model(), TrainJob.lattice(p), exits);
                return new Loaded(host, p, List.copyOf(data.open(p).validation(batches)), List.copyOf(lattice));
            });
        }
    }

    static final StructType PARTIAL = new StructType(new StructField[] {
        DataTypes.createStructField("sub_model", DataTypes.StringType, false),
        DataTypes.createStructField("loss_sum", DataTypes.StringType, false),
        DataTypes.createStructField("correct", DataTypes.LongType, false),
        DataTypes.createStructField("labels", DataTypes.LongType, false)});

    @Override
    public Integer call() {
        if (batches < 1) {
            throw new IllegalArgumentException("--batches must be >= 1, got " + batches);
        }
        checkOutput(outDir);
        long started = System.nanoTime();
        Source source = new Source(path, batches, List.copyOf(plugins), new DataOverride(dataPath, dataType, dataSettings),
                exits == null ? null : List.copyOf(exits));
        Loaded driver = source.load();
        Model model = driver.prepared().model();
        List<SubModel> subs = driver.subModels();
        int nb = driver.data().size();
        if (nb == 0) {
            throw new IllegalArgumentException(path + ": no validation batches to evaluate on (" + source.data().describe() + ")");
        }
        List<String> names = subs.stream().map(SubModel::toString).toList();
        int tasks = Math.min(partitions(), nb * subs.size());
        EvalReport.Task task = driver.prepared().data().isText() ? EvalReport.Task.LANGUAGE_MODEL : EvalReport.Task.CLASSIFICATION;
        out.printf(Locale.ROOT, "evaluating %d sub-model%s on %d validation batch%s%s in %d Spark task%s%n", subs.size(),
                subs.size() == 1 ? "" : "s", nb, nb == 1 ? "" : "es", source.data().none() ? "" : " of " + source.data().describe(), tasks,
                tasks == 1 ? "" : "s");

        // One cell per (batch, sub-model), batch-major so a task evaluates few batches for many sub-models.
        Dataset<Long> cells = spark.range(0, (long) nb * subs.size(), 1, tasks).as(Encoders.LONG());
        Dataset<Row> partials = cells.mapPartitions((MapPartitionsFunction<Long, Row>) it -> evaluateCells(source, names, it),
                Encoders.row(PARTIAL));
        Map<SubModel, Evaluator.Sums> sums = new LinkedHashMap<>();
        for (Row r : partials.collectAsList()) {
            SubModel sub = subs.get(names.indexOf(r.getString(0)));
            sums.merge(sub, new Evaluator.Sums(new BigDecimal(r.getString(1)), r.getLong(2), r.getLong(3)), Evaluator.Sums::plus);
        }
        EvalReport result = EvalReport.fromSums(model, subs, sums, task);
        result.printTable(out);
        LayeredLanguageModel llama = model.languageModel().orElse(null);
        if (llama != null && !noExits) {
            List<Integer> depths = ExitAnalysis.tableDepths(llama, subs, exits);
            if (depths.size() == 1) {
                out.println(ExitAnalysis.ONLY_FULL_DEPTH);
            } else {
                result = result.withExits(exitAnalysis(source, llama, depths, nb, Math.min(partitions(), nb)));
                out.println();
                result.printExits(out);
            }
        }

        Dataset<Row> table = spark.createDataFrame(tableRows(result, sums), tableSchema(result)).coalesce(1);
        SaveMode mode = overwrite ? SaveMode.Overwrite : SaveMode.ErrorIfExists;
        table.write().mode(mode).parquet(outDir + "/table");
        table.write().mode(mode).option("header", "true").csv(outDir + "/table-csv");
        List<String> written = new ArrayList<>(List.of(outDir + "/table", outDir + "/table-csv"));
        if (!result.exits().isEmpty()) {
            Dataset<Row> exitTable = spark.createDataFrame(exitRows(result), EXITS).coalesce(1);
            exitTable.write().mode(mode).parquet(outDir + "/exits");
            exitTable.write().mode(mode).option("header", "true").csv(outDir + "/exits-csv");
            written.addAll(List.of(outDir + "/exits", outDir + "/exits-csv"));
        }
        Path local = report != null ? report : localPath(outDir);
        if (local != null) {
            result.write(local).forEach(f -> written.add(f.toString()));
        }
        out.println("wrote " + String.join(", ", written));
        out.printf(Locale.ROOT, "%d cells (batch x sub-model) in %.1f s%n", (long) nb * subs.size(), (System.nanoTime() - started) / 1e9);
        return 0;
    }

    /** The executor side: exact sums per sub-model over this task's cells. */
    static Iterator<Row> evaluateCells(Source source, List<String> names, Iterator<Long> cells) {
        Loaded loaded = source.load();
        List<String> here = loaded.subModels().stream().map(SubModel::toString).toList();
        if (!here.equals(names)) {
            throw new IllegalStateException("executor " + TaskContext.get().taskAttemptId() + " reads a different lattice from "
                    + source.path() + " than the driver: " + here + " vs " + names + " (is the path the same run on every node?)");
        }
        Model model = loaded.prepared().model();
        Map<Integer, Evaluator.Sums> sums = new LinkedHashMap<>();
        while (cells.hasNext()) {
            long cell = cells.next();
            int batch = (int) (cell / names.size());
            int sub = (int) (cell % names.size());
            Evaluator.Sums s = Evaluator.sums(model, loaded.data().get(batch), loaded.subModels().get(sub), model.parameters().manager());
            sums.merge(sub, s, Evaluator.Sums::plus);
        }
        List<Row> rows = new ArrayList<>();
        sums.forEach((sub, s) -> rows.add(RowFactory.create(names.get(sub), s.lossSum().toString(), s.correct(), s.count())));
        return rows.iterator();
    }

    static final StructType EXIT_PARTIAL = new StructType(new StructField[] {
        DataTypes.createStructField("batch", DataTypes.IntegerType, false),
        DataTypes.createStructField("sequence", DataTypes.IntegerType, false),
        DataTypes.createStructField("kl", DataTypes.createArrayType(DataTypes.DoubleType, false), false),
        DataTypes.createStructField("cosine", DataTypes.createArrayType(DataTypes.DoubleType, false), false),
        DataTypes.createStructField("positions", DataTypes.LongType, false)});

    static final StructType EXITS = new StructType(new StructField[] {
        DataTypes.createStructField("exit", DataTypes.IntegerType, false),
        DataTypes.createStructField("kl", DataTypes.DoubleType, false),
        DataTypes.createStructField("cosine", DataTypes.DoubleType, false),
        DataTypes.createStructField("positions", DataTypes.LongType, false)});

    /**
     * The KL/cosine exit table of {@code manyfold eval}: validation batches spread over tasks, each
     * returning its sequences' sums; the driver adds them in validation order, as eval does, so the
     * figures are eval's bit for bit.
     */
    private List<dev.manyfold.runtime.eval.ExitStat> exitAnalysis(Source source, LayeredLanguageModel llama, List<Integer> depths, int nb,
            int tasks) {
        Dataset<Long> batchIds = spark.range(0, nb, 1, tasks).as(Encoders.LONG());
        List<Row> rows = new ArrayList<>(batchIds.mapPartitions((MapPartitionsFunction<Long, Row>) it -> exitSums(source, depths, it),
                Encoders.row(EXIT_PARTIAL)).collectAsList());
        rows.sort(java.util.Comparator.comparingInt((Row r) -> r.getInt(0)).thenComparingInt(r -> r.getInt(1)));
        List<ExitAnalysis.SequenceSums> sums = rows.stream().map(r -> new ExitAnalysis.SequenceSums(doubles(r.getList(2)),
                doubles(r.getList(3)), r.getLong(4))).toList();
        return ExitAnalysis.combine(llama, depths, sums);
    }

    /** The executor side of the exit table: the sums of each sequence of this task's batches. */
    static Iterator<Row> exitSums(Source source, List<Integer> depths, Iterator<Long> batchIds) {
        Loaded loaded = source.load();
        LayeredLanguageModel llama = loaded.prepared().model().languageModel().orElseThrow();
        List<Row> rows = new ArrayList<>();
        while (batchIds.hasNext()) {
            int batch = batchIds.next().intValue();
            List<ExitAnalysis.SequenceSums> sums = ExitAnalysis.batch(llama, loaded.data().get(batch), depths, llama.parameters().manager());
            for (int i = 0; i < sums.size(); i++) {
                ExitAnalysis.SequenceSums s = sums.get(i);
                rows.add(RowFactory.create(batch, i, s.kl(), s.cosine(), s.positions()));
            }
        }
        return rows.iterator();
    }

    private static double[] doubles(List<Double> values) {
        return values.stream().mapToDouble(Double::doubleValue).toArray();
    }

    static List<Row> exitRows(EvalReport r) {
        return r.exits().stream().map(e -> RowFactory.create(e.exit(), e.kl(), e.cosine(), e.positions())).toList();
    }

    static StructType tableSchema(EvalReport r) {
        List<StructField> f = new ArrayList<>();
        f.add(DataTypes.createStructField("sub_model", DataTypes.StringType, false));
        r.dimensions().keySet().forEach(d -> f.add(DataTypes.createStructField(d, DataTypes.IntegerType, false)));
        f.add(DataTypes.createStructField("parameters", DataTypes.LongType, false));
        f.add(DataTypes.createStructField("flops_per_" + r.task().unit(), DataTypes.LongType, false));
        f.add(DataTypes.createStructField("loss", DataTypes.DoubleType, false));
        if (r.task() == EvalReport.Task.LANGUAGE_MODEL) {
            f.add(DataTypes.createStructField("perplexity", DataTypes.DoubleType, false));
        }
        f.add(DataTypes.createStructField("accuracy", DataTypes.DoubleType, false));
        DataType pct = DataTypes.DoubleType;
        f.add(DataTypes.createStructField(r.task() == EvalReport.Task.CLASSIFICATION ? "accuracy_pct_of_full" : "full_loss_over_loss_pct",
                pct, true));
        f.add(DataTypes.createStructField("is_full", DataTypes.BooleanType, false));
        f.add(DataTypes.createStructField("labels", DataTypes.LongType, false));
        f.add(DataTypes.createStructField("loss_sum_exact", DataTypes.StringType, false));
        return new StructType(f.toArray(StructField[]::new));
    }

    static List<Row> tableRows(EvalReport r, Map<SubModel, Evaluator.Sums> sums) {
        List<Row> rows = new ArrayList<>();
        for (EvalRow row : r.rows()) {
            List<Object> v = new ArrayList<>();
            v.add(row.name());
            r.dimensions().keySet().forEach(d -> v.add(r.budget(row, d)));
            v.add(row.parameters());
            v.add(row.flops());
            v.add(row.loss());
            if (r.task() == EvalReport.Task.LANGUAGE_MODEL) {
                v.add(row.perplexity());
            }
            v.add(row.accuracy());
            double pct = r.percentOfFull(row);
            v.add(Double.isNaN(pct) ? null : pct);
            v.add(row == r.full());
            v.add(sums.get(row.subModel()).count());
            v.add(sums.get(row.subModel()).lossSum().toString());
            rows.add(RowFactory.create(v.toArray()));
        }
        return rows;
    }

    /** {@code dir} as a local path, or null for a URI with another scheme (hdfs:, s3a:, ...). */
    static Path localPath(String dir) {
        if (dir.startsWith("file:")) {
            return Path.of(URI.create(dir));
        }
        return dir.matches("^[a-zA-Z][a-zA-Z0-9+.-]*:.*") ? null : Path.of(dir);
    }
}
