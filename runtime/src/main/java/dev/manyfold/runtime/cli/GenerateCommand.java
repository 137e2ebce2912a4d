package dev.manyfold.runtime.cli;

import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.decoder.Generation;
import dev.manyfold.runtime.data.Tokenizer;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.job.TrainJob;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "generate", description = "Generate text from a run or checkpoint, streaming tokens as they are final, then print the"
        + " decoder's statistics.")
final class GenerateCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "RUN_OR_CHECKPOINT", description = "A run directory (latest checkpoint) or a .safetensors checkpoint")
    Path path;

    @Option(names = "--decoder", paramLabel = "NAME",
            description = "Decoder (greedy, self-speculative, early-exit, ...). Default: the recipe's decode section, else greedy")
    String decoder;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "A decoder setting (repeatable), read as YAML: draft=2, "
            + "adaptive=true, thresholds={2: 0.9, 4: 0.8}, thresholds.2=0.9; errors name it as decode.KEY")
    List<String> sets = new ArrayList<>();

    @Option(names = "--prompt", paramLabel = "TEXT", description = "The prompt text (or --prompts-file)")
    String prompt;

    @Option(names = "--prompts-file", paramLabel = "FILE", description = "Generate for every non-blank line of FILE (UTF-8), one prompt per"
            + " line, each decoded on its own with the same decoder; the texts (prompt + continuation) go to --output, or to standard"
            + " output, as documents separated by lines holding only %%: the format data.path and data.extra-train read")
    Path promptsFile;

    @Option(names = {"--output", "-o"}, paramLabel = "FILE", description = "With --prompts-file: write the texts to FILE (replaced all at"
            + " once when every prompt is done) and report progress on standard error")
    Path output;

    @Option(names = "--engine", paramLabel = "ENGINE",
            description = "pytorch (DJL, default) or onnxruntime (the run exported to ONNX on first use, cached in RUN/onnx/);"
                    + " default: the recipe's decode.engine")
    String engine;

    @Option(names = "--max-new-tokens", defaultValue = "64", paramLabel = "N",
            description = "Tokens to generate at most (default ${DEFAULT-VALUE}; capped by the context)")
    int maxNewTokens;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (maxNewTokens < 0) {
            throw new IllegalArgumentException("--max-new-tokens must be >= 0, got " + maxNewTokens);
        }
        if ((prompt == null) == (promptsFile == null)) {
            throw new IllegalArgumentException(prompt == null ? "give --prompt TEXT or --prompts-file FILE"
                    : "--prompt and --prompts-file exclude each other: give one");
        }
        if (output != null && promptsFile == null) {
            throw new IllegalArgumentException("--output needs --prompts-file (a single --prompt streams to standard output)");
        }
        // A prompts file is read (and refused) before the model loads.
        BatchGeneration batch = promptsFile == null ? null
                : new BatchGeneration(promptsFile, BatchGeneration.readPrompts(promptsFile), maxNewTokens, output);
        if (prompt != null && prompt.indexOf('\uFFFD') >= 0) {
            throw new IllegalArgumentException("--prompt is not valid UTF-8: the bytes that are not were replaced by U+FFFD when the "
                    + "command line was read; pass the prompt as UTF-8");
        }
        if (EngineChoice.isOnnxExport(path)) {
            // An export directory: ONNX Runtime only, tokenizer and model from the graphs' metadata.
            if (engine != null && !engine.equals(dev.manyfold.runtime.onnx.Engines.ONNXRUNTIME)) {
                throw new IllegalArgumentException(path + " is an ONNX export; it runs on --engine onnxruntime only");
            }
            try (Manyfold host = main.host(); dev.manyfold.runtime.onnx.OrtLanguageModel model = dev.manyfold.runtime.onnx.Engines.open(path);
                    Tokenizer tokenizer = EngineChoice.tokenizer(model, path)) {
                DecoderSpecs.Spec chosen = chosen(host, Optional.empty());
                Decoder d = DecoderSpecs.create(host, chosen, new dev.manyfold.runtime.host.HostContext(0, Optional.empty(), Path.of("."),
                        out::println));
                return run(batch, model, tokenizer, chosen, d, dev.manyfold.runtime.onnx.Engines.ONNXRUNTIME, out, err);
            }
        }
        try (Manyfold host = main.host(); Run p = TrainJob.load(host, path, new PrintWriter(PrintWriter.nullWriter()))) {
            if (!(p.model() instanceof dev.manyfold.api.decoder.LanguageModel)) {
                throw new IllegalArgumentException(path + " holds a " + p.model().family() + " model; generate needs a language model (family llama)");
            }
            String engineName = EngineChoice.names(engine == null ? null : List.of(engine), p).get(0);
            Tokenizer tokenizer = p.data().tokenizer().orElseThrow(() -> new IllegalArgumentException(
                    path + " was trained on " + p.data().describe() + ", which has no tokenizer; generate needs text data"));
            DecoderSpecs.Spec chosen = chosen(host, DecoderSpecs.fromRecipe(p));
            // The recipe's own decoder as is: the one the run created (its factory runs once per generate).
            Decoder d = decoder == null && sets.isEmpty() && p.decoder().isPresent() ? p.decoder().get()
                    : DecoderSpecs.create(host, p, chosen, out);
            try (EngineChoice.Opened opened = EngineChoice.open(p, path, engineName)) {
                return run(batch, opened.model(), tokenizer, chosen, d, engineName, out, err);
            }
        }
    }

    /** The named decoder, else the recipe's, else the loaded plugins' default decoder ({@code DecoderFactory.isDefault}). */
    private DecoderSpecs.Spec chosen(Manyfold host, Optional<DecoderSpecs.Spec> fromRecipe) {
        DecoderSpecs.Spec base = decoder != null ? new DecoderSpecs.Spec(decoder, decoder, Map.of(), "decode")
                : fromRecipe.orElseGet(() -> {
                    String name = DecoderSpecs.defaultDecoder(host, "--decoder");
                    return new DecoderSpecs.Spec(name, name, Map.of(), "decode");
                });
        return new DecoderSpecs.Spec(base.label(), base.type(), DecoderSpecs.parse(sets, base.settings(), "--set "), "decode");
    }

    /** The one {@code --prompt}, streamed, or every line of the prompts file ({@code batch}). */
    private int run(BatchGeneration batch, dev.manyfold.api.decoder.LanguageModel model, Tokenizer tokenizer, DecoderSpecs.Spec chosen,
            Decoder d, String engineName, PrintWriter out, PrintWriter err) {
        return batch == null ? generate(model, tokenizer, chosen, d, engineName, out, err)
                : batch.run(model, tokenizer, chosen.describe(), d, engineName, out, err);
    }

    private int generate(dev.manyfold.api.decoder.LanguageModel model, Tokenizer tokenizer, DecoderSpecs.Spec chosen, Decoder d,
            String engineName, PrintWriter out, PrintWriter err) {
        int[] tokens = tokenizer.encode(prompt);
        if (tokens.length == 0) {
            throw new IllegalArgumentException("--prompt is empty: decoding needs at least one prompt token");
        }
        if (tokens.length > model.contextLength()) {
            throw new IllegalArgumentException("--prompt has " + tokens.length + " tokens but the model's context is "
                    + model.contextLength() + " tokens");
        }
        int budget = maxNewTokens;
        if (tokens.length + budget > model.contextLength()) {
            budget = model.contextLength() - tokens.length;
            err.printf("note: --max-new-tokens %d capped to %d (prompt %d tokens, context %d)%n", maxNewTokens, budget, tokens.length,
                    model.contextLength());
        }
        out.print(prompt);
        out.flush();
        Stream stream = new Stream(tokenizer, out);
        Generation g = d.generate(model, tokens, budget, stream::accept);
        stream.finish();
        out.println();
        out.println();
        out.printf(Locale.ROOT, "decoder %s: %d new tokens on %s%n", chosen.describe(), g.tokens().length, engineName);
        printStatistics(out, g);
        return 0;
    }

    /** The documented statistics first ({@link Generation#DOCUMENTED}), the decoder's own keys after, the histogram last. */
    static void printStatistics(PrintWriter out, Generation g) {
        Map<String, Double> statistics = g.statistics();
        for (String k : Generation.DOCUMENTED) {
            if (statistics.containsKey(k)) {
                out.printf(Locale.ROOT, "  %-22s %s%n", k, format(statistics.get(k)));
            }
        }
        statistics.forEach((k, v) -> {
            if (!Generation.DOCUMENTED.contains(k) && !k.startsWith(Generation.EXIT_HISTOGRAM)) {
                out.printf(Locale.ROOT, "  %-22s %s%n", k, format(v));
            }
        });
        List<String> histogram = new ArrayList<>();
        g.exitHistogram().forEach((d, c) -> histogram.add(d + ":" + Math.round(c)));
        if (!histogram.isEmpty()) {
            out.printf(Locale.ROOT, "  %-22s %s%n", "exit-histogram", String.join(" ", histogram));
        }
    }

    static String format(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e9 ? Long.toString((long) v) : String.format(Locale.ROOT, "%.4g", v);
    }

    /**
     * Prints the text of the tokens so far as each one arrives. The whole output is decoded
     * again each time and only the new suffix is printed; a suffix ending in U+FFFD (an
     * incomplete UTF-8 sequence of a byte tokenizer) waits for the next token.
     */
    static final class Stream {
        private final Tokenizer tokenizer;
        private final PrintWriter out;
        private final List<Integer> tokens = new ArrayList<>();
        private String printed = "";

        Stream(Tokenizer tokenizer, PrintWriter out) {
            this.tokenizer = tokenizer;
            this.out = out;
        }

        void accept(int token) {
            tokens.add(token);
            String text = text();
            if (!text.endsWith("\uFFFD")) {
                emit(text);
            }
        }

        void finish() {
            emit(text());
        }

        private String text() {
            return tokenizer.decode(tokens.stream().mapToInt(Integer::intValue).toArray());
        }

        private void emit(String text) {
            // Decoding is prefix-stable for byte and BPE tokenizers; should a tokenizer re-segment, only new length is shown.
            if (text.length() > printed.length()) {
                out.print(text.substring(printed.length()));
                out.flush();
                printed = text;
            }
        }
    }
}
