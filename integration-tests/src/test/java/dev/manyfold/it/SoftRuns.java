package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.eval.EvalReport;
import dev.manyfold.runtime.eval.ExitAnalysis;
import dev.manyfold.runtime.eval.ExitProfile;
import dev.manyfold.runtime.eval.Paired;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.model.LlamaModel;
import dev.manyfold.runtime.data.HostBatch;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The Sorted LLaMA (SoFT) arms at small scale, shared by {@link SoftClaimsTest} (CI) and
 * {@link SoftExperiment} (more seeds and baselines): a tiny LLaMA pretrained once on most of the
 * fortunes corpus (or on the plain fortunes text before instruction tuning), then, per seed,
 * fine-tuned from that checkpoint with SFT (last layer), SoFT (all exits, Eq. 1), SFT+ICT (frozen
 * SFT trunk, one new head per exit) and "extracted fine-tuning" (the first n pretrained layers
 * exported as their own model and fine-tuned alone, the paper's capacity baseline). The fine-tune
 * seed also draws the train/validation split, so every arm of one seed is scored on the same
 * held-out documents and the arms are compared as paired differences over seeds.
 */
final class SoftRuns {
    static final List<Integer> EXITS = List.of(2, 3, 4, 5, 6);
    static final String MODEL = "model: { family: llama, dim: 96, layers: %d, heads: 4, ffn: 256, context: %d%s }\n";
    static final String HELD_OUT = "[computers, linux, linuxcookie, perl, debian]";
    static final String REST = "[\"*\", \"!computers\", \"!linux\", \"!linuxcookie\", \"!perl\", \"!debian\"]";
    static final String DEPTHS = "dimensions: { depth: { budgets: [2, 3, 4, 5, 6] } }\n";

    /** One experiment setting: where the runs go, the fine-tuning data and the step counts. */
    record Setting(Path dir, int context, int pretrainContext, String fineTuneData, int pretrainSteps, int fineTuneSteps, int ictSteps, int batch,
            int validationBatches) {
        /** The text setting of the paper-claim test: held-out technical fortunes, 48-token windows. */
        static Setting text(Path dir, int pretrainSteps, int fineTuneSteps, int ictSteps) {
            return new Setting(dir, 48, 48, "data: { type: text, context: 48, files: " + HELD_OUT + " }\n", pretrainSteps, fineTuneSteps,
                    ictSteps, 16, 40);
        }

        /**
         * The paper's Alpaca setting in miniature: instruction/answer pairs built from the fortunes
         * (examples/hf/fortunes-instructions.jsonl), loss on the answers only, 160-token rows.
         */
        static Setting instructions(Path dir, Path jsonl, int pretrainSteps, int fineTuneSteps, int ictSteps) {
            return instructions(dir, jsonl, 160, 96, pretrainSteps, fineTuneSteps, ictSteps, 100);
        }

        /**
         * The instruction setting with its sizes given: rows of {@code context} tokens, pretraining
         * windows of {@code pretrainContext}, {@code validationBatches} held-out batches of 8 rows (the
         * CI version in {@link SoftClaimsTest} shortens all three).
         */
        static Setting instructions(Path dir, Path jsonl, int context, int pretrainContext, int pretrainSteps, int fineTuneSteps, int ictSteps,
                int validationBatches) {
            return new Setting(dir, context, pretrainContext, "data: { type: instructions, path: " + jsonl + ", template: \""
                    + PROMPT.replace("\n", "\\n") + "\", context: " + context + ", validation: 0.15 }\n", pretrainSteps, fineTuneSteps,
                    ictSteps, 8, validationBatches);
        }
    }

    /** The instruction template of the instruction setting ({@code custom} followed by the prompt; the answer follows it). */
    static final String PROMPT = "custom Q: {instruction}\n{input}\nA: ";

    /** The instructions JSONL of the examples ({@code examples/hf/fortunes-instructions.jsonl}, or {@code -Dmanyfold.examples=DIR}). */
    static Path fortunesInstructions() {
        return Path.of(System.getProperty("manyfold.examples", "../examples"), "hf", "fortunes-instructions.jsonl").toAbsolutePath();
    }

    /** Per-seed results of every arm: loss per exit (index into {@link #EXITS}), exit statistics, profiles. */
    static final class Results {
        final Map<String, List<double[]>> loss = new LinkedHashMap<>();
        final Map<String, List<double[]>> kl = new LinkedHashMap<>();
        final Map<String, List<double[]>> cosine = new LinkedHashMap<>();
        final Map<String, List<ExitProfile>> profiles = new LinkedHashMap<>();
        final List<Long> seeds = new ArrayList<>();

        /** The arm's loss at exit {@code exit} over the seeds. */
        double[] loss(String arm, int exit) {
            return column(loss.get(arm), EXITS.indexOf(exit));
        }

        double[] kl(String arm, int exit) {
            return column(kl.get(arm), EXITS.indexOf(exit));
        }

        double[] cosine(String arm, int exit) {
            return column(cosine.get(arm), EXITS.indexOf(exit));
        }

        private static double[] column(List<double[]> rows, int i) {
            return rows.stream().mapToDouble(r -> r[i]).toArray();
        }

        /** {@code a − b} at one exit over the seeds. */
        Paired lossDifference(String a, String b, int exit) {
            return Paired.of(loss(a, exit), loss(b, exit));
        }

        static double mean(double[] xs) {
            return java.util.Arrays.stream(xs).average().orElse(Double.NaN);
        }
    }

    private final Setting setting;
    private final Manyfold host;

    /** Arms trained through the launcher ({@code bin/manyfold train}), as the claim tests do. */
    SoftRuns(Setting setting) {
        this(setting, null);
    }

    /**
     * Arms trained in this JVM on {@code host} (no launcher time limit: long experiments at
     * {@code nice -n 19}); with a null host, through the launcher.
     */
    SoftRuns(Setting setting, Manyfold host) {
        this.setting = setting;
        this.host = host;
    }

    private void train(Path recipe, Path run) {
        long t0 = System.nanoTime();
        if (host == null) {
            Claims.train(recipe, run);
        } else {
            java.io.PrintWriter log = new java.io.PrintWriter(java.io.PrintWriter.nullWriter());
            try (Run p = TrainJob.prepare(host, dev.manyfold.runtime.recipe.Recipe.parse(Files.readString(recipe),
                    recipe.toString()), log, run)) {
                TrainJob.train(p, run, false, log, false);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        clock(run.getFileName().toString().replaceFirst("-\\d+$", ""), t0);
    }

    /** Wall seconds spent per kind of work (run name without its seed, {@code export}, {@code score}), in first-use order. */
    private final Map<String, Double> seconds = new LinkedHashMap<>();

    private void clock(String what, long t0) {
        seconds.merge(what, (System.nanoTime() - t0) / 1e9, Double::sum);
    }

    /** Where the wall time went (summed over seeds), e.g. {@code "pretrain 80 s, sft 60 s, ..."}: the cost of each arm. */
    String costs() {
        return String.join(", ", seconds.entrySet().stream().map(e -> String.format(Locale.ROOT, "%s %.0f s", e.getKey(), e.getValue()))
                .toList());
    }

    private Path recipe(String name, String text) {
        try {
            return Files.writeString(setting.dir().resolve(name + ".yaml"), "name: " + name + "\n" + text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private String model(int layers, String extra) {
        return String.format(Locale.ROOT, MODEL, layers, setting.context(), extra);
    }

    private String fineTune(Object init, int steps, long seed) {
        return String.format(Locale.ROOT, "train: { init: %s, steps: %d, batch: %d, lr: 1e-3, warmup: 20, seed: %d, weight-decay: 0.01 }\n",
                init, steps, setting.batch(), seed);
    }

    private static boolean done(Path run) {
        return Files.isRegularFile(run.resolve("latest"));
    }

    /**
     * Pretrains once: last-layer loss on the fortunes outside the held-out files, in windows of
     * {@code pretrainContext} tokens (RoPE has no parameters, so the model's longer context is
     * reached in fine-tuning).
     */
    Path pretrain() {
        Path run = setting.dir().resolve("pretrain");
        if (!done(run)) {
            train(recipe("pretrain", model(6, "") + "data: { type: text, context: " + setting.pretrainContext() + ", files: " + REST + " }\n"
                    + "train: { steps: " + setting.pretrainSteps() + ", batch: 16, lr: 3e-3, warmup: 40, seed: 1, weight-decay: 0.01 }\n"),
                    run);
        }
        return run;
    }

    /**
     * Trains the arms for one seed (runs already present are reused) and returns their run
     * directories; {@code extracted} lists the depths of the extracted fine-tuning arms.
     */
    Map<String, Path> train(Path pre, long seed, List<Integer> extracted) {
        Map<String, Path> runs = new LinkedHashMap<>();
        Path sft = setting.dir().resolve("sft-" + seed);
        Path soft = setting.dir().resolve("soft-" + seed);
        Path ict = setting.dir().resolve("sft-ict-" + seed);
        if (!done(sft)) {
            train(recipe("sft-" + seed, model(6, "") + setting.fineTuneData() + DEPTHS + "objective: { type: standard }\n"
                    + fineTune(pre, setting.fineTuneSteps(), seed)), sft);
        }
        if (!done(soft)) {
            train(recipe("soft-" + seed, model(6, "") + setting.fineTuneData() + DEPTHS + "objective: { type: all-exits }\n"
                    + fineTune(pre, setting.fineTuneSteps(), seed)), soft);
        }
        if (setting.ictSteps() > 0 && !done(ict)) {
            train(recipe("sft-ict-" + seed, model(6, ", exit-heads: [2, 3, 4, 5]") + setting.fineTuneData() + DEPTHS
                    + "objective: { type: all-exits }\n" + "train: { init: " + sft + ", trainable: [\"exit_heads.**\"], steps: "
                    + setting.ictSteps() + ", batch: " + setting.batch() + ", lr: 1e-3, warmup: 10, seed: " + seed + " }\n"), ict);
        }
        runs.put("SFT", sft);
        runs.put("SoFT", soft);
        if (setting.ictSteps() > 0) {
            runs.put("SFT+ICT", ict);
        }
        {
            for (int n : extracted) {
                Path sub = setting.dir().resolve("pretrain-depth" + n + ".safetensors");
                if (!Files.isRegularFile(sub)) {
                    long t0 = System.nanoTime();
                    Cli.Result r = Cli.run("export", pre.toString(), "--sub-model", "depth=" + n, "-o", sub.toString());
                    assertThat(r.exit()).as(r.describe()).isZero();
                    clock("export", t0);
                }
                Path run = setting.dir().resolve("extracted" + n + "-" + seed);
                if (!done(run)) {
                    train(recipe("extracted" + n + "-" + seed, model(n, "") + setting.fineTuneData()
                            + "objective: { type: standard }\n" + fineTune(sub, setting.fineTuneSteps(), seed)), run);
                }
                runs.put("extracted-" + n, run);
            }
        }
        return runs;
    }

    /**
     * Scores one seed's arms on SoFT's held-out batches: loss at every exit (an extracted model
     * only at its own depth, NaN elsewhere), and for SFT and SoFT the exit KL / cosine with
     * their per-position profiles.
     */
    void score(Map<String, Path> runs, long seed, Results into) {
        into.seeds.add(seed);
        try (Manyfold host = Claims.host(); Run soft = Claims.load(host, runs.get("SoFT"))) {
            List<HostBatch> validation = soft.data().validation(setting.validationBatches());
            for (Map.Entry<String, Path> arm : runs.entrySet()) {
                long t0 = System.nanoTime();
                double[] losses = new double[EXITS.size()];
                java.util.Arrays.fill(losses, Double.NaN);
                try (Run p = Claims.load(host, arm.getValue())) {
                    LlamaModel model = (LlamaModel) p.model();
                    if (arm.getKey().startsWith("extracted-")) {
                        losses[EXITS.indexOf(model.layers())] = EvalReport.evaluate(model, validation, List.of(SubModel.FULL),
                                EvalReport.Task.LANGUAGE_MODEL).full().loss();
                    } else {
                        List<SubModel> exits = EXITS.stream().map(n -> n == 6 ? SubModel.FULL : SubModel.of("depth", n)).toList();
                        EvalReport report = EvalReport.evaluate(model, validation, exits, EvalReport.Task.LANGUAGE_MODEL);
                        report.rows().stream().sorted(Comparator.comparingInt(r -> r.subModel().budgetOr("depth", 6)))
                                .forEach(r -> losses[EXITS.indexOf(r.subModel().budgetOr("depth", 6))] = r.loss());
                    }
                    if (arm.getKey().equals("SFT") || arm.getKey().equals("SoFT")) {
                        ExitProfile profile = ExitAnalysis.profile(model, validation, EXITS.subList(0, EXITS.size() - 1),
                                model.parameters().manager());
                        double[] kl = new double[EXITS.size()];
                        double[] cos = new double[EXITS.size()];
                        profile.means().forEach(s -> {
                            kl[EXITS.indexOf(s.exit())] = s.kl();
                            cos[EXITS.indexOf(s.exit())] = s.cosine();
                        });
                        into.kl.computeIfAbsent(arm.getKey(), k -> new ArrayList<>()).add(kl);
                        into.cosine.computeIfAbsent(arm.getKey(), k -> new ArrayList<>()).add(cos);
                        into.profiles.computeIfAbsent(arm.getKey(), k -> new ArrayList<>()).add(profile);
                    }
                }
                into.loss.computeIfAbsent(arm.getKey(), k -> new ArrayList<>()).add(losses);
                clock("score " + arm.getKey(), t0);
            }
        }
    }

    /** Markdown: mean loss per arm and exit, then the paired differences against SoFT with their intervals. */
    static String lossTable(Results r, List<String> arms) {
        StringBuilder md = new StringBuilder("| exit |");
        arms.forEach(a -> md.append(' ').append(a).append(" |"));
        md.append("\n|---|").append("---|".repeat(arms.size())).append('\n');
        for (int e : EXITS) {
            md.append("| ").append(e).append(e == 6 ? " (full)" : "").append(" |");
            for (String a : arms) {
                double m = Results.mean(r.loss(a, e));
                md.append(Double.isNaN(m) ? " – |" : String.format(Locale.ROOT, " %.4f |", m));
            }
            md.append('\n');
        }
        md.append("\nPaired differences (other − SoFT, nats; mean ± SE [95% t interval], seeds ").append(r.seeds)
                .append("; **bold**: the interval excludes zero):\n\n| exit |");
        List<String> others = arms.stream().filter(a -> !a.equals("SoFT")).toList();
        others.forEach(a -> md.append(' ').append(a).append(" − SoFT |"));
        md.append("\n|---|").append("---|".repeat(others.size())).append('\n');
        for (int e : EXITS) {
            md.append("| ").append(e).append(" |");
            for (String a : others) {
                double[] x = r.loss(a, e);
                if (Double.isNaN(Results.mean(x))) {
                    md.append(" – |");
                    continue;
                }
                Paired p = Paired.of(x, r.loss("SoFT", e));
                String cell = String.format(Locale.ROOT, "%+.4f ± %.4f [%+.4f, %+.4f]", p.mean(), p.standardError(), p.low(), p.high());
                md.append(' ').append(p.inconclusive() ? cell : "**" + cell + "**").append(" |");
            }
            md.append('\n');
        }
        return md.toString();
    }

    /** Markdown: mean KL and cosine per exit for SFT and SoFT with the paired differences. */
    static String exitTable(Results r) {
        StringBuilder md = new StringBuilder("| exit | KL SFT | KL SoFT | KL SFT − SoFT | cosine SFT | cosine SoFT | cosine SoFT − SFT |\n"
                + "|---|---|---|---|---|---|---|\n");
        for (int e : EXITS.subList(0, EXITS.size() - 1)) {
            Paired kl = Paired.of(r.kl("SFT", e), r.kl("SoFT", e));
            Paired cos = Paired.of(r.cosine("SoFT", e), r.cosine("SFT", e));
            md.append(String.format(Locale.ROOT, "| %d | %.3f | %.3f | %s | %.3f | %.3f | %s |%n", e, Results.mean(r.kl("SFT", e)),
                    Results.mean(r.kl("SoFT", e)), cell(kl, 3), Results.mean(r.cosine("SFT", e)), Results.mean(r.cosine("SoFT", e)),
                    cell(cos, 3)));
        }
        return md.toString();
    }

    /** Markdown: KL and cosine of SFT and SoFT per exit at sampled positions, averaged over the seeds. */
    static String positionTable(Results r) {
        // the sampled positions of the shortest profile, so that every seed has every column
        ExitProfile first = r.profiles.values().stream().flatMap(List::stream).min(Comparator.comparingInt(ExitProfile::positions))
                .orElseThrow();
        List<Integer> ps = first.samplePositions();
        StringBuilder md = new StringBuilder("| exit | arm | measure |");
        ps.forEach(p -> md.append(" pos ").append(p).append(" |"));
        md.append("\n|---|---|---|").append("---|".repeat(ps.size())).append('\n');
        for (int k = 0; k < first.exits().size() - 1; k++) {
            for (String arm : List.of("SFT", "SoFT")) {
                for (String measure : List.of("KL", "cosine")) {
                    md.append("| ").append(first.exits().get(k)).append(" | ").append(arm).append(" | ").append(measure).append(" |");
                    for (int p : ps) {
                        double s = 0;
                        for (ExitProfile prof : r.profiles.get(arm)) {
                            s += measure.equals("KL") ? prof.kl(k, p) : prof.cosine(k, p);
                        }
                        md.append(String.format(Locale.ROOT, " %.3f |", s / r.profiles.get(arm).size()));
                    }
                    md.append('\n');
                }
            }
        }
        return md.toString();
    }

    static String cell(Paired p, int decimals) {
        String f = "%+." + decimals + "f";
        String cell = String.format(Locale.ROOT, f + " ± %." + decimals + "f [" + f + ", " + f + "]", p.mean(), p.standardError(),
                p.low(), p.high());
        return p.inconclusive() ? cell : "**" + cell + "**";
    }
}
