package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.runtime.eval.Paired;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.recipe.Recipe;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CI version of {@link DseeClassifyExperiment}: the classification path (instruction data,
 * {@code last-token} objective, held-out accuracy at the prompt's last token) and the GreBsmo
 * report with the authors' settings, on a task small enough to train in seconds: a string of
 * six random letters from one half of the alphabet (a–h or i–p) is classified by that half.
 * The model is not pre-trained; the adapters on Wq and Wv alone must learn it.
 */
class DseeClassifyTest {
    static final String MODEL = "model: { family: llama, dim: 16, layers: 1, heads: 2, ffn: 24 }\n";

    @TempDir
    static Path tmp;

    static Manyfold host;
    static Path train;
    static List<DseeClassifyExperiment.Example> test;

    @BeforeAll
    static void writeTask() throws IOException {
        host = Claims.host();
        train = tmp.resolve("train.jsonl");
        StringBuilder lines = new StringBuilder();
        SplittableRandom random = new SplittableRandom(5);
        test = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            int label = random.nextInt(2);
            StringBuilder w = new StringBuilder();
            for (int j = 0; j < 6; j++) {
                w.append((char) ('a' + 8 * label + random.nextInt(8)));
            }
            if (i < 100) {
                test.add(new DseeClassifyExperiment.Example(w.toString(), label));
            } else {
                lines.append("{\"instruction\": \"").append(w).append("\", \"output\": \"").append((char) ('A' + label)).append("\"}\n");
            }
        }
        Files.writeString(train, lines.toString());
    }

    @AfterAll
    static void close() {
        host.close();
    }

    static String recipe(String adapter, int steps, int seed) {
        return MODEL + "data: { type: instructions, path: \"" + train + "\", template: \"custom {instruction}\\n#\", context: 12,"
                + " validation: 0.1 }\n" + "adapters: [ " + adapter + " ]\n" + "objective: { type: last-token, classes: [65, 66] }\n"
                + "train: { steps: " + steps + ", batch: 16, lr: 3e-2, seed: " + seed + ", eval-every: 0, trainable: [\"adapters.**\"] }\n";
    }

    @Test
    void tuningWithTheLastTokenObjectiveLearnsHeldOutClassesBeyondSeedNoiseAndGreBsmoReportsItsRises() {
        int[] seeds = {1, 2, 3};
        double[] before = new double[seeds.length];
        double[] after = new double[seeds.length];
        String report = "";
        for (int s = 0; s < seeds.length; s++) {
            StringWriter log = new StringWriter();
            Path work = tmp.resolve("work-" + seeds[s]);
            String adapter = "{ type: dsee, rank: 2, sparse: 8, grebsmo: { lambda: 0.01, safeguard: false } }";
            try (Run p = TrainJob.prepare(host, Recipe.parse(recipe(adapter, 60, seeds[s]), "classify.yaml"),
                    new PrintWriter(log, true), work)) {
                before[s] = DseeClassifyExperiment.accuracy(p, test, 12, new long[] {'A', 'B'});
                TrainJob.train(p, work.resolve("run"), false, new PrintWriter(new StringWriter()), false);
                after[s] = DseeClassifyExperiment.accuracy(p, test, 12, new long[] {'A', 'B'});
            }
            report = log.toString();
        }
        Paired gain = Paired.of(after, before);
        Claims.report("dsee-classify-ci", "last-token classification (which half of the alphabet the letters come from), DSEE r = 2, N = 8,"
                + " 60 steps, 100 held-out strings: accuracy before " + DseeStagesTest.fourDigits(before) + ", after "
                + DseeStagesTest.fourDigits(after) + ", paired gain " + gain.describe(100, 1));
        assertThat(gain.above()).as("tuning raises held-out accuracy beyond seed noise: %s", gain).isTrue();
        for (double a : after) {
            assertThat(a).as("held-out accuracy after tuning").isGreaterThan(0.8);
        }
        // one GreBsmo line per adapted matrix (Wq, Wv of one layer), with the authors' settings named
        assertThat(report.lines().filter(l -> l.contains("GreBsmo rank"))).hasSize(2)
                .allMatch(l -> l.contains("(absolute)") && l.contains("(safeguard off, kept)"));
    }
}
