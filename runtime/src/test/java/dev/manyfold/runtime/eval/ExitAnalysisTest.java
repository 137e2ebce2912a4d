package dev.manyfold.runtime.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.model.LlamaModel;
import dev.manyfold.runtime.model.ParameterStore;
import dev.manyfold.runtime.data.HostBatch;
import java.util.List;
import java.util.SplittableRandom;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ExitAnalysisTest {
    /** As in LlamaModelTest: vocab 37, dim 32, 3 blocks, 4 query / 2 KV heads, untied head. */
    private static final LlamaModel.Config CONFIG = new LlamaModel.Config(37, 32, 3, 4, 2, 8, 48, 24, false, 10000, 1e-5, 36);
    private static final int BATCH = 2;
    private static final int SEQ = 12;
    private NDManager manager;
    private LlamaModel model;
    private List<HostBatch> batches;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
        model = new LlamaModel(new ParameterStore(manager, 7), CONFIG);
        // Sharpen the random initialisation (std 0.02) so that exits really differ.
        model.parameters().all().forEach((name, array) -> {
            if (name.endsWith("proj.weight") || name.equals("lm_head.weight")) {
                model.parameters().assign(name, array.mul(name.equals("lm_head.weight") ? 40 : 10));
            }
        });
        SplittableRandom random = new SplittableRandom(3);
        batches = List.of(tokens(random), tokens(random));
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    private static HostBatch tokens(SplittableRandom random) {
        int[] ids = new int[BATCH * SEQ];
        int[] labels = new int[BATCH * SEQ];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = random.nextInt(CONFIG.vocab());
            labels[i] = random.nextInt(CONFIG.vocab());
        }
        return new HostBatch(null, ids, new long[] {BATCH, SEQ}, labels, new long[] {BATCH, SEQ});
    }

    @Test
    void fullDepthAgainstItselfHasZeroKlAndUnitCosine() {
        List<ExitStat> stats = ExitAnalysis.compute(model, batches, List.of(1, 2), manager);
        assertThat(stats).extracting(ExitStat::exit).containsExactly(1, 2, 3);
        ExitStat last = stats.get(2);
        assertThat(last.kl()).isZero();
        assertThat(last.cosine()).isCloseTo(1.0, Offset.offset(1e-12));
        assertThat(last.positions()).isEqualTo(2L * BATCH * SEQ);
    }

    @Test
    void intermediateExitsHavePositiveKlAndCosineBelowOne() {
        List<ExitStat> stats = ExitAnalysis.compute(model, batches, List.of(1, 2), manager);
        for (ExitStat s : stats.subList(0, 2)) {
            assertThat(s.kl()).as("KL at exit %d", s.exit()).isGreaterThan(1e-4);
            assertThat(s.cosine()).as("cosine at exit %d", s.exit()).isLessThan(1 - 1e-6).isGreaterThan(-1);
        }
    }

    @Test
    void onePassStatisticsMatchAReferenceBuiltFromSeparateForwardPassesPerExit() {
        List<ExitStat> stats = ExitAnalysis.compute(model, batches, List.of(1, 2), manager);
        int v = CONFIG.vocab();
        int d = CONFIG.dim();
        double[] kl = new double[3];
        double[] cos = new double[3];
        try (NDManager m = manager.newSubManager()) {
            for (HostBatch hb : batches) {
                NDArray ids = m.create(hb.tokens(), new Shape(BATCH, SEQ));
                float[] lastLogits = model.forward(ids, SubModel.FULL).toFloatArray();
                float[] lastHidden = model.hidden(ids, SubModel.FULL).toFloatArray();
                for (int depth = 1; depth <= 3; depth++) {
                    float[] logits = model.forward(ids, SubModel.of("depth", depth)).toFloatArray();
                    float[] hidden = model.hidden(ids, SubModel.of("depth", depth)).toFloatArray();
                    for (int pos = 0; pos < BATCH * SEQ; pos++) {
                        double[] logL = logSoftmax(lastLogits, pos * v, v);
                        double[] logN = logSoftmax(logits, pos * v, v);
                        for (int k = 0; k < v; k++) {
                            kl[depth - 1] += Math.exp(logL[k]) * (logL[k] - logN[k]);
                        }
                        double dot = 0;
                        double nn = 0;
                        double nl = 0;
                        for (int k = 0; k < d; k++) {
                            dot += (double) hidden[pos * d + k] * lastHidden[pos * d + k];
                            nn += (double) hidden[pos * d + k] * hidden[pos * d + k];
                            nl += (double) lastHidden[pos * d + k] * lastHidden[pos * d + k];
                        }
                        cos[depth - 1] += dot / Math.sqrt(nn * nl);
                    }
                }
            }
        }
        int positions = batches.size() * BATCH * SEQ;
        for (int i = 0; i < 3; i++) {
            assertThat(stats.get(i).kl()).as("KL at exit %d", i + 1).isCloseTo(kl[i] / positions, Offset.offset(1e-4));
            assertThat(stats.get(i).cosine()).as("cosine at exit %d", i + 1).isCloseTo(cos[i] / positions, Offset.offset(1e-5));
        }
    }

    @Test
    void perPositionProfileAveragesToTheExitMeansAndCountsEveryRowAtEachPosition() {
        ExitProfile profile = ExitAnalysis.profile(model, batches, List.of(1, 2), manager);
        List<ExitStat> means = ExitAnalysis.compute(model, batches, List.of(1, 2), manager);
        assertThat(profile.positions()).isEqualTo(SEQ);
        for (int p = 0; p < SEQ; p++) {
            assertThat(profile.count(p)).isEqualTo(2L * BATCH);
            assertThat(profile.kl(2, p)).as("full depth against itself").isCloseTo(0, Offset.offset(1e-12));
        }
        for (int k = 0; k < 3; k++) {
            double kl = 0;
            for (int p = 0; p < SEQ; p++) {
                kl += profile.kl(k, p);
            }
            assertThat(kl / SEQ).as("exit index %d", k).isCloseTo(means.get(k).kl(), Offset.offset(1e-9));
        }
        // position 0 sees only its own token: every exit's KL there differs from position 5's
        assertThat(profile.kl(0, 0)).isNotEqualTo(profile.kl(0, 5));
        assertThat(profile.csvLines()).hasSize(1 + 3 * SEQ).first().isEqualTo("exit,position,kl_full_to_exit_nats,cosine_hidden,rows");
    }

    @Test
    void positionsCountFromTheFirstScoredTokenAndIgnoreNegativeLabels() {
        // row 0 scores positions 4..11 (a prompt of 4), row 1 positions 2..9 (a prompt of 2, then padding)
        int[] ids = batches.get(0).tokens();
        int[] labels = batches.get(0).labels().clone();
        for (int t = 0; t < SEQ; t++) {
            if (t < 4) {
                labels[t] = -100;
            }
            if (t < 2 || t >= 10) {
                labels[SEQ + t] = -100;
            }
        }
        HostBatch masked = new HostBatch(null, ids, new long[] {BATCH, SEQ}, labels, new long[] {BATCH, SEQ});
        ExitProfile profile = ExitAnalysis.profile(model, List.of(masked), List.of(1), manager);
        assertThat(profile.positions()).isEqualTo(8);
        for (int p = 0; p < 8; p++) {
            assertThat(profile.count(p)).as("rows at position %d", p).isEqualTo(2);
        }
        ExitProfile row0 = ExitAnalysis.profile(model, List.of(new HostBatch(null, java.util.Arrays.copyOf(ids, SEQ),
                new long[] {1, SEQ}, java.util.Arrays.copyOf(labels, SEQ), new long[] {1, SEQ})), List.of(1), manager);
        ExitProfile full = ExitAnalysis.profile(model, List.of(new HostBatch(null, java.util.Arrays.copyOf(ids, SEQ),
                new long[] {1, SEQ}, batches.get(0).labels().clone(), new long[] {1, SEQ})), List.of(1), manager);
        assertThat(row0.kl(0, 0)).as("response position 0 of row 0 is its absolute position 4")
                .isCloseTo(full.kl(0, 4), Offset.offset(1e-12));
        assertThat(ExitAnalysis.compute(model, List.of(masked), List.of(1), manager).get(0).positions()).isEqualTo(16);
    }

    @Test
    void profileWritesItsCsvAndAPlot(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        ExitProfile profile = ExitAnalysis.profile(model, batches, List.of(1, 2), manager);
        List<java.nio.file.Path> written = profile.write(dir);
        assertThat(written).extracting(f -> f.getFileName().toString()).containsExactly(ExitProfile.CSV, ExitProfile.PNG);
        assertThat(java.nio.file.Files.readAllLines(dir.resolve(ExitProfile.CSV))).hasSize(1 + 3 * SEQ)
                .anySatisfy(l -> assertThat(l).startsWith("1,0,"));
        java.awt.image.BufferedImage image = javax.imageio.ImageIO.read(dir.resolve(ExitProfile.PNG).toFile());
        assertThat(image.getWidth()).isEqualTo(1200);
        assertThat(profile.samplePositions()).containsExactly(0, 1, 2, 4, 8, 11);
    }

    @Test
    void exitsAreSortedDeduplicatedAndIncludeTheFullDepth() {
        assertThat(ExitAnalysis.exits(List.of(2, 1, 2), 3)).containsExactly(1, 2, 3);
        assertThat(ExitAnalysis.exits(List.of(), 3)).containsExactly(3);
        assertThatThrownBy(() -> ExitAnalysis.exits(List.of(4), 3)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("exit 4 is outside the model's depth [1, 3]");
    }

    @Test
    void languageModelReportShowsPerplexityAndCarriesTheExits() {
        EvalReport report = EvalReport.evaluate(model, batches, List.of(SubModel.FULL, SubModel.of("depth", 1)),
                EvalReport.Task.LANGUAGE_MODEL).withExitAnalysis(model, batches, List.of(1));
        assertThat(report.rows()).extracting(EvalRow::name).containsExactly("full", "depth=1");
        assertThat(report.dimensions()).containsExactly(org.assertj.core.api.Assertions.entry("depth", 3));
        EvalRow full = report.full();
        assertThat(full.perplexity()).isCloseTo(Math.exp(full.loss()), Offset.offset(1e-9));
        assertThat(full.flops()).isGreaterThan(report.rows().get(1).flops());
        assertThat(report.exits()).extracting(ExitStat::exit).containsExactly(1, 3);
    }

    private static double[] logSoftmax(float[] logits, int offset, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, logits[offset + i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp(logits[offset + i] - max);
        }
        double log = max + Math.log(sum);
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = logits[offset + i] - log;
        }
        return out;
    }
}
