package dev.manyfold.runtime.cli;

import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.recipe.Recipe;
import dev.manyfold.runtime.train.Trainer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "bench", description = "Benchmarks, measured in one process so that ratios are comparable.",
        subcommands = {BenchCommand.Train.class, BenchDecodeCommand.class, BenchServeCommand.class})
final class BenchCommand implements Runnable {
    @ParentCommand
    Main main;

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Command(name = "train", description = "Training step time, throughput and peak memory of one or more recipes; "
            + "ratios are against the first recipe, measured in the same run.")
    static final class Train implements Callable<Integer> {
        @ParentCommand
        BenchCommand bench;

        @Spec
        CommandSpec spec;

        @Parameters(paramLabel = "RECIPE", arity = "1..*", description = "Recipes; the first is the baseline")
        List<Path> recipes;

        @Option(names = "--steps", defaultValue = "30", description = "Timed steps per repetition (default ${DEFAULT-VALUE})")
        int steps;

        @Option(names = "--warmup", defaultValue = "5", description = "Untimed steps first (default ${DEFAULT-VALUE})")
        int warmup;

        @Option(names = "--repeat", defaultValue = "3", description = "Interleaved repetitions; the median is reported (default ${DEFAULT-VALUE})")
        int repeat;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            if (steps < 1 || warmup < 0 || repeat < 1) {
                throw new IllegalArgumentException("--steps and --repeat must be >= 1 and --warmup >= 0");
            }
            List<Recipe> loaded = recipes.stream().map(Recipe::load).toList();
            List<List<Double>> stepSeconds = new ArrayList<>();
            List<Long> peak = new ArrayList<>();
            List<Double> items = new ArrayList<>();
            List<String> units = new ArrayList<>();
            for (int i = 0; i < loaded.size(); i++) {
                stepSeconds.add(new ArrayList<>());
                peak.add(0L);
                items.add(0.0);
                units.add("");
            }
            try (Manyfold host = bench.main.host()) {
                for (int r = 0; r < repeat; r++) {
                    for (int i = 0; i < loaded.size(); i++) {
                        resetPeakRss();
                        try (Run p = TrainJob.prepare(host, loaded.get(i), new PrintWriter(PrintWriter.nullWriter()))) {
                            String threads = TrainCommand.trainingThreads(p); // what train would use for this recipe's model
                            if (r == 0) {
                                out.printf("  %s: pytorch: %s%n", loaded.get(i).name(), threads);
                            }
                            Trainer trainer = TrainJob.trainer(p, Path.of(System.getProperty("java.io.tmpdir")), out, false);
                            Trainer.Timing t = trainer.benchmark(warmup, steps);
                            stepSeconds.get(i).add(t.seconds() / t.steps());
                            items.set(i, items.get(i) + t.itemsPerSecond() / repeat);
                            units.set(i, p.data().isText() ? "tokens/s" : "examples/s");
                            peak.set(i, Math.max(peak.get(i), peakRssKb()));
                        }
                        out.printf(Locale.ROOT, "  repetition %d/%d %s: %.2f ms/step%n", r + 1, repeat, loaded.get(i).name(),
                                1000 * stepSeconds.get(i).get(r));
                    }
                }
            }
            out.printf(Locale.ROOT, "%n%-32s %10s %10s %14s %12s %8s %8s%n", "recipe", "ms/step", "steps/s", "throughput", "peak RSS",
                    "time×", "memory×");
            double base = median(stepSeconds.get(0));
            for (int i = 0; i < loaded.size(); i++) {
                double m = median(stepSeconds.get(i));
                out.printf(Locale.ROOT, "%-32s %10.2f %10.2f %,10.0f %s %9.0f MB %7.2fx %7.2fx%n", loaded.get(i).name(), 1000 * m, 1 / m,
                        items.get(i), units.get(i), peak.get(i) / 1024.0, m / base, (double) peak.get(i) / Math.max(1, peak.get(0)));
            }
            out.printf(Locale.ROOT, "(median of %d interleaved repetitions of %d steps after %d warm-up steps; peak RSS is the process's)%n",
                    repeat, steps, warmup);
            return 0;
        }
    }

    static double median(List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    /** Resets the kernel's peak-RSS counter (VmHWM) of this process, where Linux allows it. */
    static void resetPeakRss() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        } catch (IOException | RuntimeException ignored) {
            // not Linux or not permitted: the peak then covers the whole process lifetime
        }
    }

    /** Peak resident set size in KiB (VmHWM), or 0 when unknown. */
    static long peakRssKb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // fall through
        }
        return 0;
    }
}
