package dev.manyfold.spark;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.decoder.Generation;
import dev.manyfold.api.decoder.LanguageModel;
import dev.manyfold.runtime.cli.EngineChoice;
import dev.manyfold.runtime.data.Tokenizer;
import dev.manyfold.runtime.host.HostContext;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.onnx.Engines;
import dev.manyfold.runtime.onnx.OrtLanguageModel;
import dev.manyfold.runtime.serve.RunModelLoader;
import dev.manyfold.runtime.serve.ServedModel;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Optional;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code manyfold generate} over a table of prompts as a Spark job: one output row per prompt
 * and budget with the text, token counts and the decoder's statistics. Each executor JVM
 * loads the model once ({@link ExecutorModels}) and shares it between its tasks; an ONNX
 * export directory runs on ONNX Runtime (no libtorch needed on executors), a run directory on
 * its recipe's engine or {@code --engine}.
 *
 * <p>Output goes through Spark's DataFrame writer, so a failed or retried task leaves nothing
 * behind: the output has each (row, budget) exactly once. A malformed input row becomes an
 * error row naming it (its 1-based row number and id), or fails the job with
 * {@code --on-error fail}.
 */
@Command(name = "batch-generate", mixinStandardHelpOptions = true, description = "Generate completions for a table of prompts at"
        + " one or more budgets, spread over a Spark cluster.")
public final class BatchGenerate extends JobCommand {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Parameters(paramLabel = "RUN_OR_EXPORT", description = "A run directory, .safetensors checkpoint or ONNX export directory every"
            + " executor can read")
    String path;

    @Option(names = "--input", required = true, paramLabel = "PATH",
            description = "Prompts: JSONL lines {\"id\": ..., \"prompt\": \"...\"} (id optional), or Parquet with a string column"
                    + " prompt (and optionally id); a file, a directory or a glob")
    String input;

    @Option(names = "--format", paramLabel = "FORMAT", description = "Input format: jsonl or parquet (default: parquet when the"
            + " path ends in .parquet, else jsonl)")
    String format;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output directory (a local path or any Hadoop URI)")
    String outDir;

    @Option(names = "--output-format", paramLabel = "FORMAT", defaultValue = "parquet", description = "parquet (default) or json")
    String outputFormat;

    @Option(names = "--budgets", split = ",", paramLabel = "BUDGET", defaultValue = "full",
            description = "Budgets, one output row each per prompt: full, exit-N (greedy at trained exit N) or DECODER[:KEY=VALUE...]"
                    + " (default ${DEFAULT-VALUE})")
    List<String> budgets;

    @Option(names = "--max-new-tokens", paramLabel = "N", defaultValue = "64",
            description = "Tokens to generate at most per prompt (default ${DEFAULT-VALUE}; capped by the context)")
    int maxNewTokens;

    @Option(names = "--engine", paramLabel = "ENGINE", description = "pytorch or onnxruntime (default: onnxruntime for an ONNX"
            + " export, else the recipe's decode.engine, else pytorch)")
    String engine;

    @Option(names = "--on-error", paramLabel = "MODE", defaultValue = "row",
            description = "A malformed input row: row (an output row whose error names it; default) or fail (the job fails)")
    String onError;

    /** Fault injection for tests of the committers: the first attempt of this partition fails after its first output row. */
    @Option(names = "--fail-first-attempt-of-partition", hidden = true, defaultValue = "-1")
    int failPartition;

    /** The spark-submit entry point. */
    public static void main(String[] args) {
        JobCommand.main(new BatchGenerate(), args);
    }

    /** Runs the job in {@code spark}; returns the exit code (2 for bad input). */
    public static int run(SparkSession spark, String[] args, PrintWriter out, PrintWriter err) {
        return execute(new BatchGenerate(), spark, args, out, err);
    }

