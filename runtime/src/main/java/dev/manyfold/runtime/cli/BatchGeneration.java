package dev.manyfold.runtime.cli;

import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.decoder.Generation;
import dev.manyfold.api.decoder.LanguageModel;
import dev.manyfold.runtime.checkpoint.AtomicFiles;
import dev.manyfold.runtime.data.Tokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code generate --prompts-file FILE [--output OUT]}: one decode per prompt line, the texts
 * (prompt + continuation) written as documents separated by {@code %} lines, the format
 * {@code data.path} and {@code data.extra-train} read. This is how a run's own generations
 * become training data (on-policy distillation of its draft exits, docs/results.md).
 */
final class BatchGeneration {
    /** Progress lines on standard error: about this many over a run, and at least this often. */
    private static final int PROGRESS_LINES = 20;
    private static final long PROGRESS_NANOS = 30_000_000_000L;

    private final Path promptsFile;
    private final List<String> prompts;
    private final int maxNewTokens;
    private final Path output;

    BatchGeneration(Path promptsFile, List<String> prompts, int maxNewTokens, Path output) {
        this.promptsFile = promptsFile;
        this.prompts = prompts;
        this.maxNewTokens = maxNewTokens;
        this.output = output;
    }

    /**
     * The non-blank lines of {@code file} (a trailing {@code \r} removed).
     *
     * @throws IllegalArgumentException naming the file when it is missing, not a regular file,
     *     not UTF-8 or holds no prompt
     */
    static List<String> readPrompts(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("--prompts-file " + file + (Files.exists(file) ? " is not a regular file" : " does not exist"));
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("--prompts-file " + file + " is not valid UTF-8 text", e);
        } catch (IOException e) {
            throw new UncheckedIOException("--prompts-file " + file + ": " + e.getMessage(), e);
        }
        List<String> prompts = new ArrayList<>();
        for (String line : lines) {
            String p = line.endsWith("\r") ? line.substring(0, line.length() - 1) : line;
            if (!p.isBlank()) {
                prompts.add(p);
            }
        }
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException("--prompts-file " + file + " holds no prompt: one prompt per non-blank line");
        }
        return prompts;
    }

    int run(LanguageModel model, Tokenizer tokenizer, String decoder, Decoder d, String engine, PrintWriter out, PrintWriter err) {
        // Every prompt is checked before the first decode: a bad line late in a long file fails fast.
        List<int[]> encoded = new ArrayList<>(prompts.size());
        for (int i = 0; i < prompts.size(); i++) {
            int[] tokens = tokenizer.encode(prompts.get(i));
            if (tokens.length == 0 || tokens.length >= model.contextLength()) {
                throw new IllegalArgumentException("--prompts-file " + promptsFile + ", prompt " + (i + 1) + ": " + tokens.length
                        + " tokens; a prompt needs 1 to " + (model.contextLength() - 1) + " (the model's context is "
                        + model.contextLength() + ")");
            }
            encoded.add(tokens);
        }
        int eos = model.eosToken().orElse(-1);
        StringBuilder texts = new StringBuilder();
        long newTokens = 0;
        int stoppedAtEos = 0;
        int capped = 0;
        long started = System.nanoTime();
        long lastReport = started;
        int every = Math.max(1, prompts.size() / PROGRESS_LINES);
        for (int i = 0; i < prompts.size(); i++) {
            int[] tokens = encoded.get(i);
            int budget = Math.min(maxNewTokens, model.contextLength() - tokens.length);
            if (budget < maxNewTokens) {
                capped++;
            }
            Generation g = d.generate(model, tokens, budget, t -> {});
            int[] generated = g.tokens();
            int n = generated.length;
            if (n > 0 && generated[n - 1] == eos) {
                n--;
                stoppedAtEos++;
            }
            newTokens += generated.length;
            String text = prompts.get(i) + tokenizer.decode(java.util.Arrays.copyOf(generated, n));
            String document = document(text);
            if (output == null) {
                out.print(document);
                out.flush();
            } else {
                texts.append(document);
                long now = System.nanoTime();
                if ((i + 1) % every == 0 || now - lastReport > PROGRESS_NANOS || i + 1 == prompts.size()) {
                    lastReport = now;
                    double seconds = (now - started) / 1e9;
                    err.printf(Locale.ROOT, "generate: %d/%d prompts, %,d new tokens, %,.0f tokens/s, ETA %s%n", i + 1, prompts.size(),
                            newTokens, newTokens / seconds, dev.manyfold.runtime.train.Progress.duration(seconds / (i + 1) * (prompts.size() - i - 1)));
                    err.flush();
                }
            }
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        if (output != null) {
            try {
                Path parent = output.toAbsolutePath().getParent();
                if (parent != null) {
                    Files.createDirectories(parent);
                }
                AtomicFiles.write(output, texts.toString().getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new UncheckedIOException("--output " + output + ": " + e.getMessage(), e);
            }
        }
        PrintWriter summary = output == null ? err : out;
        summary.printf(Locale.ROOT, "%s %d texts (%,d new tokens, %.1f per prompt; %d stopped at EOS%s)%s in %.1f s: %,.0f tokens/s, decoder %s"
                + " on %s%n", output == null ? "generated" : "wrote", prompts.size(), newTokens, (double) newTokens / prompts.size(),
                stoppedAtEos, capped == 0 ? "" : "; " + capped + " capped by the context", output == null ? "" : " to " + output, seconds,
                newTokens / seconds, decoder, engine);
        summary.flush();
        return 0;
    }

    /**
     * {@code text} as one document of the {@code %}-separated format: a line of the text that
     * is only {@code %} would end the document early, so it gets a trailing space.
     */
    static String document(String text) {
        StringBuilder b = new StringBuilder(text.length() + 4);
        for (String line : text.split("\n", -1)) {
            b.append(line.strip().equals("%") ? line + " " : line).append('\n');
        }
        // split keeps a last empty piece after a final newline: one newline ends the text either way.
        int end = b.length();
        while (end > 1 && b.charAt(end - 1) == '\n' && b.charAt(end - 2) == '\n') {
            end--;
        }
        b.setLength(end);
        return b.append("%\n").toString();
    }
}
