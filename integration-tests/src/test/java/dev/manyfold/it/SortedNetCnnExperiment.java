package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.eval.EvalPlot;
import dev.manyfold.runtime.eval.EvalReport;
import dev.manyfold.runtime.eval.EvalRow;
import dev.manyfold.runtime.eval.Paired;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.recipe.Recipe;
import dev.manyfold.runtime.data.HostBatch;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * SortedNet's CNN setting in miniature (issue 15, point 2). Not part of {@code mvn verify}
 * (the class name matches no surefire include pattern); run it with
 * {@code examples/sortednet-cnn/run.sh}, which splices its Markdown into {@code docs/results.md}
 * and copies its plot to {@code docs/sortednet-cnn.png}. Settings: {@code -Dcnn.seeds=42,43,44},
 * {@code -Dcnn.steps=1000}, {@code -Dcnn.batch=64}, {@code -Dcnn.lr=1e-2} (AdamW peak learning rate),
 * {@code -Dcnn.warmup=100} (linear warmup steps, then cosine; default {@code min(100, steps/4)}),
 * {@code -Dcnn.test-batches=20} (of 100 test images),
 * {@code -Dcnn.out=DIR} (runs; default {@code target/sortednet-cnn/s<steps>-lr<lr>-w<warmup>}, so runs of other
 * settings are never reused), {@code -Dcnn.arms=normal,sortednet,...} (train only these arms; default all),
 * {@code -Dcnn.report=false} (train and evaluate the given seeds only; a later invocation over
 * all seeds reads their cached {@code widths.tsv} and writes the report; with
 * {@code -Dcnn.wait=true} it waits for the other invocations' {@code widths.tsv} instead of training).
 *
 * <p>Per seed it trains four arms of the same residual CNN with batch normalisation (16
 * channels, 1 residual block) on Fashion-MNIST, the same number of optimiser steps each ("equal
 * gradient updates", the paper's comparison), sharing the seed (initialisation and data order):
 * <ul>
 *   <li><b>normal</b>: the full model only; narrower widths are cut afterwards;
 *   <li><b>SortedNet</b>: Eq. 1, one width drawn uniformly from 2..16 (step 2) per step, no sandwich,
 *       shared BN, recalibrated per width after training;
 *   <li><b>US-Nets</b>: sandwich rule (smallest, two drawn, largest) with in-place distillation
 *       from the largest, shared BN, recalibrated per width after training;
 *   <li><b>slimmable</b>: the fixed widths {4, 8, 12, 16} every step, switchable BN (private
 *       BN per width), evaluated with each width's own running statistics;
 *   <li><b>SortedNet, 4× steps</b>: SortedNet Eq. 1 given four times the optimiser steps, i.e. as
 *       many forward/backward passes as US-Nets and slimmable (equal compute, not equal updates);
 *   <li><b>normal, 4× steps</b>: the normal arm given four times the steps, its equal-compute baseline.
 * </ul>
 * Every width is evaluated on the first {@code cnn.test-batches} × 100 test images.
 */
class SortedNetCnnExperiment {
    private static final int CHANNELS = 16;
    private static final int[] LATTICE = {2, 4, 6, 8, 10, 12, 14, 16};
    private static final int[] SLIMMABLE = {4, 8, 12, 16};
    private static final String DATA = "data: { type: fashion-mnist }\n";

    /**
     * One training arm: {@code forwards} forward/backward passes per optimiser step, {@code stepFactor} × the
     * experiment's steps.
     */
    private record Arm(String name, String label, String model, String dimensions, String objective, int[] widths, int forwards,
            int stepFactor) {}

    private static final String SHARED_BN = "model: { family: cnn, channels: 16, blocks: 1, batch-norm: true, bn-recalibrate: 10 }\n";
    private static final String LATTICE_DIMS = "dimensions: { width: { range: { from: 2, to: 16, step: 2 } } }\n";

    private static final List<Arm> ARMS = List.of(
            new Arm("normal", "normal training (cuts, recalibrated BN)", SHARED_BN, LATTICE_DIMS, "objective: { type: standard }",
                    LATTICE, 1, 1),
            new Arm("sortednet", "SortedNet Eq. 1 (recalibrated BN)", SHARED_BN, LATTICE_DIMS, "objective: { type: stochastic }",
                    LATTICE, 1, 1),
            new Arm("usnets", "US-Nets (sandwich + in-place KD, recalibrated BN)", SHARED_BN, LATTICE_DIMS,
                    "objective: { type: stochastic, samples: 2, sandwich: true, inplace-distill: true }", LATTICE, 4, 1),
            new Arm("slimmable", "slimmable (4 widths, switchable BN)",
                    "model: { family: cnn, channels: 16, blocks: 1, batch-norm: true, switchable-bn: [4, 8, 12, 16] }\n",
                    "dimensions: { width: { budgets: [4, 8, 12, 16] } }\n", "objective: { type: summation, sub-models: all }",
                    SLIMMABLE, 4, 1),
            new Arm("sortednet4x", "SortedNet Eq. 1, 4× steps (equal passes)", SHARED_BN, LATTICE_DIMS,
                    "objective: { type: stochastic }", LATTICE, 1, 4),
            new Arm("normal4x", "normal training, 4× steps (cuts, recalibrated BN)", SHARED_BN, LATTICE_DIMS,
                    "objective: { type: standard }", LATTICE, 1, 4));

    /** arm → width → per-seed test accuracy. */
    private final Map<String, Map<Integer, double[]>> acc = new LinkedHashMap<>();
    private final Map<Integer, Long> flops = new LinkedHashMap<>();
    private int testBatches;

    @Test
    void regenerateTheSortedNetCnnSection() throws IOException {
        List<Long> seeds = Arrays.stream(System.getProperty("cnn.seeds", "42,43,44").split(",")).map(s -> Long.parseLong(s.trim())).toList();
        int steps = Integer.getInteger("cnn.steps", 1000);
        int batch = Integer.getInteger("cnn.batch", 64);
        String lr = System.getProperty("cnn.lr", "1e-2");
        Double.parseDouble(lr); // a malformed value fails here, not in the recipe
        int warmup = Integer.getInteger("cnn.warmup", Math.min(100, steps / 4));
        testBatches = Integer.getInteger("cnn.test-batches", 20);
        Path out = Path.of(System.getProperty("cnn.out", "target/sortednet-cnn/s" + steps + "-lr" + lr + "-w" + warmup));
        List<String> only = Arrays.stream(System.getProperty("cnn.arms", "").split(",")).map(String::trim).filter(a -> !a.isEmpty())
                .toList();
        PrintWriter log = new PrintWriter(System.out, true);
        boolean write = Boolean.parseBoolean(System.getProperty("cnn.report", "true"));
        long t0 = System.nanoTime();
        try (Manyfold host = Claims.host()) {
            for (int s = 0; s < seeds.size(); s++) {
                for (Arm arm : ARMS) {
                    if (!only.isEmpty() && !only.contains(arm.name())) {
                        continue;
                    }
                    Path run = out.resolve(arm.name() + "-" + seeds.get(s));
                    train(host, run, "name: " + arm.name() + "\n" + arm.model() + DATA + arm.dimensions() + arm.objective() + "\n"
                            + String.format(Locale.ROOT, "train: { steps: %d, batch: %d, lr: %s, warmup: %d, seed: %d }%n",
                                    steps * arm.stepFactor(), batch, lr, warmup, seeds.get(s)), log);
                    evaluate(host, run, arm, s, seeds.size(), log);
                }
            }
        }
        double minutes = (System.nanoTime() - t0) / 60e9;
        if (!write || !only.isEmpty()) {
            return; // a partial invocation (some seeds): runs and their widths.tsv only
        }
        Path dir = Files.createDirectories(Path.of("target", "claims"));
        plot(dir.resolve("sortednet-cnn.png"));
        log.printf(Locale.ROOT, "%.1f min wall%n", minutes);
        String markdown = report(seeds, steps, batch, lr, warmup);
        Files.writeString(dir.resolve("sortednet-cnn.md"), markdown);
        System.out.println(markdown);
        assertThat(markdown).contains("| ");
    }

    private static void train(Manyfold host, Path run, String yaml, PrintWriter log) {
        if (Boolean.getBoolean("cnn.wait")) {
            // Another invocation trains and evaluates this run: wait for its widths.tsv.
            while (!Files.exists(run.resolve("widths.tsv"))) {
                try {
                    Thread.sleep(10_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted waiting for " + run, e);
                }
            }
            return;
        }
        if (Files.exists(run.resolve("done"))) {
            log.println("reusing " + run);
            return;
        }
        try (Run p = TrainJob.prepare(host, Recipe.parse(yaml, run + "/recipe.yaml"), log)) {
            TrainJob.train(p, run, false, log, false);
            Files.writeString(run.resolve("done"), "");
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * Evaluates a run's widths on the test set (and, for the normal arm, the naive cuts), or reads
     * them from {@code <run>/widths.tsv} when an earlier invocation wrote it: seeds can then be
     * run by separate invocations and the report assembled by a last one.
     */
    private void evaluate(Manyfold host, Path run, Arm arm, int seedIndex, int seeds, PrintWriter log) throws IOException {
        Path cache = run.resolve("widths.tsv");
        if (!Files.exists(cache)) {
            StringBuilder tsv = new StringBuilder("arm\twidth\tflops\taccuracy\n");
            try (Run p = Claims.load(host, run)) {
                List<HostBatch> test = p.data().validation(testBatches);
                List<SubModel> subs = Arrays.stream(arm.widths()).mapToObj(w -> SubModel.of(Map.of("width", w))).toList();
                for (EvalRow row : EvalReport.evaluate(p.model(), test, subs, EvalReport.Task.CLASSIFICATION).rows()) {
                    tsv.append(String.format(Locale.ROOT, "%s\t%d\t%d\t%.6f%n", arm.name(), row.subModel().budgetOr("width", CHANNELS),
                            row.flops(), row.accuracy()));
                }
                if (arm.name().equals("normal")) {
                    // The naive cut: the full model's running BN statistics sliced to the width, no recalibration.
                    ((dev.manyfold.runtime.model.CnnModel) p.model()).batchNorm().orElseThrow().useRunningStatistics();
                    for (EvalRow row : EvalReport.evaluate(p.model(), test, subs, EvalReport.Task.CLASSIFICATION).rows()) {
                        tsv.append(String.format(Locale.ROOT, "naive\t%d\t%d\t%.6f%n", row.subModel().budgetOr("width", CHANNELS),
                                row.flops(), row.accuracy()));
                    }
                }
            }
            Files.writeString(cache, tsv.toString());
        }
        List<String> lines = Files.readAllLines(cache);
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split("\t");
            int w = Integer.parseInt(f[1]);
            acc.computeIfAbsent(f[0], a -> new LinkedHashMap<>()).computeIfAbsent(w, k -> new double[seeds])[seedIndex] =
                    Double.parseDouble(f[3]);
            flops.put(w, Long.parseLong(f[2]));
        }
        log.println("evaluated " + run);
    }

    private void plot(Path file) {
        Map<String, EvalReport> curves = new LinkedHashMap<>();
        for (Arm arm : ARMS) {
            List<EvalRow> rows = new ArrayList<>();
            acc.get(arm.name()).forEach((w, v) -> rows.add(new EvalRow(SubModel.of(Map.of("width", w)), 0, flops.get(w), Double.NaN,
                    mean(v))));
            curves.put(arm.label(), EvalReport.of(EvalReport.Task.CLASSIFICATION, rows));
        }
        EvalPlot.writeCurves(curves, file, EvalPlot.DEFAULT_WIDTH, EvalPlot.DEFAULT_HEIGHT);
    }

    private static double mean(double[] v) {
        return Arrays.stream(v).average().orElseThrow();
    }

    private static String pct(double[] v) {
        double m = mean(v);
        double sd = v.length < 2 ? 0 : Math.sqrt(Arrays.stream(v).map(x -> (x - m) * (x - m)).sum() / (v.length - 1));
        return String.format(Locale.ROOT, "%.2f ± %.2f", 100 * m, 100 * sd / Math.sqrt(v.length));
    }

    /** Per-seed mean accuracy of an arm over the given widths. */
    private double[] meanOver(String arm, int[] widths) {
        double[] out = new double[acc.get(arm).get(widths[0]).length];
        for (int w : widths) {
            double[] v = acc.get(arm).get(w);
            for (int s = 0; s < out.length; s++) {
                out[s] += v[s] / widths.length;
            }
        }
        return out;
    }

    private String report(List<Long> seeds, int steps, int batch, String lr, int warmup) {
        StringBuilder md = new StringBuilder();
        md.append(String.format(Locale.ROOT, "Seeds %s; %d optimiser steps of batch %d per arm (the 4× arms: %d), AdamW lr %s, %d linear"
                + " warmup steps, then cosine; CNN 16 channels, 1 residual block, BN after every convolution, shared BN recalibrated"
                + " on 10 training batches per width; the first %d test images. Accuracy %% is mean ± standard error over seeds.%n%n",
                seeds, steps, batch, 4 * steps, lr, warmup, testBatches * 100));
        md.append("| width | MFLOPs |");
        for (Arm arm : ARMS) {
            md.append(' ').append(arm.label()).append(" |");
        }
        md.append("\n|---|---|").append("---|".repeat(ARMS.size())).append('\n');
        for (int w : LATTICE) {
            md.append(String.format(Locale.ROOT, "| %d | %.2f |", w, flops.get(w) / 1e6));
            for (Arm arm : ARMS) {
                double[] v = acc.get(arm.name()).get(w);
                md.append(' ').append(v == null ? "—" : pct(v)).append(" |");
            }
            md.append('\n');
        }
        md.append("\nNaive cuts of the normal model without recalibration (the full model's running BN statistics sliced"
                + " to the width): ");
        md.append(String.join(", ", Arrays.stream(LATTICE).mapToObj(w -> "w" + w + " " + pct(acc.get("naive").get(w))).toList()))
                .append(".\n");
        md.append("\nForward/backward passes per optimiser step: ");
        md.append(String.join(", ", ARMS.stream().map(a -> a.label() + " " + a.forwards()).toList()))
                .append(String.format(Locale.ROOT, "; passes per arm in total: %s.%n", String.join(", ", ARMS.stream()
                        .map(a -> label(a.name()) + " " + a.forwards() * a.stepFactor() * steps).toList())));

        md.append("\nPaired differences (percentage points, 95% t interval over seeds; an ordering is claimed only where the"
                + " interval excludes zero):\n\n| comparison | Δ | ordering |\n|---|---|---|\n");
        int[] shared = SLIMMABLE;
        List<String[]> pairs = List.of(new String[] {"sortednet", "normal"}, new String[] {"usnets", "normal"},
                new String[] {"slimmable", "normal"}, new String[] {"sortednet", "slimmable"}, new String[] {"sortednet", "usnets"},
                new String[] {"usnets", "slimmable"}, new String[] {"sortednet4x", "normal"}, new String[] {"sortednet4x", "usnets"},
                new String[] {"sortednet4x", "slimmable"}, new String[] {"sortednet4x", "sortednet"}, new String[] {"sortednet4x", "normal4x"},
                new String[] {"normal4x", "normal"});
        for (String[] p : pairs) {
            row(md, label(p[0]) + " − " + label(p[1]) + ", mean over widths 4/8/12/16", Paired.of(meanOver(p[0], shared),
                    meanOver(p[1], shared)));
        }
        for (String[] p : List.of(new String[] {"sortednet", "normal"}, new String[] {"usnets", "normal"},
                new String[] {"sortednet", "usnets"}, new String[] {"sortednet4x", "normal"}, new String[] {"sortednet4x", "usnets"},
                new String[] {"sortednet4x", "normal4x"})) {
            row(md, label(p[0]) + " − " + label(p[1]) + ", mean over widths 2..16", Paired.of(meanOver(p[0], LATTICE),
                    meanOver(p[1], LATTICE)));
        }
        for (int w : new int[] {2, 4, 16}) {
            for (String[] p : List.of(new String[] {"sortednet", "normal"}, new String[] {"sortednet", "usnets"},
                    new String[] {"sortednet", "slimmable"}, new String[] {"sortednet4x", "normal"}, new String[] {"sortednet4x", "usnets"},
                    new String[] {"sortednet4x", "slimmable"}, new String[] {"sortednet4x", "normal4x"})) {
                double[] a = acc.get(p[0]).get(w);
                double[] b = acc.get(p[1]).get(w);
                if (a != null && b != null) {
                    row(md, label(p[0]) + " − " + label(p[1]) + ", width " + w, Paired.of(a, b));
                }
            }
        }
        return md.toString();
    }

    private static String label(String arm) {
        return switch (arm) {
            case "normal" -> "normal";
            case "sortednet" -> "SortedNet";
            case "usnets" -> "US-Nets";
            case "slimmable" -> "slimmable";
            case "sortednet4x" -> "SortedNet 4×";
            case "normal4x" -> "normal 4×";
            default -> arm;
        };
    }

    private static void row(StringBuilder md, String what, Paired p) {
        String verdict = p.above() ? "higher, beyond noise" : p.below() ? "lower, beyond noise" : "not separated from zero";
        md.append("| ").append(what).append(" | ").append(p.describe(100, 2)).append(" | ").append(verdict).append(" |\n");
    }
}