    /** The output rows' schema. */
    public static final StructType OUTPUT = new StructType(new StructField[] {
        DataTypes.createStructField("row", DataTypes.LongType, false),
        DataTypes.createStructField("id", DataTypes.StringType, true),
        DataTypes.createStructField("budget", DataTypes.StringType, true),
        DataTypes.createStructField("decoder", DataTypes.StringType, true),
        DataTypes.createStructField("exit", DataTypes.IntegerType, true),
        DataTypes.createStructField("engine", DataTypes.StringType, true),
        DataTypes.createStructField("prompt_tokens", DataTypes.IntegerType, true),
        DataTypes.createStructField("new_tokens", DataTypes.IntegerType, true),
        DataTypes.createStructField("text", DataTypes.StringType, true),
        DataTypes.createStructField("statistics", DataTypes.createMapType(DataTypes.StringType, DataTypes.DoubleType), true),
        DataTypes.createStructField("error", DataTypes.StringType, true)});

    static final StructType INPUT = new StructType(new StructField[] {
        DataTypes.createStructField("row", DataTypes.LongType, false),
        DataTypes.createStructField("line", DataTypes.StringType, true),
        DataTypes.createStructField("id", DataTypes.StringType, true),
        DataTypes.createStructField("prompt", DataTypes.StringType, true)});

    /** What an executor keeps per model: the model on its engine, tokenizer, decoders. */
    record Loaded(ServedModel served, String engine) {}

    static Loaded load(String path, String engine, List<String> plugins) {
        return ExecutorModels.get("generate|" + path + "|" + engine + "|" + plugins, () -> {
            Manyfold host = ExecutorModels.host(plugins);
            Path p = Path.of(path);
            if (EngineChoice.isOnnxExport(p)) {
                if (engine != null && !engine.equals(Engines.ONNXRUNTIME)) {
                    throw new IllegalArgumentException(path + " is an ONNX export; it runs on --engine onnxruntime only");
                }
                OrtLanguageModel model = Engines.open(p);
                Tokenizer tokenizer = EngineChoice.tokenizer(model, p);
                ServedModel.Decoders decoders = RunModelLoader.decoders(host, new HostContext(0, Optional.empty(), Path.of("."),
                        line -> {}));
                return new Loaded(new ServedModel(path, model, tokenizer, RunModelLoader.PLAIN_CHAT, decoders, model), Engines.ONNXRUNTIME);
            }
            String[] chosen = new String[1];
            ServedModel served = RunModelLoader.load(host, p, path, (prepared, at) -> {
                chosen[0] = EngineChoice.names(engine == null ? null : List.of(engine), prepared).get(0);
                return EngineChoice.open(prepared, at, chosen[0]).model();
            });
            return new Loaded(served, chosen[0]);
        });
    }

    @Override
    public Integer call() {
        if (maxNewTokens < 0) {
            throw new IllegalArgumentException("--max-new-tokens must be >= 0, got " + maxNewTokens);
        }
        if (!onError.equals("row") && !onError.equals("fail")) {
            throw new IllegalArgumentException("--on-error must be row or fail, got " + onError);
        }
        if (!outputFormat.equals("parquet") && !outputFormat.equals("json")) {
            throw new IllegalArgumentException("--output-format must be parquet or json, got " + outputFormat);
        }
        String fmt = format != null ? format : input.endsWith(".parquet") || input.endsWith(".parquet/") ? "parquet" : "jsonl";
        if (!fmt.equals("jsonl") && !fmt.equals("parquet")) {
            throw new IllegalArgumentException("--format must be jsonl or parquet, got " + fmt);
        }
        List<Budget> chosen = Budget.parseAll(budgets, "--budgets");
        checkOutput(outDir);
        long started = System.nanoTime();
        // The driver opens the model too (the same cache in local mode): bad paths and budgets fail before any task runs.
        Loaded driver = load(path, engine, plugins);
        for (Budget b : chosen) {
            decoder(driver, b);
        }

        Dataset<Row> rows = read(fmt);
        int tasks = partitions();
        LongAccumulator generated = spark.sparkContext().longAccumulator("manyfold.generated");
        LongAccumulator errors = spark.sparkContext().longAccumulator("manyfold.errors");
        String p = path;
        String e = engine;
        List<String> pl = List.copyOf(plugins);
        int max = maxNewTokens;
        boolean fail = onError.equals("fail");
        int inject = failPartition;
        Dataset<Row> output = rows.repartition(tasks, functions.col("row")).mapPartitions(
                (MapPartitionsFunction<Row, Row>) it -> new Rows(load(p, e, pl), chosen, max, fail, inject, generated, errors, it),
                Encoders.row(OUTPUT));
        output.write().mode(overwrite ? SaveMode.Overwrite : SaveMode.ErrorIfExists).format(outputFormat).save(outDir);
        double seconds = (System.nanoTime() - started) / 1e9;
        out.printf(Locale.ROOT, "wrote %s: %d rows (%d budget%s on %s), %d error row%s, in %.1f s%n", outDir, generated.value()
                + errors.value(), chosen.size(), chosen.size() == 1 ? "" : "s", driver.engine(), errors.value(),
                errors.value() == 1 ? "" : "s", seconds);
        return 0;
    }

