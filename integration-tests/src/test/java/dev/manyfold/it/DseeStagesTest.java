package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Settings;
import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.checkpoint.Checkpoint;
import dev.manyfold.runtime.checkpoint.Tensor;
import dev.manyfold.runtime.eval.Paired;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.StagedJob;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.model.LinearSite;
import dev.manyfold.runtime.model.LlamaModel;
import dev.manyfold.runtime.model.Model;
import dev.manyfold.runtime.model.ModelFactory;
import dev.manyfold.runtime.recipe.Recipe;
import dev.manyfold.runtime.train.Evaluator;
import dev.manyfold.runtime.train.Trainer;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DSEE's reproduction list at small scale (spec §6) on a tiny LLaMA from the bundle's plugin:
 * pretrained in the test on task A (copy a 5-letter word), tuned on task B (reverse it), then
 * pruned (unstructured pools or heads) and recovered from one staged recipe.
 */
class DseeStagesTest {
    static final int DIM = 32;
    static final int LAYERS = 2;
    static final int HEADS = 4;
    static final int HEAD_DIM = 8;
    static final int FFN = 64;
    static final String MODEL = "model: { family: llama, dim: 32, layers: 2, heads: 4, ffn: 64 }\n";

    @TempDir
    static Path tmp;

    static Manyfold host;
    static Path taskA;
    static Path taskB;
    static Path pretrained;

    @BeforeAll
    static void pretrainOnTaskA() throws IOException {
        host = Manyfold.builder().pluginDir(Bundle.plugins()).build();
        taskA = writeTask(tmp.resolve("copy"), false);
        taskB = writeTask(tmp.resolve("reverse"), true);
        pretrained = tmp.resolve("pretrained");
        String recipe = MODEL + data(taskA) + "train: { steps: 250, batch: 16, lr: 3e-3, seed: 1, eval-every: 0 }\n";
        try (Run p = TrainJob.prepare(host, Recipe.parse(recipe, "pretrain.yaml"), quiet())) {
            TrainJob.train(p, pretrained, false, quiet(), false);
        }
    }

    @AfterAll
    static void close() {
        host.close();
    }

