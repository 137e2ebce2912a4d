package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.runtime.data.ByteTokenizer;
import dev.manyfold.runtime.data.HostBatch;
import dev.manyfold.runtime.data.InstructionData;
import dev.manyfold.runtime.eval.Paired;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.model.LlamaModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sorted LLaMA (SoFT) at small scale: a tiny LLaMA pretrained on most of the fortunes corpus,
 * then fine-tuned on the held-out technical fortunes with SFT, SoFT, SFT+ICT and extracted
 * fine-tuning (depth 2) over three paired seeds ({@link SoftRuns}); and, from the same
 * pretrained model, SFT and SoFT on instruction data with the loss on the answers only. An
 * ordering is asserted only where the paired differences' 95% interval excludes zero
 * ({@link Paired}); where the paper's claim is a tolerance (SoFT's full depth close to SFT's), the
 * interval's far end is held to it. The heavier version (more seeds, every extracted depth,
 * longer instruction tuning) is {@link SoftExperiment}, {@code examples/soft-fidelity/run.sh}.
 */
class SoftClaimsTest {
    private static final long[] SEEDS = {2, 3, 4};
    /** Fine-tuning steps of the instruction-data arms (the heavy version: 300). */
    private static final int INSTRUCTION_STEPS = 40;

    /** Shared by the tests: the pretraining runs once, the second test reuses it. */
    @TempDir
    static Path dir;

    private static SoftRuns text() {
        return new SoftRuns(SoftRuns.Setting.text(dir, 500, 250, 150));
    }

    @Test
    void softBeatsSftAndSftIctAtIntermediateExitsAndKeepsTheFullDepthBeyondSeedNoise() throws IOException {
        SoftRuns runs = text();
        long t0 = System.nanoTime();
        Path pre = runs.pretrain();
        SoftRuns.Results r = new SoftRuns.Results();
        for (long seed : SEEDS) {
            Map<String, Path> arms = runs.train(pre, seed, List.of(2));
            runs.score(arms, seed, r);
        }
        List<String> arms = List.of("SFT", "SoFT", "SFT+ICT", "extracted-2");
        String table = SoftRuns.lossTable(r, arms);
        Claims.report("soft", String.format(Locale.ROOT, "SoFT tiny LLaMA (6 layers, dim 96), validation loss per exit, seeds %s (%.0f s: %s)%n%n",
                r.seeds, (System.nanoTime() - t0) / 1e9, runs.costs()) + table + "\n" + SoftRuns.exitTable(r) + "\nBy token position:\n\n"
                + SoftRuns.positionTable(r));

        List<Integer> intermediate = SoftRuns.EXITS.subList(0, SoftRuns.EXITS.size() - 1);
        int beatIct = 0;
        for (int e : intermediate) {
            assertThat(r.lossDifference("SFT", "SoFT", e).above()).as("SFT − SoFT at exit %d: %s", e, r.lossDifference("SFT", "SoFT", e))
                    .isTrue();
            Paired ict = r.lossDifference("SFT+ICT", "SoFT", e);
            assertThat(ict.below()).as("SFT+ICT not below SoFT beyond noise at exit %d: %s", e, ict).isFalse();
            beatIct += ict.above() ? 1 : 0;
            Paired kl = Paired.of(r.kl("SFT", e), r.kl("SoFT", e));
            assertThat(kl.above()).as("KL(SFT) − KL(SoFT) at exit %d: %s", e, kl).isTrue();
            Paired cos = Paired.of(r.cosine("SoFT", e), r.cosine("SFT", e));
            assertThat(cos.above()).as("cosine(SoFT) − cosine(SFT) at exit %d: %s", e, cos).isTrue();
        }
        assertThat(beatIct).as("SoFT below SFT+ICT beyond noise at most intermediate exits").isGreaterThan(intermediate.size() / 2);
        Paired full = r.lossDifference("SoFT", "SFT", 6);
        double sft = SoftRuns.Results.mean(r.loss("SFT", 6));
        assertThat(full.high()).as("SoFT − SFT at full depth (%s) stays within 3%% of SFT's %.4f", full, sft)
                .isLessThanOrEqualTo(0.03 * sft);
        for (int i = 1; i < SoftRuns.EXITS.size(); i++) {
            Paired step = Paired.of(r.loss("SoFT", SoftRuns.EXITS.get(i)), r.loss("SoFT", SoftRuns.EXITS.get(i - 1)));
            assertThat(step.above()).as("SoFT exit loss does not rise with depth (exit %d): %s", SoftRuns.EXITS.get(i), step).isFalse();
        }

        // Extracted fine-tuning (the paper's capacity baseline): the first two pretrained layers
        // exported as a model of their own, fine-tuned alone with SoFT's data, steps and seed.
        try (Manyfold host = Claims.host(); Run extracted = Claims.load(host, dir.resolve("extracted2-" + SEEDS[0]))) {
            assertThat(((LlamaModel) extracted.model()).layers()).as("the extracted model's layers").isEqualTo(2);
        }
        for (int e : SoftRuns.EXITS) {
            double[] loss = r.loss("extracted-2", e);
            assertThat(Arrays.stream(loss).boxed().toList()).as("extracted-2 is scored at its own depth only (exit %d)", e)
                    .allMatch(x -> e == 2 ? Double.isFinite(x) && x > 0 : Double.isNaN(x));
        }
        assertThat(table).as("the loss table has the extracted arm's column").contains("| extracted-2 |", "extracted-2 − SoFT");
        Paired capacity = r.lossDifference("extracted-2", "SoFT", 2);
        assertThat(capacity.below()).as("extracted fine-tuning below SoFT's exit 2 beyond noise: %s", capacity).isTrue();
    }

