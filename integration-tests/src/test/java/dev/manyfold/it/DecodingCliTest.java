package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code generate} and {@code bench decode} with the bundled speculative plugin on a briefly trained tiny LLaMA. */
class DecodingCliTest {
    private static final String TINY_SOFT = """
            name: tiny-soft
            model: { family: llama, dim: 32, layers: 4, heads: 2, ffn: 64 }
            data: { type: text, context: 48, files: [computers] }
            dimensions: { depth: { budgets: [2, 4] } }
            objective: { type: all-exits }
            train: { steps: 30, batch: 8, lr: 3e-3, seed: 3, log-every: 10 }
            """;

    @TempDir
    static Path dir;

    static Path run;

    /** What training the run printed (its data line gives the train and validation token counts). */
    static String trainOutput;

    @BeforeAll
    static void train() throws IOException {
        Path recipe = Files.writeString(dir.resolve("tiny-soft.yaml"), TINY_SOFT);
        run = dir.resolve("run");
        Cli.Result r = Cli.run("train", recipe.toString(), "--run-dir", run.toString());
        assertThat(r.exit()).as(r.describe()).isZero();
        trainOutput = r.out();
    }

    /** The generated text: everything before the blank line that precedes the statistics. */
    private static String text(Cli.Result r) {
        return r.out().substring(0, r.out().indexOf("\n\ndecoder "));
    }

