package dev.manyfold.runtime.cli;

import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.decoder.Generation;
import dev.manyfold.api.decoder.LanguageModel;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.job.TrainJob;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "decode", description = "Compare decoders on the same prompts in one run: tokens/s and its ratio to greedy, "
        + "identical-output check, full passes per token, acceptance, mean K, exit histogram; early-exit decoders also get "
        + "the teacher-forced validation loss under their exit rule.")
final class BenchDecodeCommand implements Callable<Integer> {
    @ParentCommand
    BenchCommand bench;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "RUN_OR_CHECKPOINT", description = "A run directory (latest checkpoint) or a .safetensors checkpoint")
    Path path;

    @Option(names = "--decoders", split = ",", paramLabel = "[LABEL=]NAME",
            description = "Decoders to compare, comma-separated; LABEL names one for --set (default: its name). "
                    + "The first greedy-reference decoder (else the first) is the baseline. Default: the default decoder of the loaded plugins")
    List<String> decoders;

    @Option(names = "--set", paramLabel = "LABEL.KEY=VALUE",
            description = "A decoder setting (repeatable), read as YAML, e.g. self-speculative.draft=2 "
                    + "or early-exit.thresholds={2: 0.9}; errors name it as decoders.LABEL.KEY")
    List<String> sets = new ArrayList<>();

    @Option(names = "--prompts", defaultValue = "20", paramLabel = "N", description = "Prompts from the validation text (default ${DEFAULT-VALUE})")
    int prompts;

    @Option(names = "--prompt-tokens", defaultValue = "16", paramLabel = "N", description = "Tokens per prompt (default ${DEFAULT-VALUE})")
    int promptTokens;

    @Option(names = "--max-new-tokens", defaultValue = "48", paramLabel = "N", description = "New tokens per prompt (default ${DEFAULT-VALUE})")
    int maxNewTokens;

    @Option(names = "--warmup", defaultValue = "3", paramLabel = "N", description = "Untimed prompts per decoder first (default ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--repeat", defaultValue = "1", paramLabel = "N", description = "Passes over the prompts (default ${DEFAULT-VALUE})")
    int repeat;

    @Option(names = "--engine", split = ",", paramLabel = "ENGINE",
            description = "Engines, comma-separated: pytorch, onnxruntime; several run side by side on the same prompts, interleaved"
                    + " (default: the recipe's decode.engine, else pytorch)")
    List<String> engines;

    @Option(names = "--eval-batches", defaultValue = "10", paramLabel = "N",
            description = "Validation batches for the early-exit loss (default ${DEFAULT-VALUE}; 0 = skip)")
    int evalBatches;

    @Option(names = "--text", paramLabel = "FILE",
            description = "For an ONNX export directory (which has no validation text): a text file the prompts are taken from"
                    + " (evenly spaced windows, tokenized with the export's tokenizer)")
    Path text;

    @Option(names = "--floor", description = "Also measure the memory floor: weights read per full-model token over the read"
            + " bandwidth of a buffer of that size, and each greedy row's CPU per token as a multiple of it")
    boolean floor;

    /** Totals of one decoder over all timed prompts. */
    private static final class Totals {
        long tokens;
        double seconds;
        /** CPU time of the decoding thread while this decoder ran. */
        double cpuSeconds;
        double fullPasses;
        double drafted;
        double accepted;
        double rounds;
        double depth;
        long depthTokens;
        int identical;
        int compared;
        final TreeMap<Integer, Double> histogram = new TreeMap<>();
        final List<int[]> outputs = new ArrayList<>();

        void add(Generation g, double wallSeconds) {
            Map<String, Double> s = g.statistics();
            int n = g.tokens().length;
            tokens += n;
            seconds += wallSeconds;
            fullPasses += s.getOrDefault(Generation.FULL_PASSES_PER_TOKEN, 0.0) * n;
            if (g.meanExitDepth().isPresent()) {
                depth += g.meanExitDepth().getAsDouble() * n;
                depthTokens += n;
            }
            double r = s.getOrDefault(Generation.ROUNDS, 0.0);
            rounds += r;
            drafted += s.getOrDefault(Generation.MEAN_K, 0.0) * r;
            accepted += s.getOrDefault(Generation.ACCEPTANCE_RATE, 0.0) * s.getOrDefault(Generation.MEAN_K, 0.0) * r;
            g.exitHistogram().forEach((d, c) -> histogram.merge(d, c, Double::sum));
        }

        double tokensPerSecond() {
            return tokens / seconds;
        }
    }

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        if (prompts < 1 || promptTokens < 1 || maxNewTokens < 1 || warmup < 0 || repeat < 1 || evalBatches < 0) {
            throw new IllegalArgumentException("--prompts, --prompt-tokens, --max-new-tokens and --repeat must be >= 1; --warmup and"
                    + " --eval-batches >= 0");
        }
        if (EngineChoice.isOnnxExport(path)) {
            return export(out);
        }
        if (text != null) {
            throw new IllegalArgumentException("--text is for an ONNX export directory; " + path + " is a run, whose prompts come from its"
                    + " validation text");
        }
        try (Manyfold host = bench.main.host(); Run p = TrainJob.load(host, path, new PrintWriter(PrintWriter.nullWriter()))) {
            List<DecoderSpecs.Spec> specs = specs(host);
            if (!(p.model() instanceof LanguageModel model)) {
                throw new IllegalArgumentException(path + " holds a " + p.model().family() + " model; bench decode needs a language model");
            }
            if (promptTokens + maxNewTokens > model.contextLength()) {
                throw new IllegalArgumentException("--prompt-tokens " + promptTokens + " plus --max-new-tokens " + maxNewTokens
                        + " exceed the model's context of " + model.contextLength() + " tokens");
            }
            List<String> engineNames = EngineChoice.names(engines, p);
            List<EngineChoice.Opened> opened = new ArrayList<>();
            try {
                for (String e : engineNames) {
                    opened.add(EngineChoice.open(p, path, e));
                }
                List<int[]> promptList = prompts(p, model);
                return compare(host, p, model, specs, engineNames, opened, s -> DecoderSpecs.create(host, p, s, out), promptList,
                        "the validation text", out);
            } finally {
                opened.forEach(EngineChoice.Opened::close);
            }
        }
    }

    /**
     * An ONNX export directory on ONNX Runtime: decoders created without a run, prompts from
     * {@code --text}; no early-exit loss (no validation data) and no pytorch engine.
     */
    private int export(PrintWriter out) {
        if (engines != null && !engines.equals(List.of(dev.manyfold.runtime.onnx.Engines.ONNXRUNTIME))) {
            throw new IllegalArgumentException(path + " is an ONNX export; it runs on --engine onnxruntime only");
        }
        String content = EngineChoice.exportText(path, text, "validation text", "for the prompts");
        try (Manyfold host = bench.main.host(); dev.manyfold.runtime.onnx.OrtLanguageModel model = dev.manyfold.runtime.onnx.Engines.open(path);
                dev.manyfold.runtime.data.Tokenizer tokenizer = EngineChoice.tokenizer(model, path)) {
            List<DecoderSpecs.Spec> specs = specs(host);
            int[] tokens = tokenizer.encode(content);
            if (tokens.length < promptTokens + prompts) {
                throw new IllegalArgumentException("--text " + text + " has " + tokens.length + " tokens, too few for " + prompts
                        + " prompts of " + promptTokens + " tokens");
            }
            if (promptTokens + maxNewTokens > model.contextLength()) {
                throw new IllegalArgumentException("--prompt-tokens " + promptTokens + " plus --max-new-tokens " + maxNewTokens
                        + " exceed the model's context of " + model.contextLength() + " tokens");
            }
            List<int[]> promptList = new ArrayList<>();
            for (int i = 0; i < prompts; i++) {
                int s = (int) ((long) i * (tokens.length - promptTokens) / prompts);
                promptList.add(Arrays.copyOfRange(tokens, s, s + promptTokens));
            }
            dev.manyfold.runtime.host.HostContext context = new dev.manyfold.runtime.host.HostContext(0, java.util.Optional.empty(),
                    Path.of("."), out::println, java.util.Map.of(), model.exits());
            return compare(host, null, model, specs, List.of(dev.manyfold.runtime.onnx.Engines.ONNXRUNTIME),
                    List.of(new EngineChoice.Opened(model)), s -> DecoderSpecs.create(host, s, context), promptList, text.toString(), out);
        }
    }

    /** {@code p}: the run, or null for an export (no floor, no early-exit loss). */
    private int compare(Manyfold host, Run p, LanguageModel model, List<DecoderSpecs.Spec> decoderSpecs, List<String> engineNames,
            List<EngineChoice.Opened> opened, java.util.function.Function<DecoderSpecs.Spec, Decoder> create, List<int[]> promptList,
            String promptSource, PrintWriter out) {
        // One row per decoder and engine; with several engines the rows are labelled LABEL@ENGINE.
        List<Decoder> created = new ArrayList<>();
        List<LanguageModel> models = new ArrayList<>();
        List<DecoderSpecs.Spec> specs = new ArrayList<>();
        for (int e = 0; e < engineNames.size(); e++) {
            for (DecoderSpecs.Spec s : decoderSpecs) {
                created.add(create.apply(s));
                models.add(opened.get(e).model());
                specs.add(engineNames.size() == 1 ? s
                        : new DecoderSpecs.Spec(s.label() + "@" + engineNames.get(e), s.type(), s.settings(), s.path()));
            }
        }
        out.printf(Locale.ROOT, "model %s: %d layers, trained exits %s, context %d, vocabulary %d%n", path, model.layers(), model.exits(),
                model.contextLength(), model.vocabularySize());
        out.printf(Locale.ROOT, "%d prompts of %d tokens from %s, %d new tokens each (fewer on EOS), %d warm-up, %d pass(es)%n",
                promptList.size(), promptTokens, promptSource, maxNewTokens, warmup, repeat);
        for (EngineChoice.Opened o : opened) {
            if (o.model() instanceof dev.manyfold.runtime.onnx.OrtLanguageModel ort) {
                out.printf(Locale.ROOT, "onnxruntime: %s%n", ort.threadsNote());
            } else if (dev.manyfold.runtime.engine.PyTorchEngine.threadsNote() != null) {
                out.printf(Locale.ROOT, "pytorch: %s%n", dev.manyfold.runtime.engine.PyTorchEngine.threadsNote());
            }
        }
        for (int i = 0; i < Math.min(warmup, promptList.size()); i++) {
            for (int d = 0; d < created.size(); d++) {
                created.get(d).generate(models.get(d), promptList.get(i), maxNewTokens, t -> { });
            }
        }
        List<Totals> totals = new ArrayList<>();
        specs.forEach(s -> totals.add(new Totals()));
        for (int r = 0; r < repeat; r++) {
            for (int i = 0; i < promptList.size(); i++) {
                // Rotate the order per prompt so no decoder always runs first (or after the same one).
                for (int j = 0; j < created.size(); j++) {
                    int d = (i + j) % created.size();
                    long c0 = threadCpuNanos();
                    long t0 = System.nanoTime();
                    Generation g = created.get(d).generate(models.get(d), promptList.get(i), maxNewTokens, t -> { });
                    double seconds = (System.nanoTime() - t0) / 1e9;
                    totals.get(d).cpuSeconds += (threadCpuNanos() - c0) / 1e9;
                    totals.get(d).add(g, seconds);
                    if (r == 0) {
                        totals.get(d).outputs.add(g.tokens());
                    }
                }
            }
        }
        int baseline = baselineIndex(created);
        int perEngine = decoderSpecs.size();
        for (int row = 0; row < totals.size(); row++) {
            Totals t = totals.get(row);
            // Identical to the baseline decoder on the same engine (engines may differ in float rounding).
            Totals reference = totals.get(row / perEngine * perEngine + baseline % perEngine);
            for (int i = 0; i < t.outputs.size(); i++) {
                t.compared++;
                if (Arrays.equals(t.outputs.get(i), reference.outputs.get(i))) {
                    t.identical++;
                }
            }
        }
        boolean mismatch = report(out, specs, created, totals, baseline);
        if (engineNames.size() > 1) {
            out.printf(Locale.ROOT, "engines: %s; identical: equal to %s on the same engine%n", engineNames,
                    decoderSpecs.get(baseline % perEngine).label());
            int greedy = baseline % perEngine;
            for (int e = 0; e < engineNames.size(); e++) {
                for (int d = 0; d < perEngine; d++) {
                    int row = e * perEngine + d;
                    int engineGreedy = e * perEngine + greedy;
                    out.printf(Locale.ROOT, "  %s: %.2fx %s (CPU per token %.2fx), %.2fx %s%n", specs.get(row).label(),
                            totals.get(row).tokensPerSecond() / totals.get(d).tokensPerSecond(), specs.get(d).label(),
                            (totals.get(d).cpuSeconds / totals.get(d).tokens) / (totals.get(row).cpuSeconds / totals.get(row).tokens),
                            totals.get(row).tokensPerSecond() / totals.get(engineGreedy).tokensPerSecond(), specs.get(engineGreedy).label());
                }
            }
            out.printf(Locale.ROOT, "  load average %s%n", loadAverage());
        }
        if (floor && p != null && p.model().languageModel().isPresent()) {
            long bytes = dev.manyfold.runtime.onnx.MemoryFloor.weightBytesPerToken(p.model());
            double bandwidth = dev.manyfold.runtime.onnx.MemoryFloor.readBandwidth(bytes, 1000);
            double floorMs = bytes / bandwidth * 1e3;
            out.printf(Locale.ROOT, "memory floor: %.2f MB of F32 weights read per full-model token; read bandwidth over a buffer of that size"
                    + " %.1f GB/s (best pass, one thread, per CPU-second); floor %.3f ms/token%n", bytes / 1e6, bandwidth / 1e9, floorMs);
            for (int row = 0; row < specs.size(); row++) {
                if (specs.get(row).type().equals("greedy")) {
                    Totals t = totals.get(row);
                    out.printf(Locale.ROOT, "  %s: %.3f cpu-ms/t = %.2fx the floor%n", specs.get(row).label(), t.cpuSeconds / t.tokens * 1e3,
                            t.cpuSeconds / t.tokens * 1e3 / floorMs);
                }
            }
            out.printf(Locale.ROOT, "  load average %s%n", loadAverage());
        }
        if (evalBatches > 0 && p != null && p.model().languageModel().isPresent()) {
            var llama = p.model().languageModel().get();
            out.print("exits, teacher-forced on the validation text: loss / top-1 agreement with the full model:");
            for (EarlyExitLoss.ExitRow e : EarlyExitLoss.exits(llama, p.data().validation(evalBatches))) {
                out.printf(Locale.ROOT, "  %d: %.4f / %.3f", e.exit(), e.loss(), e.agreement());
            }
            out.println();
            for (int i = 0; i < decoderSpecs.size(); i++) { // the rule is the decoder's, whatever the engine
                var rule = created.get(i).exitRule();
                if (rule.isPresent()) {
                    EarlyExitLoss.Result e = EarlyExitLoss.evaluate(llama, p.data().validation(evalBatches), rule.get());
                    out.printf(Locale.ROOT, "%s: teacher-forced validation loss over %,d positions: full %.4f, early exit %.4f (%+.2f%%),"
                            + " mean exit depth %.2f, %s%n", decoderSpecs.get(i).label(), e.positions(), e.fullLoss(), e.exitLoss(),
                            100 * e.increase(), e.meanDepth(), decoderSpecs.get(i).describe());
                }
            }
        }
        if (mismatch) {
            out.println("FAILED: a greedy-equivalent decoder produced output different from the baseline");
            return 1;
        }
        return 0;
    }

    private List<DecoderSpecs.Spec> specs(Manyfold host) {
        Map<String, String> types = new LinkedHashMap<>();
        for (String entry : decoders != null ? decoders : List.of(DecoderSpecs.defaultDecoder(host, "--decoders"))) {
            String e = entry.trim();
            int eq = e.indexOf('=');
            String label = eq < 0 ? e : e.substring(0, eq).trim();
            String type = eq < 0 ? e : e.substring(eq + 1).trim();
            if (label.isEmpty() || type.isEmpty() || label.contains(".")) {
                throw new IllegalArgumentException("--decoders " + entry + ": expected NAME or LABEL=NAME (a label without dots)");
            }
            if (types.put(label, type) != null) {
                throw new IllegalArgumentException("--decoders names " + label + " twice; give each a label, e.g. spec2=self-speculative");
            }
        }
        Map<String, List<String>> perLabel = new LinkedHashMap<>();
        types.keySet().forEach(l -> perLabel.put(l, new ArrayList<>()));
        for (String set : sets) {
            int dot = set.indexOf('.');
            int eq = set.indexOf('=');
            if (dot <= 0 || eq < 0 || dot > eq || !perLabel.containsKey(set.substring(0, dot))) {
                throw new IllegalArgumentException("--set " + set + ": expected LABEL.KEY=VALUE with LABEL one of " + types.keySet());
            }
            perLabel.get(set.substring(0, dot)).add(set.substring(dot + 1));
        }
        List<DecoderSpecs.Spec> out = new ArrayList<>();
        types.forEach((label, type) -> out.add(new DecoderSpecs.Spec(label, type,
                DecoderSpecs.parse(perLabel.get(label), Map.of(), "--set " + label + "."), "decoders." + label)));
        return out;
    }

    /** CPU time of the decoding thread: all of ONNX Runtime's work with one intra-op thread; a lower bound for multi-threaded engines. */
    private static long threadCpuNanos() {
        return java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
    }

    private static String loadAverage() {
        try {
            return java.nio.file.Files.readString(java.nio.file.Path.of("/proc/loadavg")).trim();
        } catch (java.io.IOException e) {
            return String.format(Locale.ROOT, "%.2f", java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
        }
    }

    /** The first decoder that is the greedy reference ({@link Decoder.Capability#GREEDY_REFERENCE}), else the first. */
    private static int baselineIndex(List<Decoder> decoders) {
        for (int i = 0; i < decoders.size(); i++) {
            if (decoders.get(i).capabilities().contains(Decoder.Capability.GREEDY_REFERENCE)) {
                return i;
            }
        }
        return 0;
    }

    /**
     * Prompts of {@code promptTokens} tokens starting at document starts of the validation
     * text (no EOS inside), evenly spaced over the text; deterministic.
     */
    private List<int[]> prompts(Run p, LanguageModel model) {
        int[] text = p.data().validationTokens().orElseThrow(() -> new IllegalArgumentException(
                path + " was trained on " + p.data().describe() + ", which has no validation text"));
        int eos = model.eosToken().orElse(-1);
        List<Integer> starts = new ArrayList<>();
        for (int s = 0; s + promptTokens <= text.length; s++) {
            if (s == 0 || text[s - 1] == eos) {
                boolean clean = true;
                for (int i = s; i < s + promptTokens && clean; i++) {
                    clean = text[i] != eos;
                }
                if (clean) {
                    starts.add(s);
                }
            }
        }
        if (starts.size() < prompts) {
            throw new IllegalArgumentException("the validation text has only " + starts.size() + " documents of at least " + promptTokens
                    + " tokens; ask for fewer --prompts or shorter --prompt-tokens");
        }
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < prompts; i++) {
            int s = starts.get((int) ((long) i * starts.size() / prompts));
            out.add(Arrays.copyOfRange(text, s, s + promptTokens));
        }
        return out;
    }

    private static boolean report(PrintWriter out, List<DecoderSpecs.Spec> specs, List<Decoder> decoders, List<Totals> totals, int baseline) {
        int width = Math.max(18, specs.stream().mapToInt(s -> s.label().length()).max().orElse(0));
        String label = "%-" + width + "s";
        out.printf(Locale.ROOT, "%n" + label + " %7s %9s %9s %9s %8s %10s %11s %7s %7s %7s  %s%n", "decoder", "tokens", "tokens/s", "ms/token",
                "cpu-ms/t", "speed", "identical", "full-pass/t", "accept", "mean-K", "depth", "exit-histogram");
        boolean mismatch = false;
        double base = totals.get(baseline).tokensPerSecond();
        for (int i = 0; i < specs.size(); i++) {
            Totals t = totals.get(i);
            StringBuilder histogram = new StringBuilder();
            t.histogram.forEach((d, c) -> histogram.append(histogram.length() == 0 ? "" : " ").append(d).append(':').append(Math.round(c)));
            boolean mustMatch = decoders.get(i).capabilities().contains(Decoder.Capability.EQUALS_GREEDY)
                    && decoders.get(baseline).capabilities().contains(Decoder.Capability.GREEDY_REFERENCE);
            boolean ok = t.identical == t.compared;
            mismatch |= mustMatch && !ok;
            out.printf(Locale.ROOT, label + " %7d %9.1f %9.3f %9.3f %7.2fx %10s %11.3f %7s %7s %7s  %s%n", specs.get(i).label(), t.tokens,
                    t.tokensPerSecond(), 1000 * t.seconds / t.tokens, 1000 * t.cpuSeconds / t.tokens, t.tokensPerSecond() / base,
                    t.identical + "/" + t.compared + (mustMatch && !ok ? "!" : ""), t.fullPasses / t.tokens,
                    t.drafted > 0 ? String.format(Locale.ROOT, "%.3f", t.accepted / t.drafted) : "-",
                    t.rounds > 0 ? String.format(Locale.ROOT, "%.2f", t.drafted / t.rounds) : "-",
                    t.depthTokens > 0 ? String.format(Locale.ROOT, "%.2f", t.depth / t.depthTokens) : "-", histogram);
        }
        out.println();
        for (int i = 0; i < specs.size(); i++) {
            out.printf(Locale.ROOT, "  " + label + " %s%n", specs.get(i).label(), specs.get(i).describe());
        }
        out.printf(Locale.ROOT, "(speed: tokens/s relative to %s, same prompts, interleaved in one process; identical: outputs equal to %s's;"
                + " cpu-ms/t: CPU time per token of the decoding thread, which is all of ONNX Runtime's with 1 intra-op thread"
                + " and a lower bound for PyTorch's OpenMP workers)%n", specs.get(baseline).label(), specs.get(baseline).label());
        return mismatch;
    }
}