    /** Documents "abcde>abcde" (copy) or "abcde>edcba" (reverse), 600 of them. */
    static Path writeTask(Path dir, boolean reverse) throws IOException {
        Files.createDirectories(dir);
        SplittableRandom random = new SplittableRandom(reverse ? 2 : 1);
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < 600; i++) {
            StringBuilder w = new StringBuilder();
            for (int j = 0; j < 5; j++) {
                w.append((char) ('a' + random.nextInt(12)));
            }
            String out = reverse ? new StringBuilder(w).reverse().toString() : w.toString();
            b.append(w).append('>').append(out).append("\n%\n");
        }
        Files.writeString(dir.resolve("words"), b.toString());
        return dir;
    }

    static String data(Path dir) {
        return "data: { type: text, path: \"" + dir + "\", context: 24 }\n";
    }

    static PrintWriter quiet() {
        return new PrintWriter(new StringWriter(), true);
    }

    static String tune(String adapter, long seed, int steps) {
        return MODEL + data(taskB) + "adapters: [ " + adapter + " ]\n"
                + "train: { steps: " + steps + ", batch: 16, lr: 1e-2, seed: " + seed + ", eval-every: 0, init: \"" + pretrained
                + "\", trainable: [\"adapters.**\"] }\n";
    }

    static double validationLoss(Run p) {
        return Evaluator.evaluate(p.model(), p.data().validation(50), SubModel.FULL, p.model().parameters().manager()).loss();
    }

    static float[] floats(Checkpoint c, String name) {
        try (NDManager m = NDManager.newBaseManager()) {
            return c.tensors().get(name).toNDArray(m).toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
        }
    }

    static long zeros(float[] a) {
        long z = 0;
        for (float v : a) {
            if (v == 0f) {
                z++;
            }
        }
        return z;
    }

    static long size(Checkpoint c, String name) {
        long n = 1;
        for (long d : c.tensors().get(name).shape()) {
            n *= d;
        }
        return n;
    }

    static float[] logits(Model model) {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray tokens = m.create(new long[] {'a', 'b', 'c', 'd', 'e', '>', 'e', 'd', 'c'}).reshape(1, 9);
            return model.forward(tokens, SubModel.FULL).toFloatArray();
        }
    }

    static Checkpoint latest(Path dir) {
        return Checkpoint.load(dev.manyfold.runtime.checkpoint.CheckpointStore.keepingAll().latest(dir).orElseThrow());
    }

    @Test
    void unstructuredPoolsPruneExactCountsThatStayZeroThroughRecoveryAndMergeIntoAPlainModel() {
        String recipe = tune("{ type: dsee, rank: 4, sparse: 16 }", 5, 60) + """
                stages:
                  - { name: tune }
                  - name: recover
                    prune: { type: dsee-prune, adapted: 0.3, others: 0.2 }
                    train: { steps: 40, lr: 5e-3 }
                """;
        Path run = tmp.resolve("unstructured");
        StringWriter log = new StringWriter();
        List<StagedJob.StageResult> results = StagedJob.run(host, Recipe.parse(recipe, "unstructured.yaml"), run, new PrintWriter(log, true),
                false);
        assertThat(results).extracting(StagedJob.StageResult::name).containsExactly("tune", "recover");

        // W0 bitwise unchanged by stage 1 (tuning).
        Checkpoint base = latest(pretrained);
        Checkpoint tuned = latest(run.resolve("0-tune"));
        for (String name : base.tensors().keySet()) {
            if (!name.startsWith("optim.")) {
                assertThat(floats(tuned, name)).as(name).containsExactly(floats(base, name));
            }
        }

        // Exactly ⌊p·|pool|⌋ zeros per pool: |ΔW| over the adapted Wq/Wv, |W0| over the other block matrices.
        Checkpoint start = Checkpoint.load(run.resolve("1-recover/start.safetensors"));
        long adaptedSize = 0;
        long adaptedZeros = 0;
        long othersSize = 0;
        long othersZeros = 0;
        for (String name : start.tensors().keySet()) {
            if (!name.startsWith("mask.")) {
                continue;
            }
            boolean adapted = name.endsWith("q_proj") || name.endsWith("v_proj");
            long z = zeros(floats(start, name));
            if (adapted) {
                adaptedSize += size(start, name);
                adaptedZeros += z;
            } else {
                othersSize += size(start, name);
                othersZeros += z;
            }
        }
        assertThat(adaptedSize).isEqualTo(LAYERS * 2L * HEADS * HEAD_DIM * DIM);
        assertThat(othersSize).isEqualTo(LAYERS * (2L * DIM * DIM + 3L * DIM * FFN));
        assertThat(adaptedZeros).isEqualTo((long) Math.floor(0.3 * adaptedSize));
        assertThat(othersZeros).isEqualTo((long) Math.floor(0.2 * othersSize));
        assertThat(start.tensors().keySet()).noneMatch(n -> n.equals("mask.lm_head"));

        // Masks fixed through recovery; the adapters moved; the effective weight is zero wherever the mask is.
        Checkpoint recovered = latest(run);
        start.tensors().keySet().stream().filter(n -> n.startsWith("mask.")).forEach(n ->
                assertThat(floats(recovered, n)).as(n).containsExactly(floats(start, n)));
        assertThat(floats(recovered, "adapters.0.layers.0.attn.q_proj.v")).isNotEqualTo(floats(start, "adapters.0.layers.0.attn.q_proj.v"));
        long totalZeros = adaptedZeros + othersZeros;
        try (Run p = TrainJob.load(host, run, quiet()); NDManager m = NDManager.newBaseManager()) {
            long effectiveZeros = 0;
            long siteWeights = 0;
            for (var e : p.model().sites().entrySet()) {
                float[] w = e.getValue().effectiveWeight(m, e.getValue().outFeatures(), e.getValue().inFeatures()).toFloatArray();
                siteWeights += w.length;
                effectiveZeros += zeros(w);
                NDArray mask = e.getValue().mask();
                if (mask != null) {
                    float[] mk = mask.toFloatArray();
                    for (int i = 0; i < w.length; i++) {
                        if (mk[i] == 0f) {
                            assertThat(w[i]).as(e.getKey() + "[" + i + "]").isZero();
                        }
                    }
                }
            }
            assertThat(effectiveZeros).isEqualTo(totalZeros);
            // Accounting printed after pruning: nonzeros of the site weights and their FLOPs.
            long nonzero = siteWeights - totalZeros;
            assertThat(log.toString()).contains(String.format(Locale.ROOT, "nonzeros: %,d of %,d site weights", nonzero, siteWeights))
                    .contains(String.format(Locale.ROOT, "nonzero %,d", 2 * nonzero)).contains("trainable params: ");

            // Merge: the exported plain checkpoint (UV + S and the masks folded into W0) reproduces the adapted, pruned model.
            Model.Exported exported = p.model().export(SubModel.FULL, m);
            float[] adaptedLogits = logits(p.model());
            try (NDManager plainManager = NDManager.newBaseManager()) {
                Model plain = ModelFactory.fromConfig(exported.config(), 0, plainManager);
                exported.tensors().forEach((n, a) -> plain.parameters().assign(n, a));
                assertThat(plain.parameters().all().keySet()).noneMatch(n -> n.startsWith("adapters.") || n.startsWith("mask."));
                float[] plainLogits = logits(plain);
                for (int i = 0; i < plainLogits.length; i++) {
                    assertThat(plainLogits[i]).isCloseTo(adaptedLogits[i], org.assertj.core.data.Offset.offset(1e-4f));
                }
                long plainZeros = 0;
                for (LinearSite site : plain.sites().values()) {
                    plainZeros += zeros(site.weight().toFloatArray());
                }
                assertThat(plainZeros).isEqualTo(totalZeros);
            }
        }
    }

    @Test
    void structuredPruningShrinksShapesAsSpecifiedWithAnalyticFlopsAndTheRunLoads() {
        String recipe = tune("{ type: dsee, rank: 4, sparse: 16 }", 6, 60) + """
                stages:
                  - { name: tune }
                  - name: recover
                    prune: { type: dsee-prune, heads: 1 }
                    train: { steps: 30 }
                """;
        Path run = tmp.resolve("structured");
        StringWriter log = new StringWriter();
        StagedJob.run(host, Recipe.parse(recipe, "structured.yaml"), run, new PrintWriter(log, true), false);
        Checkpoint tuned = latest(run.resolve("0-tune"));
        Checkpoint start = Checkpoint.load(run.resolve("1-recover/start.safetensors"));
        int kept = HEADS - 1;
        for (int l = 0; l < LAYERS; l++) {
            String a = "layers." + l + ".attn.";
            assertThat(start.tensor(a + "q_proj.weight").shape()).containsExactly(kept * HEAD_DIM, DIM);
            assertThat(start.tensor(a + "k_proj.weight").shape()).containsExactly(kept * HEAD_DIM, DIM);
            assertThat(start.tensor(a + "v_proj.weight").shape()).containsExactly(kept * HEAD_DIM, DIM);
            assertThat(start.tensor(a + "o_proj.weight").shape()).containsExactly(DIM, kept * HEAD_DIM);
            for (String proj : List.of("q_proj", "v_proj")) {
                String ad = "adapters.0." + a + proj + ".";
                // U kept as is; V loses the removed head's output columns; S keeps its entries in the kept rows, re-indexed.
                assertThat(floats(start, ad + "u")).containsExactly(floats(tuned, ad + "u"));
                assertThat(start.tensor(ad + "v").shape()).containsExactly(4, kept * HEAD_DIM);
                int removed = removedHead(tuned, start, a + proj);
                float[] vBefore = floats(tuned, ad + "v");
                float[] vAfter = floats(start, ad + "v");
                long[] omegaBefore = longs(tuned, ad + "omega");
                float[] sBefore = floats(tuned, ad + "s");
                List<Float> expectedS = new ArrayList<>();
                List<Long> expectedOmega = new ArrayList<>();
                for (int i = 0; i < omegaBefore.length; i++) {
                    int row = (int) (omegaBefore[i] / DIM);
                    if (row / HEAD_DIM != removed) {
                        int newRow = row - (row / HEAD_DIM > removed ? HEAD_DIM : 0);
                        expectedOmega.add((long) newRow * DIM + omegaBefore[i] % DIM);
                        expectedS.add(sBefore[i]);
                    }
                }
                assertThat(longs(start, ad + "omega")).containsExactly(expectedOmega.stream().mapToLong(Long::longValue).toArray());
                float[] sAfter = floats(start, ad + "s");
                assertThat(sAfter).hasSize(expectedS.size());
                for (int i = 0; i < sAfter.length; i++) {
                    assertThat(sAfter[i]).isEqualTo(expectedS.get(i));
                }
                for (int r = 0; r < 4; r++) {
                    int c2 = 0;
                    for (int c = 0; c < HEADS * HEAD_DIM; c++) {
                        if (c / HEAD_DIM != removed) {
                            assertThat(vAfter[r * kept * HEAD_DIM + c2++]).isEqualTo(vBefore[r * HEADS * HEAD_DIM + c]);
                        }
                    }
                }
            }
        }
        // Parameters and FLOPs match the analytic count; the pruned run loads (shrunk shapes) and evaluates.
        try (Run p = TrainJob.load(host, run, quiet())) {
            LlamaModel llama = (LlamaModel) p.model();
            assertThat(llama.layerHeads()).containsExactly(kept, kept);
            long vocab = llama.vocabularySize();
            long perLayer = 4L * DIM * kept * HEAD_DIM + 3L * DIM * FFN;
            assertThat(llama.flops(SubModel.FULL)).isEqualTo(2 * (LAYERS * perLayer + vocab * DIM));
            assertThat(llama.parameterCount(SubModel.FULL)).isEqualTo(vocab * DIM + LAYERS * (perLayer + 2L * DIM) + DIM + vocab * DIM);
            long dense = 2 * (LAYERS * (4L * DIM * HEADS * HEAD_DIM + 3L * DIM * FFN) + vocab * DIM);
            assertThat(dense - llama.flops(SubModel.FULL)).isEqualTo(2L * LAYERS * 4 * DIM * HEAD_DIM);
            assertThat(log.toString()).contains(String.format(Locale.ROOT, "dense %,d", llama.flops(SubModel.FULL)));
            assertThat(validationLoss(p)).isFinite();
        }
    }

    /** Which head of a site the structured step removed (compared by the kept weight rows). */
    static int removedHead(Checkpoint before, Checkpoint after, String site) {
        float[] w0 = floats(before, site + ".weight");
        float[] w1 = floats(after, site + ".weight");
        int keptRow = 0;
        int removed = -1;
        for (int h = 0; h < HEADS; h++) {
            boolean same = keptRow < w1.length / DIM;
            for (int j = 0; same && j < HEAD_DIM * DIM; j++) {
                same = keptRow * DIM + j < w1.length && w1[keptRow * DIM + j] == w0[h * HEAD_DIM * DIM + j];
            }
            if (same) {
                keptRow += HEAD_DIM;
            } else {
                assertThat(removed).as("one head removed").isEqualTo(-1);
                removed = h;
            }
        }
        assertThat(removed).isNotNegative();
        return removed;
    }

    static long[] longs(Checkpoint c, String name) {
        try (NDManager m = NDManager.newBaseManager()) {
            return c.tensors().get(name).toNDArray(m).toLongArray();
        }
    }

    @Test
    void headScoresFromDeltaDoAtLeastAsWellAsRandomHeads() {
        Path dir = tmp.resolve("heads");
        double base;
        double byDelta;
        List<Double> byRandom = new ArrayList<>();
        try (Run p = TrainJob.prepare(host, Recipe.parse(tune("{ type: dsee, rank: 4, sparse: 16 }", 7, 80), "heads.yaml"),
                quiet(), dir)) {
            TrainJob.train(p, dir.resolve("tuned"), false, quiet(), false);
            base = validationLoss(p);
            byDelta = prunedLoss(p, Map.of("type", "dsee-prune", "heads", 1), dir.resolve("delta.safetensors"));
            for (int seed = 0; seed < 3; seed++) {
                byRandom.add(prunedLoss(p, Map.of("type", "dsee-prune", "heads", 1, "head-score", "random", "seed", seed),
                        dir.resolve("random-" + seed + ".safetensors")));
            }
        }
        double randomMean = byRandom.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        double[] random = byRandom.stream().mapToDouble(Double::doubleValue).toArray();
        double[] delta = new double[random.length];
        java.util.Arrays.fill(delta, byDelta);
        // paired over the random draws (one tuned model, seed 7): random heads − |ΔW| heads, after recovery
        Paired randomMinusDelta = Paired.of(random, delta);
        System.out.printf(Locale.ROOT, "DSEE heads (1 of 4 removed per layer, then 80 recovery steps): tuned %.4f, |ΔW| %.4f, random %s"
                + " mean %.4f; random - |ΔW| %s%n", base, byDelta, byRandom, randomMean, randomMinusDelta.describe(1, 4));
        assertThat(randomMinusDelta.above()).as("|ΔW| heads beat random heads beyond the draws' noise: %s", randomMinusDelta).isTrue();
    }

    /**
     * Issue 15 point 9: unstructured pruning of half the adapted pool by the paper's |ΔW| and by
     * its |W0 + ΔW| ablation, the loss right after pruning and after recovery (as many steps as
     * tuning), and a dense control tuned for the same total steps, over four paired seeds.
     * Asserted: pruning costs loss and recovery wins part of it back, beyond seed noise. The
     * criterion and dense-control differences are reported with their intervals.
     */
    @Test
    void unstructuredPruningLossBeforeAndAfterRecoveryAgainstADenseControlAndTheWeightPlusDeltaCriterion() {
        long[] seeds = {20, 21, 22, 23};
        int n = seeds.length;
        double[] tuned = new double[n];
        double[] dense = new double[n];
        double[][] before = new double[2][n];
        double[][] after = new double[2][n];
        List<String> scores = List.of("delta", "weight");
        for (int i = 0; i < n; i++) {
            Path dir = tmp.resolve("criterion-" + seeds[i]);
            try (Run p = TrainJob.prepare(host, Recipe.parse(tune("{ type: dsee, rank: 4, sparse: 16 }", seeds[i], 60),
                    "criterion.yaml"), quiet(), dir)) {
                TrainJob.train(p, dir.resolve("tuned"), false, quiet(), false);
                tuned[i] = validationLoss(p);
                for (int c = 0; c < 2; c++) {
                    Path file = dir.resolve(scores.get(c) + ".safetensors");
                    StagedJob.prune(host, p, Settings.of("prune", Map.of("type", "dsee-prune", "adapted", 0.5, "adapted-score",
                            scores.get(c))), file, quiet());
                    try (Run pruned = TrainJob.load(host, file, quiet())) {
                        before[c][i] = validationLoss(pruned);
                        TrainJob.train(pruned, dir.resolve(scores.get(c) + "-recovered"), false, quiet(), false);
                        after[c][i] = validationLoss(pruned);
                    }
                }
                // dense control: the tuned model trained for the recovery's steps again, nothing pruned
                TrainJob.train(p, dir.resolve("dense"), false, quiet(), false);
                dense[i] = validationLoss(p);
            }
        }
        Paired pruningCost = Paired.of(before[0], tuned);
        Paired recovery = Paired.of(before[0], after[0]);
        Paired criterionBefore = Paired.of(before[0], before[1]);
        Paired criterionAfter = Paired.of(after[0], after[1]);
        Paired againstDense = Paired.of(after[0], dense);
        Claims.report("dsee-pruning", String.format(Locale.ROOT, "DSEE unstructured pruning, 50%% of the adapted pool (Wq, Wv), r = 4, N = 16,"
                + " 60 tuning + 60 recovery steps, seeds %s, task B validation loss (nats):%n"
                + "  tuned %s%n  |dW|: before recovery %s, after %s%n  |W+dW|: before recovery %s, after %s%n"
                + "  dense control (60 + 60 steps, nothing pruned) %s%n"
                + "  paired: |dW| before - tuned %s; |dW| before - after %s; |dW| - |W+dW| before %s; after %s;"
                + " |dW| after - dense %s%n", java.util.Arrays.toString(seeds), fourDigits(tuned), fourDigits(before[0]),
                fourDigits(after[0]), fourDigits(before[1]), fourDigits(after[1]), fourDigits(dense), pruningCost.describe(1, 4),
                recovery.describe(1, 4), criterionBefore.describe(1, 4), criterionAfter.describe(1, 4), againstDense.describe(1, 4)));
        assertThat(pruningCost.above()).as("pruning by |dW| raises the loss before recovery: %s", pruningCost).isTrue();
        assertThat(recovery.above()).as("recovery lowers the pruned loss: %s", recovery).isTrue();
    }

    static double prunedLoss(Run p, Map<String, Object> prune, Path file) {
        StagedJob.prune(host, p, Settings.of("prune", prune), file, quiet());
        try (Run pruned = TrainJob.load(host, file, quiet())) {
            assertThat(((LlamaModel) pruned.model()).layerHeads()).containsExactly(HEADS - 1, HEADS - 1);
            // recovery: the same steps as tuning, masks and remaining heads fixed
            TrainJob.train(pruned, file.resolveSibling(file.getFileName() + ".recovered"), false, quiet(), false);
            return validationLoss(pruned);
        }
    }

    /**
     * Spec §6 item 5 in the paper's protocol: the same r for both, DSEE adds N = 16 entries per
     * adapted matrix with Ω from GreBsmo on W0, adapters on Wq and Wv, both branches scaled by
     * α/r = 2, V = S = 0 at init. r = 1 is the rank closest to the paper's at this width (BERT:
     * r = 8–16 of 768, 0.3–0.5% trainable; here r = 1 of 32 gives 0.7%). Both runs of a seed
     * share U's initialisation and the data order, so the differences are paired. A sweep
     * (docs/results.md) found no setting where the sparse residual helps beyond seed noise, so
     * the test asserts only that every run beats the base model and prints the comparison.
     */
    @Test
    void dseeAgainstLoraOverEightSeeds() {
        int seeds = 8;
        double[] dsee = new double[seeds];
        double[] lora = new double[seeds];
        double base;
        try (Run p = TrainJob.prepare(host, Recipe.parse(tune("{ type: lora, rank: 1 }", 0, 1), "base.yaml"), quiet())) {
            base = validationLoss(p);
        }
        for (int seed = 0; seed < seeds; seed++) {
            dsee[seed] = tunedLoss(tune("{ type: dsee, rank: 1, sparse: 16 }", 10 + seed, 80));
            lora[seed] = tunedLoss(tune("{ type: lora, rank: 1 }", 10 + seed, 80));
        }
        Paired dseeMinusLora = Paired.of(dsee, lora);
        int wins = (int) java.util.Arrays.stream(dseeMinusLora.differences()).filter(d -> d < 0).count();
        double[] bases = new double[seeds];
        java.util.Arrays.fill(bases, base);
        Paired dseeGain = Paired.of(dsee, bases);
        Paired loraGain = Paired.of(lora, bases);
        System.out.printf(Locale.ROOT, "DSEE vs LoRA (r = 1, N = 16 vs 0, Wq and Wv, 80 steps, seeds 10-%d, task B validation loss;"
                + " base %.4f): dsee %s mean %.4f, lora %s mean %.4f, paired dsee - lora %s, dsee lower in %d of %d;"
                + " dsee - base %s; lora - base %s%n", 9 + seeds, base, fourDigits(dsee), mean(dsee), fourDigits(lora), mean(lora),
                dseeMinusLora.describe(1, 4), wins, seeds, dseeGain.describe(1, 4), loraGain.describe(1, 4));
        // Both tune the model beyond seed noise; DSEE against LoRA is reported, not asserted: its interval has contained
        // zero in every run so far (docs/results.md), and an ordering is asserted only where the interval excludes zero.
        assertThat(dseeGain.below()).as("DSEE lowers the loss below the base model beyond noise: %s", dseeGain).isTrue();
        assertThat(loraGain.below()).as("LoRA lowers the loss below the base model beyond noise: %s", loraGain).isTrue();
        for (int seed = 0; seed < seeds; seed++) {
            assertThat(dsee[seed]).isLessThan(base);
            assertThat(lora[seed]).isLessThan(base);
        }
    }

    static String fourDigits(double[] a) {
        return java.util.Arrays.stream(a).mapToObj(x -> String.format(Locale.ROOT, "%.4f", x))
                .collect(java.util.stream.Collectors.joining(", ", "[", "]"));
    }

    static double mean(double[] a) {
        return java.util.Arrays.stream(a).average().orElseThrow();
    }

    static double tunedLoss(String recipe) {
        Path dir = tmp.resolve("cmp-" + Integer.toHexString(recipe.hashCode()));
        try (Run p = TrainJob.prepare(host, Recipe.parse(recipe, "cmp.yaml"), quiet(), dir)) {
            Trainer.Summary s = TrainJob.train(p, dir, false, quiet(), false);
            assertThat(s.steps()).isEqualTo(80);
            return validationLoss(p);
        }
    }

    @Test
    void badStagesAreRefusedWithTheirRecipePathsBeforeAnyTraining() {
        String tune = tune("{ type: dsee, rank: 4, sparse: 16 }", 1, 5);
        Map<String, String> cases = new java.util.LinkedHashMap<>();
        cases.put("prune: { type: dsee-prune, adapted: 1.0 }", "stages[1].prune.adapted");
        cases.put("prune: { type: dsee-prune, others: -0.1 }", "stages[1].prune.others");
        cases.put("prune: { type: dsee-prune, heads: 4 }", "stages[1].prune.heads");
        cases.put("prune: { type: dsee-prune, heads: 1, adapted: 0.2 }", "stages[1].prune.heads");
        cases.put("train: { lr: -1 }", "stages[1].train.lr");
        int i = 0;
        // Two head-pruning stages that together remove every head (2 + 2 of 4): refused before stage 0 trains.
        {
            Path run = tmp.resolve("bad-" + i++);
            String recipe = tune + "stages:\n  - { name: tune }\n  - { name: a, prune: { type: dsee-prune, heads: 2 } }\n"
                    + "  - { name: b, prune: { type: dsee-prune, heads: 2 } }\n";
            Throwable t = catchThrowable(() -> StagedJob.run(host, Recipe.parse(recipe, "bad.yaml"), run, quiet(), false));
            assertThat(t).isInstanceOf(ConfigException.class).hasMessageContaining("every head");
            assertThat(((ConfigException) t).path()).isEqualTo("stages[2].prune");
            assertThat(run.resolve("0-tune/checkpoint-5.safetensors")).as("no stage trained").doesNotExist();
        }
        for (var c : cases.entrySet()) {
            Path run = tmp.resolve("bad-" + i++);
            String recipe = tune + "stages:\n  - { name: tune }\n  - { name: next, " + c.getKey() + " }\n";
            Throwable t = catchThrowable(() -> StagedJob.run(host, Recipe.parse(recipe, "bad.yaml"), run, quiet(), false));
            assertThat(t).as(c.getKey()).isInstanceOf(ConfigException.class);
            assertThat(((ConfigException) t).path()).as(c.getKey()).isEqualTo(c.getValue());
            assertThat(run.resolve("0-tune/checkpoint-5.safetensors")).as("no stage trained").doesNotExist();
        }
        // The adapter's own bad input, through a staged recipe, is refused at its path before training too.
        for (var c : Map.of("{ type: dsee, rank: 32, sparse: 16 }", "adapters[0].rank", "{ type: dsee, rank: 4, sparse: 1025 }",
                "adapters[0].sparse", "{ type: dsee, rank: 4, targets: [w_proj] }", "adapters[0].targets").entrySet()) {
            Path run = tmp.resolve("bad-" + i++);
            String recipe = tune(c.getKey(), 1, 5) + "stages:\n  - { name: tune }\n";
            Throwable t = catchThrowable(() -> StagedJob.run(host, Recipe.parse(recipe, "bad.yaml"), run, quiet(), false));
            assertThat(t).as(c.getKey()).isInstanceOf(ConfigException.class);
            assertThat(((ConfigException) t).path()).as(c.getKey()).isEqualTo(c.getValue());
            assertThat(run.resolve("0-tune/checkpoint-5.safetensors")).doesNotExist();
        }
    }

    @Test
    void aStageThatFailsAfterEarlierStagesTrainedLeavesTheirCheckpointsIntact() throws IOException {
        // The third stage cannot write its directory (a plain file is in the way): the run fails
        // after stages 0 and 1 trained.
        String recipe = tune("{ type: dsee, rank: 4, sparse: 16 }", 3, 5) + """
                stages:
                  - { name: tune }
                  - { name: shrink, prune: { type: dsee-prune, heads: 1 }, train: { steps: 5 } }
                  - { name: again, train: { steps: 5 } }
                """;
        Path run = Files.createDirectories(tmp.resolve("fails-late"));
        Files.writeString(run.resolve("2-again"), "in the way");
        Throwable t = catchThrowable(() -> StagedJob.run(host, Recipe.parse(recipe, "late.yaml"), run, quiet(), false));
        assertThat(t).isNotNull().hasMessageContaining("2-again");
        for (String stage : List.of("0-tune", "1-shrink")) {
            Path file = run.resolve(stage).resolve("checkpoint-5.safetensors");
            assertThat(file).as(stage).exists();
            try (Run p = TrainJob.load(host, file, quiet())) {
                assertThat(validationLoss(p)).as(stage).isFinite();
            }
        }
        try (var files = Files.list(run)) {
            assertThat(files.map(f -> f.getFileName().toString())).as("no final checkpoint at the top of the run")
                    .noneMatch(n -> n.startsWith("checkpoint-"));
        }
    }
}