    @Test
    void softBeatsSftAtIntermediateExitsOnInstructionDataWithTheLossOnAnswersOnly() throws IOException {
        Path pre = text().pretrain(); // reused when the other test ran first
        long t0 = System.nanoTime();
        SoftRuns.Results r = new SoftRuns.Results();
        String costs;
        try (Manyfold host = Claims.host()) {
            // rows of 128 tokens (the heavy version: 160; every prompt fits, the longest is 130 bytes),
            // 5 held-out batches of 8 rows (40 of the ~79 held-out examples) scored per seed
            SoftRuns runs = new SoftRuns(SoftRuns.Setting.instructions(Files.createDirectories(dir.resolve("instructions")),
                    SoftRuns.fortunesInstructions(), 128, 48, 0, INSTRUCTION_STEPS, 0, 5), host);
            Map<String, Path> first = null;
            for (long seed : SEEDS) {
                Map<String, Path> arms = runs.train(pre, seed, List.of());
                runs.score(arms, seed, r);
                first = first == null ? arms : first;
            }
            assertAnswerOnlyLabels(host, first.get("SoFT"));
            costs = runs.costs();
        }
        Claims.report("soft-instructions", String.format(Locale.ROOT, "SoFT on instruction data (answers only), %d steps from the text "
                + "pretraining, seeds %s (%.0f s: %s)%n%n", INSTRUCTION_STEPS, r.seeds, (System.nanoTime() - t0) / 1e9, costs)
                + SoftRuns.lossTable(r, List.of("SFT", "SoFT")) + "\n" + SoftRuns.exitTable(r));
        // Exits 2-4 were 13-17 standard errors above zero and every KL difference 14-25; exit 5's
        // loss difference was 6 (+0.034 ± 0.006, interval [+0.010, +0.058]): decisive, but too close
        // to the t threshold (4.3) to assert, so there only the opposite ordering is excluded.
        for (int e : SoftRuns.EXITS.subList(0, SoftRuns.EXITS.size() - 1)) {
            Paired d = r.lossDifference("SFT", "SoFT", e);
            assertThat(d.below()).as("SFT not below SoFT on answer tokens at exit %d: %s", e, d).isFalse();
            if (e <= 4) {
                assertThat(d.above()).as("SFT − SoFT on answer tokens at exit %d: %s", e, d).isTrue();
            }
            Paired kl = Paired.of(r.kl("SFT", e), r.kl("SoFT", e));
            assertThat(kl.above()).as("KL(SFT) − KL(SoFT) on answer tokens at exit %d: %s", e, kl).isTrue();
        }
    }

    /**
     * The loss counts answer tokens only: in every held-out row the labels are ignored up to the
     * position whose input is the prompt's last token ({@code "\nA: "}), and counted from there.
     */
    private static void assertAnswerOnlyLabels(Manyfold host, Path run) {
        ByteTokenizer bytes = new ByteTokenizer();
        try (Run p = Claims.load(host, run)) {
            List<HostBatch> batches = p.data().validation(2);
            assertThat(batches).isNotEmpty();
            for (HostBatch b : batches) {
                int seq = (int) b.labelShape()[1];
                for (int row = 0; row < b.size(); row++) {
                    int[] labels = Arrays.copyOfRange(b.labels(), row * seq, (row + 1) * seq);
                    int[] tokens = Arrays.copyOfRange(b.tokens(), row * seq, (row + 1) * seq);
                    int answer = 0;
                    while (answer < seq && labels[answer] == InstructionData.IGNORE) {
                        answer++;
                    }
                    assertThat(answer).as("row %d has a prompt and an answer", row).isGreaterThan(0).isLessThan(seq);
                    assertThat(bytes.decode(Arrays.copyOf(tokens, answer + 1))).as("the inputs up to the first counted label")
                            .startsWith("Q: ").endsWith("\nA: ");
                    if (answer + 1 < seq) {
                        assertThat(labels[answer]).as("the first counted label is the next input").isEqualTo(tokens[answer + 1]);
                    }
                }
                assertThat(b.labelCount()).as("prompt positions are not counted").isLessThan((long) b.size() * seq);
            }
        }
    }
}