    private Dataset<Row> read(String fmt) {
        Dataset<Row> table;
        if (fmt.equals("parquet")) {
            Dataset<Row> parquet = spark.read().parquet(input);
            List<String> columns = Arrays.asList(parquet.columns());
            if (!columns.contains("prompt")) {
                throw new IllegalArgumentException(input + ": no column prompt (columns: " + columns + ")");
            }
            table = parquet.select(functions.lit(null).cast(DataTypes.StringType).as("line"),
                    columns.contains("id") ? functions.col("id").cast(DataTypes.StringType).as("id")
                            : functions.lit(null).cast(DataTypes.StringType).as("id"),
                    functions.col("prompt").cast(DataTypes.StringType).as("prompt"));
        } else {
            table = spark.read().text(input).select(functions.col("value").as("line"), functions.lit(null).cast(DataTypes.StringType).as("id"),
                    functions.lit(null).cast(DataTypes.StringType).as("prompt"));
        }
        // 1-based row numbers in input order (files, then lines), stable across task retries.
        return spark.createDataFrame(table.javaRDD().zipWithIndex().map(t -> RowFactory.create(t._2() + 1, t._1().get(0), t._1().get(1),
                t._1().get(2))), INPUT);
    }

    static Decoder decoder(Loaded loaded, Budget b) {
        LanguageModel model = loaded.served().model();
        int exit = b.exit(model.layers());
        if (exit != model.layers() && !model.exits().contains(exit)) {
            throw new IllegalArgumentException("--budgets: " + b.spec() + " needs a trained exit " + exit + " (this model's exits: "
                    + model.exits() + ")");
        }
        return loaded.served().decoders().create(b.decoder(), new LinkedHashMap<>(b.settings()), "--budgets " + b.spec(), "--budgets");
    }

    /** The output rows of one task: for each input row, one row per budget (or one error row). Lazy, as Spark consumes it. */
    static final class Rows implements Iterator<Row> {
        private final Loaded loaded;
        private final List<Budget> budgets;
        private final List<Decoder> decoders = new ArrayList<>();
        private final int maxNewTokens;
        private final boolean fail;
        private final int inject;
        private final LongAccumulator generated;
        private final LongAccumulator errors;
        private final Iterator<Row> input;
        private final List<Row> pending = new ArrayList<>();
        private long produced;

        Rows(Loaded loaded, List<Budget> budgets, int maxNewTokens, boolean fail, int inject, LongAccumulator generated,
                LongAccumulator errors, Iterator<Row> input) {
            this.loaded = loaded;
            this.budgets = budgets;
            budgets.forEach(b -> decoders.add(decoder(loaded, b)));
            this.maxNewTokens = maxNewTokens;
            this.fail = fail;
            this.inject = inject;
            this.generated = generated;
            this.errors = errors;
            this.input = input;
        }

