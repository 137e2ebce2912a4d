package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.eval.EvalReport;
import dev.manyfold.runtime.eval.ExitAnalysis;
import dev.manyfold.runtime.eval.ExitStat;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.model.LlamaModel;
import dev.manyfold.runtime.data.HostBatch;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sorted LLaMA (SoFT) at small scale: a tiny LLaMA pretrained on most of the fortunes
 * corpus, then fine-tuned on the held-out technical fortunes with SFT, SoFT and SFT+ICT.
 */
class SoftClaimsTest {
    private static final List<Integer> EXITS = List.of(2, 3, 4, 5, 6);
    private static final String MODEL = "model: { family: llama, dim: 96, layers: 6, heads: 4, ffn: 256%s }\n";
    private static final String FINE_TUNE_DATA = "data: { type: text, context: 48, files: [computers, linux, linuxcookie, perl, debian] }\n"
            + "dimensions: { depth: { budgets: [2, 3, 4, 5, 6] } }\n";

    @TempDir
    Path dir;

    private Path recipe(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name + ".yaml"), "name: " + name + "\n" + text);
    }

    @Test
    void softBeatsSftAndSftIctAtIntermediateExitsAndKeepsTheFullDepth() throws IOException {
        Path pre = dir.resolve("pretrain");
        Path sft = dir.resolve("sft");
        Path soft = dir.resolve("soft");
        Path ict = dir.resolve("sft-ict");
        Claims.train(recipe("pretrain", String.format(MODEL, "")
                + "data: { type: text, context: 48, files: [\"*\", \"!computers\", \"!linux\", \"!linuxcookie\", \"!perl\", \"!debian\"] }\n"
                + "train: { steps: 500, batch: 16, lr: 3e-3, warmup: 40, seed: 1, weight-decay: 0.01 }\n"), pre);
        String fineTune = "train: { init: %s, steps: 250, batch: 16, lr: 1e-3, warmup: 20, seed: 2, weight-decay: 0.01 }\n";
        Claims.train(recipe("sft", String.format(MODEL, "") + FINE_TUNE_DATA + "objective: { type: standard }\n"
                + String.format(fineTune, pre)), sft);
        Claims.train(recipe("soft", String.format(MODEL, "") + FINE_TUNE_DATA + "objective: { type: all-exits }\n"
                + String.format(fineTune, pre)), soft);
        Claims.train(recipe("sft-ict", String.format(MODEL, ", exit-heads: [2, 3, 4, 5]") + FINE_TUNE_DATA
                + "objective: { type: all-exits }\n"
                + "train: { init: " + sft + ", trainable: [\"exit_heads.**\"], steps: 150, batch: 16, lr: 1e-3, warmup: 10, seed: 2 }\n"),
                ict);

        try (Manyfold host = Claims.host(); Run pSft = Claims.load(host, sft); Run pSoft = Claims.load(host, soft);
                Run pIct = Claims.load(host, ict)) {
            List<HostBatch> validation = pSoft.data().validation(40);
            List<SubModel> exits = EXITS.stream().map(n -> SubModel.of("depth", n)).toList();
            double[] lSft = losses(EvalReport.evaluate(pSft.model(), validation, exits, EvalReport.Task.LANGUAGE_MODEL));
            double[] lSoft = losses(EvalReport.evaluate(pSoft.model(), validation, exits, EvalReport.Task.LANGUAGE_MODEL));
            double[] lIct = losses(EvalReport.evaluate(pIct.model(), validation, exits, EvalReport.Task.LANGUAGE_MODEL));
            List<Integer> intermediate = EXITS.subList(0, EXITS.size() - 1);
            List<ExitStat> aSft = exitStats(pSft, validation, intermediate);
            List<ExitStat> aSoft = exitStats(pSoft, validation, intermediate);

            StringBuilder table = new StringBuilder("SoFT tiny LLaMA (6 layers, dim 96), validation loss per exit\n"
                    + "exit   SFT      SoFT     SFT+ICT  KL(SFT) KL(SoFT) cos(SFT) cos(SoFT)\n");
            for (int i = 0; i < EXITS.size(); i++) {
                ExitStat ks = i < aSft.size() ? aSft.get(i) : null;
                ExitStat kt = i < aSoft.size() ? aSoft.get(i) : null;
                table.append(String.format(Locale.ROOT, "%-6d %-8.4f %-8.4f %-8.4f %-7s %-8s %-8s %s%n", EXITS.get(i), lSft[i], lSoft[i],
                        lIct[i], ks == null ? "-" : String.format(Locale.ROOT, "%.3f", ks.kl()),
                        kt == null ? "-" : String.format(Locale.ROOT, "%.3f", kt.kl()),
                        ks == null ? "-" : String.format(Locale.ROOT, "%.3f", ks.cosine()),
                        kt == null ? "-" : String.format(Locale.ROOT, "%.3f", kt.cosine())));
            }
            Claims.report("soft", table.toString());

            int last = EXITS.size() - 1;
            int beatIct = 0;
            for (int i = 0; i < last; i++) {
                assertThat(lSoft[i]).as("SoFT below SFT at exit %d", EXITS.get(i)).isLessThan(lSft[i]);
                beatIct += lSoft[i] < lIct[i] ? 1 : 0;
            }
            assertThat(beatIct).as("SoFT below SFT+ICT at most intermediate exits").isGreaterThan(last / 2);
            assertThat(lSoft[last]).as("SoFT full depth within 3% of SFT").isLessThanOrEqualTo(lSft[last] * 1.03);
            for (int i = 1; i < lSoft.length; i++) {
                assertThat(lSoft[i]).as("SoFT exit loss is monotone in depth").isLessThanOrEqualTo(lSoft[i - 1]);
            }
            for (int i = 0; i < intermediate.size(); i++) {
                assertThat(aSoft.get(i).kl()).as("KL at exit %d", intermediate.get(i)).isLessThan(aSft.get(i).kl());
                assertThat(aSoft.get(i).cosine()).as("cosine at exit %d", intermediate.get(i)).isGreaterThan(aSft.get(i).cosine());
            }
        }
    }

    private static List<ExitStat> exitStats(Run p, List<HostBatch> batches, List<Integer> exits) {
        List<ExitStat> all = ExitAnalysis.compute((LlamaModel) p.model(), batches, exits, p.model().parameters().manager());
        return exits.stream().map(e -> all.stream().filter(s -> s.exit() == e).findFirst().orElseThrow()).toList();
    }

    private static double[] losses(EvalReport report) {
        return report.rows().stream().sorted(java.util.Comparator.comparingInt(r -> r.subModel().budgetOr("depth", 6)))
                .mapToDouble(r -> r.loss()).toArray();
    }
}