    @Test
    void generateStreamsTheContinuationAndPrintsTheStatistics() {
        Cli.Result r = Cli.run("generate", run.toString(), "--prompt", "The computer", "--max-new-tokens", "20");

        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).as(r.describe()).startsWith("The computer").contains("decoder greedy: ").contains("tokens-per-second")
                .contains("ms-per-token").contains("full-passes-per-token").contains("exit-histogram         4:");
    }

    @Test
    void selfSpeculativeAndGreedyGenerateTheSameText() {
        Cli.Result greedy = Cli.run("generate", run.toString(), "--decoder", "greedy", "--prompt", "Unix is", "--max-new-tokens", "30");
        Cli.Result speculative = Cli.run("generate", run.toString(), "--decoder", "self-speculative", "--set", "draft=2", "--set",
                "adaptive=true", "--prompt", "Unix is", "--max-new-tokens", "30");

        assertThat(greedy.exit()).as(greedy.describe()).isZero();
        assertThat(speculative.exit()).as(speculative.describe()).isZero();
        assertThat(text(speculative)).isEqualTo(text(greedy));
        assertThat(speculative.out()).contains("acceptance-rate").contains("mean-k").contains("rejection-ratio");
    }

    @Test
    void aPromptsFileGivesOneDocumentPerPromptThatTrainsAsExtraDataWithTheSameValidationSplit() throws IOException {
        Path prompts = Files.writeString(dir.resolve("prompts.txt"), "The computer\n\n  \nUnix is\r\n");
        Path out = dir.resolve("gen").resolve("generated.txt");

        Cli.Result r = Cli.run("generate", run.toString(), "--prompts-file", prompts.toString(), "--max-new-tokens", "20", "-o", out.toString());

        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.err()).as(r.describe()).contains("generate: 2/2 prompts");
        assertThat(r.out()).as(r.describe()).contains("wrote 2 texts (").contains(" to " + out).contains("decoder greedy");
        String[] docs = Files.readString(out).split("\n%\n");
        assertThat(docs).hasSize(2);
        Cli.Result single = Cli.run("generate", run.toString(), "--prompt", "Unix is", "--max-new-tokens", "20");
        assertThat(single.exit()).as(single.describe()).isZero();
        assertThat(docs[0]).startsWith("The computer");
        assertThat(docs[1].strip()).isEqualTo(text(single).strip());

        // The texts as data.extra-train: more training tokens, the same validation tokens as the run's own split.
        Path recipe = Files.writeString(dir.resolve("extra.yaml"), TINY_SOFT.replace("files: [computers]",
                "files: [computers], extra-train: [" + out + "]").replace("steps: 30", "steps: 2"));
        Cli.Result trained = Cli.run("train", recipe.toString(), "--run-dir", dir.resolve("extra-run").toString());
        assertThat(trained.exit()).as(trained.describe()).isZero();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\(([\\d,]+) train / ([\\d,]+) validation tokens").matcher(trained.out());
        assertThat(m.find()).as(trained.describe()).isTrue();
        assertThat(trained.out()).contains("+ extra-train [" + out + "]");
        java.util.regex.Matcher plain = java.util.regex.Pattern.compile("\\(([\\d,]+) train / ([\\d,]+) validation tokens")
                .matcher(trainOutput);
        assertThat(plain.find()).isTrue();
        assertThat(m.group(2)).isEqualTo(plain.group(2));
        assertThat(Long.parseLong(m.group(1).replace(",", ""))).isGreaterThan(Long.parseLong(plain.group(1).replace(",", "")));

        // Distillation-only: the same text as inputs without labels, trained by the all-exits objective's distillation term.
        Path distilled = Files.writeString(dir.resolve("distilled.yaml"), TINY_SOFT.replace("files: [computers]",
                "files: [computers], extra-train: [" + out + "], extra-train-labels: false").replace("steps: 30", "steps: 2")
                .replace("type: all-exits", "type: all-exits, distill: 0.9"));
        Cli.Result d = Cli.run("train", distilled.toString(), "--run-dir", dir.resolve("distilled-run").toString());
        assertThat(d.exit()).as(d.describe()).isZero();
        assertThat(d.out()).containsPattern("\\(unlabelled: [\\d,]+ tokens, distillation only\\)").contains(m.group(0));
    }

    @Test
    void promptsFileErrorsNameTheFileAndLineAndWriteNothing() throws IOException {
        Path prompts = Files.writeString(dir.resolve("long.txt"), "fine\n" + "x".repeat(60) + "\n");
        Path out = dir.resolve("never.txt");

        Cli.Result both = Cli.run("generate", run.toString(), "--prompt", "a", "--prompts-file", prompts.toString());
        Cli.Result neither = Cli.run("generate", run.toString());
        Cli.Result tooLong = Cli.run("generate", run.toString(), "--prompts-file", prompts.toString(), "-o", out.toString());
        Cli.Result missing = Cli.run("generate", run.toString(), "--prompts-file", dir.resolve("nope.txt").toString());
        Cli.Result outputAlone = Cli.run("generate", run.toString(), "--prompt", "a", "-o", out.toString());

        assertThat(both.exit()).isEqualTo(2);
        assertThat(both.err()).contains("--prompt and --prompts-file exclude each other");
        assertThat(neither.exit()).isEqualTo(2);
        assertThat(neither.err()).contains("give --prompt TEXT or --prompts-file FILE");
        assertThat(tooLong.exit()).as(tooLong.describe()).isEqualTo(2);
        assertThat(tooLong.err()).contains("--prompts-file " + prompts + ", prompt 2: 60 tokens; a prompt needs 1 to 47");
        assertThat(missing.exit()).isEqualTo(2);
        assertThat(missing.err()).contains("nope.txt does not exist");
        assertThat(outputAlone.exit()).isEqualTo(2);
        assertThat(outputAlone.err()).contains("--output needs --prompts-file");
        assertThat(out).doesNotExist();
    }

    @Test
    void badDecoderSettingsAreRefusedWithTheirPath() {
        Cli.Result draft = Cli.run("generate", run.toString(), "--decoder", "self-speculative", "--set", "draft=3", "--prompt", "a");
        assertThat(draft.exit()).as(draft.describe()).isEqualTo(2);
        assertThat(draft.err()).as(draft.describe()).contains("decode.draft").contains("not a trained exit").contains("[2, 4]");

        Cli.Result k = Cli.run("generate", run.toString(), "--decoder", "self-speculative", "--set", "draft=2", "--set", "k=0", "--prompt", "a");
        assertThat(k.exit()).as(k.describe()).isEqualTo(2);
        assertThat(k.err()).as(k.describe()).contains("decode.k");

        Cli.Result tau = Cli.run("generate", run.toString(), "--decoder", "early-exit", "--set", "thresholds={2: 1.5}", "--prompt", "a");
        assertThat(tau.exit()).as(tau.describe()).isEqualTo(2);
        assertThat(tau.err()).as(tau.describe()).contains("decode.thresholds.2").contains("outside (0, 1]");

        Cli.Result empty = Cli.run("generate", run.toString(), "--prompt", "");
        assertThat(empty.exit()).as(empty.describe()).isEqualTo(2);
        assertThat(empty.err()).as(empty.describe()).contains("prompt is empty");

        Cli.Result unknown = Cli.run("generate", run.toString(), "--decoder", "speculative", "--prompt", "a");
        assertThat(unknown.exit()).as(unknown.describe()).isEqualTo(2);
        assertThat(unknown.err()).as(unknown.describe()).contains("unknown decoder \"speculative\"").contains("self-speculative");
    }

    @Test
    void benchDecodeComparesDecodersOnTheSamePrompts() {
        Cli.Result r = Cli.run("bench", "decode", run.toString(), "--decoders", "greedy,self-speculative,early-exit", "--set",
                "self-speculative.draft=2", "--set", "early-exit.thresholds={2: 0.5}", "--prompts", "3", "--prompt-tokens", "8",
                "--max-new-tokens", "12", "--warmup", "1", "--eval-batches", "2");

        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).as(r.describe()).contains("tokens/s").contains("identical").contains("1.00x")
                .containsPattern("self-speculative +\\d+ .* 3/3 ").contains("teacher-forced validation loss");
    }
}