        @Override
        public boolean hasNext() {
            while (pending.isEmpty() && input.hasNext()) {
                pending.addAll(generate(input.next()));
            }
            return !pending.isEmpty();
        }

        @Override
        public Row next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            TaskContext task = TaskContext.get();
            if (produced++ == 1 && task != null && task.partitionId() == inject && task.attemptNumber() == 0) {
                throw new IllegalStateException("injected failure: first attempt of partition " + inject + " after one output row");
            }
            return pending.remove(0);
        }

        private List<Row> generate(Row in) {
            long row = in.getLong(0);
            String id = in.getString(2);
            String prompt = in.getString(3);
            Tokenizer tokenizer = loaded.served().tokenizer();
            LanguageModel model = loaded.served().model();
            int[] tokens;
            try {
                if (in.getString(1) != null) {
                    String line = in.getString(1);
                    JsonNode json;
                    try {
                        json = JSON.readTree(line);
                    } catch (java.io.IOException e) {
                        throw new BadRowException("row " + row + ": not a JSON object: " + firstLine(e.getMessage()));
                    }
                    if (json == null || !json.isObject()) {
                        throw new BadRowException("row " + row + ": expected a JSON object such as {\"id\": 1, \"prompt\": \"...\"}");
                    }
                    if (json.hasNonNull("id")) {
                        if (!json.get("id").isValueNode()) {
                            throw new BadRowException("row " + row + ": id must be a string or a number");
                        }
                        id = json.get("id").asText();
                    }
                    JsonNode p = json.get("prompt");
                    if (p == null || p.isNull()) {
                        throw new BadRowException("row " + row + named(id) + ": prompt is missing");
                    }
                    if (!p.isTextual()) {
                        throw new BadRowException("row " + row + named(id) + ": prompt must be a string, got " + p.getNodeType()
                                .toString().toLowerCase(Locale.ROOT));
                    }
                    prompt = p.asText();
                }
                if (prompt == null) {
                    throw new BadRowException("row " + row + named(id) + ": prompt is missing");
                }
                tokens = tokenizer.encode(prompt);
                if (tokens.length == 0) {
                    throw new BadRowException("row " + row + named(id) + ": the prompt is empty; decoding needs at least one prompt token");
                }
                if (tokens.length >= model.contextLength()) {
                    throw new BadRowException("row " + row + named(id) + ": the prompt has " + tokens.length + " tokens but the model's"
                            + " context is " + model.contextLength() + " tokens, which leaves no room for a completion");
                }
            } catch (BadRowException e) {
                if (fail) {
                    throw e;
                }
                errors.add(1);
                return List.of(RowFactory.create(row, id, null, null, null, loaded.engine(), null, null, null, null, e.getMessage()));
            }
            int budget = Math.min(maxNewTokens, model.contextLength() - tokens.length);
            List<Row> out = new ArrayList<>();
            for (int i = 0; i < budgets.size(); i++) {
                Budget b = budgets.get(i);
                Generation g = decoders.get(i).generate(model, tokens, budget, t -> {});
                scala.collection.immutable.Map<String, Object> stats = scalaMap(g.statistics());
                out.add(RowFactory.create(row, id, b.spec(), b.decoder(), b.exit(model.layers()), loaded.engine(), tokens.length,
                        g.tokens().length, tokenizer.decode(g.tokens()), stats, null));
                generated.add(1);
            }
            return out;
        }

        private static String named(String id) {
            return id == null ? "" : " (id " + id + ")";
        }

        private static String firstLine(String s) {
            return s == null ? "" : s.lines().findFirst().orElse("");
        }

        @SuppressWarnings({"unchecked", "rawtypes"})
        private static scala.collection.immutable.Map<String, Object> scalaMap(Map<String, Double> m) {
            return (scala.collection.immutable.Map) scala.jdk.javaapi.CollectionConverters.asScala(m).toMap(
                    scala.$less$colon$less$.MODULE$.refl());
        }
    }
}
