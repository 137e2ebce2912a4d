package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.runtime.eval.Paired;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sorted LLaMA (SoFT) at small scale: a tiny LLaMA pretrained on most of the fortunes corpus,
 * then fine-tuned on the held-out technical fortunes with SFT, SoFT and SFT+ICT over three
 * paired seeds ({@link SoftRuns}). An ordering is asserted only where the paired differences'
 * 95% interval excludes zero ({@link Paired}); where the paper's claim is a tolerance (SoFT's
 * full depth close to SFT's), the interval's far end is held to it. The heavier version (more
 * seeds, the extracted fine-tuning baseline, instruction data) is {@link SoftExperiment},
 * {@code examples/soft-fidelity/run.sh}.
 */
class SoftClaimsTest {
    private static final long[] SEEDS = {2, 3, 4};

    @TempDir
    Path dir;

    @Test
    void softBeatsSftAndSftIctAtIntermediateExitsAndKeepsTheFullDepthBeyondSeedNoise() {
        SoftRuns runs = new SoftRuns(SoftRuns.Setting.text(dir, 500, 250, 150));
        Path pre = runs.pretrain();
        SoftRuns.Results r = new SoftRuns.Results();
        for (long seed : SEEDS) {
            Map<String, Path> arms = runs.train(pre, seed, List.of());
            runs.score(arms, seed, r);
        }
        Claims.report("soft", "SoFT tiny LLaMA (6 layers, dim 96), validation loss per exit, seeds " + r.seeds + "\n\n"
                + SoftRuns.lossTable(r, List.of("SFT", "SoFT", "SFT+ICT")) + "\n" + SoftRuns.exitTable(r) + "\nBy token position:\n\n"
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
    }
}
