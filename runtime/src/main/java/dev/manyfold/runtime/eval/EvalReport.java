package dev.manyfold.runtime.eval;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDManager;
import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.model.LayeredLanguageModel;
import dev.manyfold.runtime.model.Model;
import dev.manyfold.runtime.train.Evaluator;
import dev.manyfold.runtime.data.HostBatch;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * The evaluated table of a model's targeted sub-models, and everything done with it without
 * evaluating again: search-free selection under a FLOPs budget, the threshold filter, the
 * printed tables, {@code eval.csv}, {@code eval-exits.csv} and the {@code eval.png} plot.
 *
 * <p>Quality is accuracy for classification and loss (cross-entropy, nats per token) for
 * language models. "% of full" is
 * <ul>
 *   <li>classification: {@code 100 · accuracy / full accuracy};
 *   <li>language models: {@code 100 · full loss / loss} (100% = as good as the full model,
 *       below 100% = worse).
 * </ul>
 *
 * <p>The full model is the row whose sub-model is {@link SubModel#FULL}; a table without
 * one takes the row with the most FLOPs (then the most parameters). Immutable.
 *
 * <pre>{@code
 * EvalReport report = EvalReport.evaluate(model, data.validation(50), subModels, Task.CLASSIFICATION);
 * report.bestWithin(2_000_000).ifPresent(r -> ...);
 * report.write(runDir);   // eval.csv, eval.png
 * }</pre>
 */
public final class EvalReport {
    /** File names written by {@link #write(Path)}. */
    public static final String CSV = "eval.csv";
    public static final String EXITS_CSV = "eval-exits.csv";
    public static final String PNG = "eval.png";

    /** What the model does, which decides the quality measure. */
    public enum Task {
        /** Classification: quality is accuracy (higher is better); FLOPs per example. */
        CLASSIFICATION("example"),
        /** Language modelling: quality is loss (lower is better); FLOPs per token. */
        LANGUAGE_MODEL("token");

        private final String unit;

        Task(String unit) {
            this.unit = unit;
        }

        /** What one FLOPs figure covers: {@code example} or {@code token}. */
        public String unit() {
            return unit;
        }
    }

    private final Task task;
    private final List<EvalRow> rows;
    private final EvalRow full;
    private final Map<String, Integer> dimensions;
    private final List<ExitStat> exits;

    private EvalReport(Task task, List<EvalRow> rows, Map<String, Integer> dimensions, List<ExitStat> exits) {
        this.task = requireNonNull(task, "task is null");
        if (rows.isEmpty()) {
            throw new IllegalArgumentException("an evaluation report needs at least one sub-model");
        }
        Set<SubModel> seen = new HashSet<>();
        for (EvalRow r : rows) {
            if (!seen.add(r.subModel())) {
                throw new IllegalArgumentException("sub-model " + r.name() + " appears twice in the report");
            }
        }
        this.rows = List.copyOf(rows);
        this.full = this.rows.stream().filter(r -> r.subModel().isFull()).findFirst().orElseGet(() -> this.rows.stream()
                .max(Comparator.comparingLong(EvalRow::flops).thenComparingLong(EvalRow::parameters)).orElseThrow());
        this.dimensions = java.util.Collections.unmodifiableMap(new TreeMap<>(dimensions));
        this.exits = List.copyOf(exits);
    }

    /** A report over hand-made or re-read rows, without per-dimension columns. */
    public static EvalReport of(Task task, List<EvalRow> rows) {
        return new EvalReport(task, rows, Map.of(), List.of());
    }

    /**
     * A report over rows with per-dimension budget columns.
     *
     * @param dimensions the dimensions to show as columns and their maximum budgets (the
     *     value of a sub-model that does not restrict that dimension)
     */
    public static EvalReport of(Task task, List<EvalRow> rows, Map<String, Integer> dimensions) {
        return new EvalReport(task, rows, dimensions, List.of());
    }

    /**
     * Evaluates each sub-model once on the batches (no gradients), in the given order.
     * Dimensions any sub-model restricts become budget columns.
     */
    public static EvalReport evaluate(Model model, List<HostBatch> batches, List<SubModel> subModels, Task task) {
        NDManager manager = model.parameters().manager();
        return evaluate(model, batches, subModels, task, sub -> Evaluator.evaluate(model, batches, sub, manager));
    }

    /** Like {@link #evaluate(Model, List, List, Task)} with each sub-model evaluated by {@code evaluator} (e.g. on another engine). */
    public static EvalReport evaluate(Model model, List<HostBatch> batches, List<SubModel> subModels, Task task,
            java.util.function.Function<SubModel, Evaluator.Result> evaluator) {
        if (batches.isEmpty()) {
            throw new IllegalArgumentException("no validation batches to evaluate on");
        }
        return fromResults(model, subModels, evaluator, task);
    }

    /**
     * A report over exact evaluation sums combined elsewhere (for example across Spark
     * partitions): equal to {@link #evaluate} on the same batches, whatever the split.
     *
     * @param sums each sub-model's {@link Evaluator.Sums} over all batches
     */
    public static EvalReport fromSums(Model model, List<SubModel> subModels, Map<SubModel, Evaluator.Sums> sums, Task task) {
        return fromResults(model, subModels, sub -> {
            Evaluator.Sums s = sums.get(sub);
            if (s == null) {
                throw new IllegalArgumentException("no evaluation sums for sub-model " + sub);
            }
            return Evaluator.result(model, sub, s);
        }, task);
    }

    private static EvalReport fromResults(Model model, List<SubModel> subModels,
            java.util.function.Function<SubModel, Evaluator.Result> evaluator, Task task) {
        List<EvalRow> rows = new ArrayList<>();
        Map<String, Integer> dims = new TreeMap<>();
        for (SubModel sub : subModels) {
            model.check(sub, "sub-model " + sub);
            rows.add(EvalRow.of(evaluator.apply(sub)));
            sub.budgets().keySet().forEach(d -> dims.put(d, model.dimensions().get(d)));
        }
        return new EvalReport(task, rows, dims, List.of());
    }

    /** This report with a language model's exit analysis attached. */
    public EvalReport withExits(List<ExitStat> exitStats) {
        return new EvalReport(task, rows, dimensions, exitStats);
    }

    /** This report with {@link ExitAnalysis#compute} run over the batches. */
    public EvalReport withExitAnalysis(LayeredLanguageModel model, List<HostBatch> batches, List<Integer> exitDepths) {
        return withExits(ExitAnalysis.compute(model, batches, exitDepths, model.parameters().manager()));
    }

    public Task task() {
        return task;
    }

    /** Rows in evaluation order. */
    public List<EvalRow> rows() {
        return rows;
    }

    /** The full model's row. */
    public EvalRow full() {
        return full;
    }

    /** Budget columns: dimension name to maximum budget, by name. */
    public Map<String, Integer> dimensions() {
        return dimensions;
    }

    /** The exit analysis, empty unless attached. */
    public List<ExitStat> exits() {
        return exits;
    }

    /** A row's budget along a column dimension (the maximum when it does not restrict it). */
    public int budget(EvalRow row, String dimension) {
        Integer max = dimensions.get(dimension);
        if (max == null) {
            throw new IllegalArgumentException("no dimension column " + dimension + " (columns: " + dimensions.keySet() + ")");
        }
        return row.subModel().budgetOr(dimension, max);
    }

    /** The quality measure: accuracy (classification) or loss (language models). */
    public double quality(EvalRow row) {
        return task == Task.CLASSIFICATION ? row.accuracy() : row.loss();
    }

    /**
     * Percent of the full model: {@code 100·accuracy/full accuracy} for classification,
     * {@code 100·full loss/loss} for language models; NaN when the denominator is 0.
     */
    public double percentOfFull(EvalRow row) {
        double num = task == Task.CLASSIFICATION ? row.accuracy() : full.loss();
        double den = task == Task.CLASSIFICATION ? full.accuracy() : row.loss();
        return den == 0 ? Double.NaN : 100 * num / den;
    }

    /**
     * Best first: highest accuracy (classification) or lowest loss (language models); ties go
     * to fewer FLOPs, then fewer parameters, then the other measure (lower loss / higher
     * accuracy), then the sub-model name.
     */
    public Comparator<EvalRow> bestFirst() {
        Comparator<EvalRow> quality = task == Task.CLASSIFICATION
                ? Comparator.comparingDouble(EvalRow::accuracy).reversed()
                : Comparator.comparingDouble(EvalRow::loss);
        Comparator<EvalRow> other = task == Task.CLASSIFICATION
                ? Comparator.comparingDouble(EvalRow::loss)
                : Comparator.comparingDouble(EvalRow::accuracy).reversed();
        return quality.thenComparingLong(EvalRow::flops).thenComparingLong(EvalRow::parameters).thenComparing(other)
                .thenComparing(EvalRow::name);
    }

    /**
     * The best sub-model (see {@link #bestFirst()}) whose FLOPs are at most {@code maxFlops};
     * empty when every sub-model needs more.
     */
    public Optional<EvalRow> bestWithin(long maxFlops) {
        return rows.stream().filter(r -> r.flops() <= maxFlops).min(bestFirst());
    }

    /** The cheapest sub-model's row (fewest FLOPs, then fewest parameters). */
    public EvalRow cheapest() {
        return rows.stream().min(Comparator.comparingLong(EvalRow::flops).thenComparingLong(EvalRow::parameters)
                .thenComparing(EvalRow::name)).orElseThrow();
    }

    /**
     * Whether a row reaches {@code percent}% of the full model:
     * <ul>
     *   <li>classification: {@code accuracy ≥ percent/100 · full accuracy};
     *   <li>language models: {@code loss ≤ full loss · (1 + (100 − percent)/100)}, i.e. P = 95
     *       admits up to 5% more loss than the full model.
     * </ul>
     * Comparisons allow a relative rounding slack of 1e-12.
     */
    public boolean meetsThreshold(EvalRow row, double percent) {
        checkPercent(percent);
        if (task == Task.CLASSIFICATION) {
            double bound = percent / 100 * full.accuracy();
            return row.accuracy() >= bound - 1e-12 * Math.abs(bound);
        }
        double bound = lossBound(percent);
        return row.loss() <= bound + 1e-12 * Math.abs(bound);
    }

    /** The largest loss admitted at {@code percent} (language models). */
    public double lossBound(double percent) {
        return full.loss() * (1 + (100 - percent) / 100);
    }

    /** Sub-models reaching {@code percent}% of the full model, cheapest first (FLOPs, then best). */
    public List<EvalRow> withinThreshold(double percent) {
        return rows.stream().filter(r -> meetsThreshold(r, percent))
                .sorted(Comparator.comparingLong(EvalRow::flops).thenComparing(bestFirst())).toList();
    }

    /** The threshold rule in words, with its bound, for output. */
    public String thresholdRule(double percent) {
        checkPercent(percent);
        if (task == Task.CLASSIFICATION) {
            return String.format(Locale.ROOT, "accuracy >= %s%% of the full model's %.2f%% (>= %.2f%%)", number(percent),
                    100 * full.accuracy(), percent * full.accuracy());
        }
        return String.format(Locale.ROOT, "loss <= full loss x (1 + (100 - %s)/100) = %.4f x %.4f = %.4f", number(percent), full.loss(),
                1 + (100 - percent) / 100, lossBound(percent));
    }

    private static void checkPercent(double percent) {
        if (!(percent >= 0) || Double.isInfinite(percent)) {
            throw new IllegalArgumentException("threshold must be a percentage >= 0, got " + percent);
        }
    }

    private static String number(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
    }

    // ---- printed tables ------------------------------------------------------------------

    /** Column header of the FLOPs figure, e.g. {@code FLOPs/example}. */
    public String flopsLabel() {
        return "FLOPs/" + task.unit();
    }

    /** What "% of full" means for this task. */
    public String percentOfFullRule() {
        return task == Task.CLASSIFICATION ? "% of full = accuracy / full-model accuracy"
                : "% of full = full-model loss / loss (100% = as good as the full model); accuracy = next-token top-1";
    }

    /**
     * Prints the table of sub-models, one row each, in report order: name, parameters,
     * FLOPs, loss, (perplexity,) accuracy, % of full. Budgets are in the name (the CSV also
     * has them as columns). A reference row that is not {@link SubModel#FULL} is marked
     * {@code *}.
     */
    public void printTable(PrintWriter out) {
        printTable(out, Integer.MAX_VALUE);
    }

    /**
     * As {@link #printTable(PrintWriter)}, with at most {@code maxRows} rows: a longer table
     * prints its first (largest) and last (cheapest) halves with a line counting the rows left out.
     */
    public void printTable(PrintWriter out, int maxRows) {
        boolean marked = !full.subModel().isFull();
        int nameWidth = Math.max("sub-model".length(), rows.stream().mapToInt(r -> r.name().length()).max().orElse(0)) + (marked ? 4 : 2);
        StringBuilder header = new StringBuilder(String.format(Locale.ROOT, "%-" + nameWidth + "s", "sub-model"));
        header.append(String.format(Locale.ROOT, " %13s %15s %9s", "parameters", flopsLabel(), "loss"));
        if (task == Task.LANGUAGE_MODEL) {
            header.append(String.format(Locale.ROOT, " %10s", "perplexity"));
        }
        header.append(String.format(Locale.ROOT, " %9s %10s", "accuracy", "% of full"));
        out.println(header);
        int head = rows.size() <= maxRows ? rows.size() : (maxRows + 1) / 2;
        int tail = rows.size() <= maxRows ? 0 : maxRows / 2;
        for (int i = 0; i < rows.size(); i++) {
            if (i == head && tail > 0) {
                out.printf(Locale.ROOT, "  ... %d more sub-models ...%n", rows.size() - head - tail);
                i = rows.size() - tail;
            }
            EvalRow r = rows.get(i);
            String name = r.name() + (marked && r == full ? " *" : "");
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%-" + nameWidth + "s", name));
            line.append(String.format(Locale.ROOT, " %,13d %,15d %9.4f", r.parameters(), r.flops(), r.loss()));
            if (task == Task.LANGUAGE_MODEL) {
                line.append(String.format(Locale.ROOT, " %10.3f", r.perplexity()));
            }
            double pct = percentOfFull(r);
            line.append(String.format(Locale.ROOT, " %8.2f%% %10s", 100 * r.accuracy(),
                    Double.isNaN(pct) ? "n/a" : String.format(Locale.ROOT, "%.1f%%", pct)));
            out.println(line);
        }
        out.println((marked ? "* reference (no full row: the most expensive sub-model); " : "") + percentOfFullRule());
    }

    /** Prints the exit table ({@code exit, KL(p_L||p_n), cosine}); nothing when there is none. */
    public void printExits(PrintWriter out) {
        if (exits.isEmpty()) {
            return;
        }
        out.printf(Locale.ROOT, "%6s %14s %10s%n", "exit", "KL(p_L||p_n)", "cosine");
        for (ExitStat e : exits) {
            out.printf(Locale.ROOT, "%6d %14.6f %10.6f%n", e.exit(), e.kl(), e.cosine());
        }
        out.printf(Locale.ROOT, "KL in nats and cosine of the hidden states entering the final norm, both averaged over %,d validation"
                + " token positions; p_L, h_L: depth %d%n", exits.get(0).positions(), exits.get(exits.size() - 1).exit());
    }

    /** One row in words: quality, cost and % of full. */
    public String describe(EvalRow r) {
        double pct = percentOfFull(r);
        String ofFull = Double.isNaN(pct) ? "n/a" : String.format(Locale.ROOT, "%.1f%%", pct);
        if (task == Task.CLASSIFICATION) {
            return String.format(Locale.ROOT, "%s: accuracy %.2f%%, loss %.4f, %,d %s, %,d parameters, %s of full accuracy", r.name(),
                    100 * r.accuracy(), r.loss(), r.flops(), flopsLabel(), r.parameters(), ofFull);
        }
        return String.format(Locale.ROOT, "%s: loss %.4f, perplexity %.3f, %,d %s, %,d parameters, %s of full (full loss / loss)",
                r.name(), r.loss(), r.perplexity(), r.flops(), flopsLabel(), r.parameters(), ofFull);
    }

    /** Prints the {@link #bestWithin} choice, or says that every sub-model needs more FLOPs. */
    public void printBestWithin(PrintWriter out, long maxFlops) {
        Optional<EvalRow> best = bestWithin(maxFlops);
        String criterion = task == Task.CLASSIFICATION ? "highest accuracy" : "lowest loss";
        if (best.isPresent()) {
            out.printf(Locale.ROOT, "best sub-model within %,d %s (%s; ties: fewer FLOPs): %s%n", maxFlops, flopsLabel(), criterion,
                    describe(best.get()));
        } else {
            EvalRow c = cheapest();
            out.printf(Locale.ROOT, "no sub-model fits within %,d %s: the cheapest, %s, needs %,d%n", maxFlops, flopsLabel(), c.name(),
                    c.flops());
        }
    }

    /** Prints the {@link #withinThreshold} rows, cheapest first, or says that none qualifies. */
    public void printThreshold(PrintWriter out, double percent) {
        List<EvalRow> ok = withinThreshold(percent);
        if (ok.isEmpty()) {
            out.printf(Locale.ROOT, "no sub-model qualifies for threshold %s%%: none has %s%n", number(percent), thresholdRule(percent));
            return;
        }
        out.printf(Locale.ROOT, "%d of %d sub-models qualify for threshold %s%% (%s), cheapest first:%n", ok.size(), rows.size(),
                number(percent), thresholdRule(percent));
        for (EvalRow r : ok) {
            out.println("  " + describe(r));
        }
    }

    /**
     * Parses a FLOPs budget: an integer ({@code 1500000}, {@code 1_500_000},
     * {@code 1,500,000}), scientific notation ({@code 1.5e6}) or an SI suffix
     * ({@code 1.5M}; k, M, G, T).
     *
     * @throws IllegalArgumentException for anything else or a negative value
     */
    public static long parseFlops(String text) {
        String s = text.trim().replace("_", "").replace(",", "");
        double scale = 1;
        if (!s.isEmpty()) {
            char last = s.charAt(s.length() - 1);
            int idx = "kMGT".indexOf(last == 'K' ? 'k' : last);
            if (idx >= 0) {
                scale = Math.pow(1000, idx + 1);
                s = s.substring(0, s.length() - 1);
            }
        }
        double v;
        try {
            v = Double.parseDouble(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a FLOPs budget: \"" + text + "\" (examples: 2000000, 2e6, 2M, 750k)");
        }
        v *= scale;
        if (!(v >= 0) || v > Long.MAX_VALUE) {
            throw new IllegalArgumentException("FLOPs budget must be a non-negative number, got \"" + text + "\"");
        }
        return (long) Math.floor(v);
    }

    // ---- files ---------------------------------------------------------------------------

    /** The CSV header for this report. */
    public List<String> csvHeader() {
        List<String> h = new ArrayList<>();
        h.add("sub_model");
        h.addAll(dimensions.keySet());
        h.add("parameters");
        h.add("flops_per_" + task.unit());
        h.add("loss");
        if (task == Task.LANGUAGE_MODEL) {
            h.add("perplexity");
        }
        h.add("accuracy");
        h.add(task == Task.CLASSIFICATION ? "accuracy_pct_of_full" : "full_loss_over_loss_pct");
        h.add("is_full");
        return h;
    }

    /** The CSV lines (header first): accuracy as a fraction, the percentage column as named in the header. */
    public List<String> csvLines() {
        List<String> lines = new ArrayList<>();
        lines.add(String.join(",", csvHeader()));
        for (EvalRow r : rows) {
            List<String> f = new ArrayList<>();
            f.add(Csv.quote(r.name()));
            dimensions.keySet().forEach(d -> f.add(Integer.toString(budget(r, d))));
            f.add(Long.toString(r.parameters()));
            f.add(Long.toString(r.flops()));
            f.add(String.format(Locale.ROOT, "%.6f", r.loss()));
            if (task == Task.LANGUAGE_MODEL) {
                f.add(String.format(Locale.ROOT, "%.4f", r.perplexity()));
            }
            f.add(String.format(Locale.ROOT, "%.6f", r.accuracy()));
            double pct = percentOfFull(r);
            f.add(Double.isNaN(pct) ? "" : String.format(Locale.ROOT, "%.3f", pct));
            f.add(Boolean.toString(r == full));
            lines.add(String.join(",", f));
        }
        return lines;
    }

    /** Writes {@link #csvLines()} to {@code file}. */
    public void writeCsv(Path file) {
        Csv.write(file, csvLines());
    }

    /** Writes the exit analysis: {@code exit,kl_full_to_exit_nats,cosine_hidden,positions}. */
    public void writeExitsCsv(Path file) {
        List<String> lines = new ArrayList<>();
        lines.add("exit,kl_full_to_exit_nats,cosine_hidden,positions");
        for (ExitStat e : exits) {
            lines.add(String.format(Locale.ROOT, "%d,%.8f,%.8f,%d", e.exit(), e.kl(), e.cosine(), e.positions()));
        }
        Csv.write(file, lines);
    }

    /** Writes the plot (see {@link EvalPlot}) at the default size. */
    public void writePlot(Path file) {
        EvalPlot.write(this, file, EvalPlot.DEFAULT_WIDTH, EvalPlot.DEFAULT_HEIGHT);
    }

    /**
     * Writes {@value #CSV}, {@value #PNG} and, with an exit analysis, {@value #EXITS_CSV}
     * into {@code dir} (created if missing; without an exit analysis an older
     * {@value #EXITS_CSV} there is removed); returns the files written.
     */
    public List<Path> write(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create output directory " + dir, e);
        }
        List<Path> written = new ArrayList<>();
        writeCsv(dir.resolve(CSV));
        written.add(dir.resolve(CSV));
        if (!exits.isEmpty()) {
            writeExitsCsv(dir.resolve(EXITS_CSV));
            written.add(dir.resolve(EXITS_CSV));
        } else {
            try {
                // an exit table from an earlier evaluation would no longer match eval.csv
                Files.deleteIfExists(dir.resolve(EXITS_CSV));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot remove the stale " + dir.resolve(EXITS_CSV), e);
            }
        }
        writePlot(dir.resolve(PNG));
        written.add(dir.resolve(PNG));
        return written;
    }

    /**
     * Reads a table written by {@link #writeCsv}; with {@code exitsCsv} present, its exit
     * analysis too. Dimension maxima are taken as the largest budget in each column.
     *
     * @throws IllegalArgumentException for a file that is not such a table
     */
    public static EvalReport readCsv(Path file, Optional<Path> exitsCsv) {
        List<List<String>> table = Csv.read(file);
        if (table.isEmpty()) {
            throw new IllegalArgumentException(file + " is empty");
        }
        List<String> header = table.get(0);
        int flopsColumn = header.indexOf("flops_per_example");
        Task task = Task.CLASSIFICATION;
        if (flopsColumn < 0) {
            flopsColumn = header.indexOf("flops_per_token");
            task = Task.LANGUAGE_MODEL;
        }
        int params = header.indexOf("parameters");
        if (header.isEmpty() || !header.get(0).equals("sub_model") || flopsColumn < 0 || params < 1 || !header.contains("loss")
                || !header.contains("accuracy") || !header.contains("is_full")) {
            throw new IllegalArgumentException(file + " is not an evaluation table written by manyfold eval (header " + header + ")");
        }
        List<String> dims = header.subList(1, params);
        int loss = header.indexOf("loss");
        int accuracy = header.indexOf("accuracy");
        int isFull = header.indexOf("is_full");
        List<EvalRow> rows = new ArrayList<>();
        Map<String, Integer> maxima = new LinkedHashMap<>();
        EvalRow markedFull = null;
        for (int i = 1; i < table.size(); i++) {
            List<String> f = table.get(i);
            if (f.size() == 1 && f.get(0).isBlank()) {
                continue;
            }
            if (f.size() != header.size()) {
                throw new IllegalArgumentException(file + " line " + (i + 1) + ": " + f.size() + " fields, the header has "
                        + header.size());
            }
            try {
                EvalRow r = new EvalRow(Csv.parseSubModel(f.get(0)), Long.parseLong(f.get(params)), Long.parseLong(f.get(flopsColumn)),
                        Double.parseDouble(f.get(loss)), Double.parseDouble(f.get(accuracy)));
                for (int d = 0; d < dims.size(); d++) {
                    maxima.merge(dims.get(d), Integer.parseInt(f.get(1 + d)), Math::max);
                }
                if (Boolean.parseBoolean(f.get(isFull))) {
                    markedFull = r;
                }
                rows.add(r);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(file + " line " + (i + 1) + ": not a number: " + e.getMessage());
            }
        }
        if (rows.isEmpty()) {
            throw new IllegalArgumentException(file + " has no rows");
        }
        EvalReport report = new EvalReport(task, rows, maxima, exitsCsv.map(EvalReport::readExits).orElse(List.of()));
        if (markedFull != null && !markedFull.equals(report.full())) {
            throw new IllegalArgumentException(file + ": the row marked is_full (" + markedFull.name() + ") is not the full model");
        }
        return report;
    }

    private static List<ExitStat> readExits(Path file) {
        List<List<String>> table = Csv.read(file);
        List<ExitStat> out = new ArrayList<>();
        for (int i = 1; i < table.size(); i++) {
            List<String> f = table.get(i);
            if (f.size() < 4) {
                continue;
            }
            try {
                out.add(new ExitStat(Integer.parseInt(f.get(0)), Double.parseDouble(f.get(1)), Double.parseDouble(f.get(2)),
                        Long.parseLong(f.get(3))));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(file + " line " + (i + 1) + ": not a number: " + e.getMessage());
            }
        }
        return out;
    }

    /** Minimal CSV: comma-separated, fields with commas or quotes in double quotes. */
    static final class Csv {
        private Csv() {}

        static String quote(String field) {
            if (field.contains(",") || field.contains("\"") || field.contains("\n")) {
                return "\"" + field.replace("\"", "\"\"") + "\"";
            }
            return field;
        }

        static void write(Path file, List<String> lines) {
            try {
                Path parent = file.toAbsolutePath().getParent();
                if (parent != null) {
                    Files.createDirectories(parent);
                }
                Files.writeString(file, String.join("\n", lines) + "\n", StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write " + file, e);
            }
        }

        static List<List<String>> read(Path file) {
            List<String> lines;
            try {
                lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + file, e);
            }
            List<List<String>> out = new ArrayList<>();
            for (String line : lines) {
                out.add(split(line));
            }
            return out;
        }

        static List<String> split(String line) {
            List<String> fields = new ArrayList<>();
            StringBuilder cur = new StringBuilder();
            boolean quoted = false;
            for (int i = 0; i < line.length(); i++) {
                char c = line.charAt(i);
                if (quoted) {
                    if (c == '"' && i + 1 < line.length() && line.charAt(i + 1) == '"') {
                        cur.append('"');
                        i++;
                    } else if (c == '"') {
                        quoted = false;
                    } else {
                        cur.append(c);
                    }
                } else if (c == '"') {
                    quoted = true;
                } else if (c == ',') {
                    fields.add(cur.toString());
                    cur.setLength(0);
                } else {
                    cur.append(c);
                }
            }
            fields.add(cur.toString());
            return fields;
        }

        /** {@code full} or {@code depth=2,width=64}. */
        static SubModel parseSubModel(String name) {
            if (name.equals("full")) {
                return SubModel.FULL;
            }
            Map<String, Integer> budgets = new LinkedHashMap<>();
            for (String part : name.split(",")) {
                int eq = part.indexOf('=');
                if (eq < 1) {
                    throw new IllegalArgumentException("not a sub-model: " + name);
                }
                budgets.put(part.substring(0, eq).trim(), Integer.parseInt(part.substring(eq + 1).trim()));
            }
            return SubModel.of(budgets);
        }
    }
}
