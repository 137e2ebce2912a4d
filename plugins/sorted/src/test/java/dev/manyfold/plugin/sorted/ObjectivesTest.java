package dev.manyfold.plugin.sorted;

import static dev.manyfold.plugin.sorted.Fakes.LLAMA;
import static dev.manyfold.plugin.sorted.Fakes.MLP;
import static dev.manyfold.plugin.sorted.Fakes.expected;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.Context;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.Settings;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.objective.Objective;
import dev.manyfold.api.objective.ObjectiveFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ObjectivesTest {
    private static final double TOLERANCE = 1e-5;

    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    /** Creates an objective the way the host does: factory by name, then the unknown-key check. */
    static SortedObjective create(String type, Map<String, ?> section, Context context) {
        ObjectiveFactory factory = new SortedPlugin().objectives().stream().filter(f -> f.name().equals(type)).findFirst()
                .orElseThrow();
        Settings settings = Fakes.objective(section);
        Objective objective = factory.create(settings, context);
        settings.rejectUnknown();
        return (SortedObjective) objective;
    }

    private static final Map<String, ?> MLP_DIMS = Map.of(
            "depth", Map.of("budgets", List.of(1, 2, 4)),
            "width", Map.of("budgets", List.of(64, 128, 256)));

    private double loss(SortedObjective objective, Fakes.FakeModel model, long step, Random random) {
        NDArray l = objective.loss(model, Fakes.batch(manager), step, random);
        assertThat(l.getShape().isScalar()).isTrue();
        return l.getFloat();
    }

    /** The sub-models an independent sampler with the same spec draws from the same seed. */
    private static List<SubModel> replay(Map<String, ?> dims, ModelShape shape, long seed, int n) {
        SubModelSampler twin = SubModelSamplerTest.sampler(shape, dims);
        Random random = new Random(seed);
        List<SubModel> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(twin.sample(random));
        }
        return out;
    }

    @Test
    void thePluginContributesTheThreeObjectives() {
        assertThat(new SortedPlugin().objectives()).extracting(ObjectiveFactory::name)
                .containsExactly("stochastic", "summation", "all-exits");
        assertThat(new SortedPlugin().objectives()).allSatisfy(f -> assertThat(f.description()).contains("dimensions"));
    }

    @Test
    void stochasticIsTheCrossEntropyOfOneDrawnSubModel() {
        SortedObjective objective = create("stochastic", Map.of("dimensions", MLP_DIMS), Fakes.context(MLP));
        Fakes.FakeModel model = new Fakes.FakeModel(MLP);
        List<SubModel> expectedDraws = replay(MLP_DIMS, MLP, 5, 1);
        double loss = loss(objective, model, 1, new Random(5));
        assertThat(model.forwards).containsExactlyElementsOf(expectedDraws);
        assertThat(model.exitCalls).isEmpty();
        assertThat(loss).isCloseTo(expected(MLP, expectedDraws.get(0)), within(TOLERANCE));
    }

    @Test
    void stochasticDrawsFollowTheSeededRandomAcrossMicroSteps() {
        SortedObjective objective = create("stochastic", Map.of("dimensions", MLP_DIMS), Fakes.context(null));
        Fakes.FakeModel model = new Fakes.FakeModel(MLP);
        List<SubModel> expectedDraws = new ArrayList<>();
        for (int call = 0; call < 40; call++) {
            long seed = 1000 + call;
            expectedDraws.add(replay(MLP_DIMS, MLP, seed, 1).get(0));
            double loss = loss(objective, model, 1 + call / 4, new Random(seed));
            assertThat(loss).isCloseTo(expected(MLP, expectedDraws.get(call)), within(TOLERANCE));
        }
        assertThat(model.forwards).isEqualTo(expectedDraws);
        Map<SubModel, Long> counts = new HashMap<>();
        expectedDraws.forEach(s -> counts.merge(s, 1L, Long::sum));
        assertThat(objective.visits()).isEqualTo(counts);
        assertThat(objective.sampler().orElseThrow().visits()).isEqualTo(counts);
    }

    @Test
    void stochasticWithSeveralSamplesIsTheirMean() {
        SortedObjective objective = create("stochastic", Map.of("dimensions", MLP_DIMS, "samples", 3), Fakes.context(MLP));
        Fakes.FakeModel model = new Fakes.FakeModel(MLP);
        List<SubModel> draws = replay(MLP_DIMS, MLP, 8, 3);
        double loss = loss(objective, model, 1, new Random(8));
        assertThat(model.forwards).isEqualTo(draws);
        double mean = draws.stream().mapToDouble(s -> expected(MLP, s)).sum() / 3;
        assertThat(loss).isCloseTo(mean, within(TOLERANCE));
    }

    @Test
    void sandwichAlwaysAddsTheSmallestAndLargest() {
        SortedObjective objective = create("stochastic", Map.of("dimensions", MLP_DIMS, "sandwich", true), Fakes.context(MLP));
        SubModel smallest = SubModel.of(Map.of("depth", 1, "width", 64));
        SubModel largest = SubModel.of(Map.of("depth", 4, "width", 256));
        for (int call = 0; call < 30; call++) {
            Fakes.FakeModel model = new Fakes.FakeModel(MLP);
            SubModel drawn = replay(MLP_DIMS, MLP, call, 1).get(0);
            double loss = loss(objective, model, call + 1, new Random(call));
            assertThat(model.forwards).containsExactly(smallest, drawn, largest);
            double mean = (expected(MLP, smallest) + expected(MLP, drawn) + expected(MLP, largest)) / 3;
            assertThat(loss).isCloseTo(mean, within(TOLERANCE));
        }
        assertThat(objective.visits()).containsKeys(smallest, largest);
        assertThat(objective.visits().get(largest)).isGreaterThanOrEqualTo(30);
        assertThat(objective.visits().get(smallest)).isGreaterThanOrEqualTo(30);
        // Only the drawn sub-models enter Eq. 1's visited set.
        assertThat(objective.sampler().orElseThrow().draws()).isEqualTo(30);
    }

    @Test
    void inPlaceDistillationTrainsTheLargestOnLabelsAndTheOthersOnTheLargestsSoftmax() {
        SortedObjective objective = create("stochastic", Map.of("dimensions", MLP_DIMS, "sandwich", true, "inplace-distill", true),
                Fakes.context(MLP));
        SubModel smallest = SubModel.of(Map.of("depth", 1, "width", 64));
        SubModel largest = SubModel.of(Map.of("depth", 4, "width", 256));
        for (int call = 0; call < 10; call++) {
            Fakes.FakeModel model = new Fakes.FakeModel(MLP);
            SubModel drawn = replay(MLP_DIMS, MLP, call, 1).get(0);
            double loss = loss(objective, model, call + 1, new Random(call));
            assertThat(model.forwards).containsExactly(largest, smallest, drawn);
            double teacher = Fakes.scale(MLP, largest);
            double expected = (expected(MLP, largest) + softCrossEntropy(teacher, Fakes.scale(MLP, smallest))
                    + softCrossEntropy(teacher, Fakes.scale(MLP, drawn))) / 3;
            assertThat(loss).isCloseTo(expected, within(TOLERANCE));
            // not the label loss of the students
            double labels = (expected(MLP, largest) + expected(MLP, smallest) + expected(MLP, drawn)) / 3;
            assertThat(Math.abs(loss - labels)).isGreaterThan(1e-3);
        }
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> create("stochastic", Map.of("dimensions", MLP_DIMS, "inplace-distill",
                true), Fakes.context(MLP))).hasMessageContaining("objective.inplace-distill").hasMessageContaining("sandwich: true");
    }

    /** {@code −Σ_c softmax(x·t)_c · log softmax(x·s)_c}, averaged over the rows of the fixed batch, in double. */
    private static double softCrossEntropy(double t, double s) {
        double total = 0;
        for (float[] row : Fakes.INPUTS) {
            double[] p = softmax(row, t);
            double[] q = softmax(row, s);
            for (int c = 0; c < row.length; c++) {
                total -= p[c] * Math.log(q[c]);
            }
        }
        return total / Fakes.INPUTS.length;
    }

    private static double[] softmax(float[] row, double scale) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : row) {
            max = Math.max(max, v * scale);
        }
        double[] out = new double[row.length];
        double sum = 0;
        for (int c = 0; c < row.length; c++) {
            out[c] = Math.exp(row[c] * scale - max);
            sum += out[c];
        }
        for (int c = 0; c < row.length; c++) {
            out[c] /= sum;
        }
        return out;
    }

    @Test
    void summationIsTheMeanOverTheDrawnSubModelAndEverythingItContains() {
        SortedObjective objective = create("summation", Map.of("dimensions", MLP_DIMS), Fakes.context(MLP));
        SubModelSampler reference = SubModelSamplerTest.sampler(MLP, MLP_DIMS);
        for (int call = 0; call < 20; call++) {
            Fakes.FakeModel model = new Fakes.FakeModel(MLP);
            SubModel top = replay(MLP_DIMS, MLP, call, 1).get(0);
            List<SubModel> contained = new ArrayList<>();
            for (SubModel s : reference.lattice()) {
                if (s.budget("depth").getAsInt() <= top.budget("depth").getAsInt()
                        && s.budget("width").getAsInt() <= top.budget("width").getAsInt()) {
                    contained.add(s);
                }
            }
            double loss = loss(objective, model, 1, new Random(call));
            assertThat(model.forwards).containsExactlyElementsOf(contained).contains(top);
            double mean = contained.stream().mapToDouble(s -> expected(MLP, s)).sum() / contained.size();
            assertThat(loss).isCloseTo(mean, within(TOLERANCE));
        }
    }

    @Test
    void summationCanSumAndCoverTheWholeLattice() {
        SortedObjective objective = create("summation", Map.of("dimensions", MLP_DIMS, "sub-models", "all", "reduce", "sum"),
                Fakes.context(MLP));
        Fakes.FakeModel model = new Fakes.FakeModel(MLP);
        Random random = new Random(1);
        double loss = loss(objective, model, 1, random);
        List<SubModel> lattice = SubModelSamplerTest.sampler(MLP, MLP_DIMS).lattice();
        assertThat(lattice).hasSize(9);
        assertThat(model.forwards).isEqualTo(lattice);
        double sum = lattice.stream().mapToDouble(s -> expected(MLP, s)).sum();
        assertThat(loss).isCloseTo(sum, within(TOLERANCE * 9));
        // "all" draws nothing.
        assertThat(random.nextLong()).isEqualTo(new Random(1).nextLong());
        assertThat(objective.sampler().orElseThrow().draws()).isZero();
        assertThat(objective.visits()).hasSize(9).allSatisfy((s, c) -> assertThat(c).isEqualTo(1));
    }

    @Test
    void summationCapKeepsTheEndsAndSpreadsTheRestEvenly() {
        SortedObjective objective = create("summation", Map.of("dimensions", MLP_DIMS, "max-sub-models", 3), Fakes.context(MLP));
        for (int call = 0; call < 20; call++) {
            Fakes.FakeModel model = new Fakes.FakeModel(MLP);
            SubModel top = replay(MLP_DIMS, MLP, call, 1).get(0);
            double loss = loss(objective, model, 1, new Random(call));
            SubModelSampler reference = SubModelSamplerTest.sampler(MLP, MLP_DIMS);
            List<SubModel> chosen = reference.containedIn(top, 3);
            assertThat(model.forwards).isEqualTo(chosen).hasSizeLessThanOrEqualTo(3).contains(top);
            if (!top.equals(reference.smallest())) {
                assertThat(model.forwards).contains(reference.smallest());
            }
            assertThat(loss).isCloseTo(chosen.stream().mapToDouble(s -> expected(MLP, s)).sum() / chosen.size(),
                    within(TOLERANCE));
        }
    }

    @Test
    void allExitsIsTheMeanOverEveryDepthFromOneTrunkPass() {
        Map<String, ?> dims = Map.of("depth", Map.of("budgets", List.of(8, 2, 4, 6)));
        SortedObjective objective = create("all-exits", Map.of("dimensions", dims), Fakes.context(LLAMA));
        Fakes.FakeModel model = new Fakes.FakeModel(LLAMA);
        Random random = new Random(4);
        double loss = loss(objective, model, 1, random);
        assertThat(model.exitCalls).containsExactly(List.of(2, 4, 6, 8));
        assertThat(model.exitSubModels).containsExactly(SubModel.FULL);
        assertThat(model.forwards).isEmpty();
        double mean = 0;
        for (int d : List.of(2, 4, 6, 8)) {
            mean += expected(LLAMA, SubModel.of("depth", d)) / 4;
        }
        assertThat(loss).isCloseTo(mean, within(TOLERANCE));
        assertThat(random.nextLong()).isEqualTo(new Random(4).nextLong());
        assertThat(objective.visits()).containsOnlyKeys(SubModel.of("depth", 2), SubModel.of("depth", 4),
                SubModel.of("depth", 6), SubModel.of("depth", 8));

        loss(objective, model, 2, random);
        assertThat(model.exitCalls).hasSize(2);
        assertThat(objective.visits().values()).containsOnly(2L);
    }

    private static final Map<String, ?> EXITS_2_4_8 = Map.of("depth", Map.of("budgets", List.of(8, 2, 4)));

    /** The distilled all-exits objective of the tests below: distill 0.6, temperature 2, exit 2 weighs 3. */
    private static SortedObjective distilled(Context context) {
        return create("all-exits", Map.of("dimensions", EXITS_2_4_8, "distill", 0.6, "distill-temperature", 2,
                "exit-weights", Map.of(2, 3.0)), context);
    }

    /** {@code T²·KL(softmax(x·t/T) ‖ softmax(x·s/T))} averaged over the labelled and distillation-only rows, in double. */
    private static double distillation(double t, double s, double temperature, int[] labels) {
        double total = 0;
        int rows = 0;
        for (int r = 0; r < Fakes.INPUTS.length; r++) {
            if (labels[r] < 0 && labels[r] != dev.manyfold.api.objective.Batch.UNLABELLED) {
                continue;
            }
            double[] p = softmax(Fakes.INPUTS[r], t / temperature);
            double[] q = softmax(Fakes.INPUTS[r], s / temperature);
            for (int c = 0; c < p.length; c++) {
                total += p[c] * (Math.log(p[c]) - Math.log(q[c]));
            }
            rows++;
        }
        return temperature * temperature * total / rows;
    }

    /** Cross-entropy over the labelled rows, in double. */
    private static double labelledCrossEntropy(double scale, int[] labels) {
        double total = 0;
        int rows = 0;
        for (int r = 0; r < Fakes.INPUTS.length; r++) {
            if (labels[r] >= 0) {
                total -= Math.log(softmax(Fakes.INPUTS[r], scale)[labels[r]]);
                rows++;
            }
        }
        return total / rows;
    }

    /** The distilled objective's loss computed independently: exits 2 (weight 3), 4 (weight 1), 8 (teacher, weight 1). */
    private static double expectedDistilled(int[] labels) {
        double teacher = Fakes.scale(LLAMA, SubModel.of("depth", 8));
        double total = labelledCrossEntropy(teacher, labels);
        for (int d : List.of(2, 4)) {
            double s = Fakes.scale(LLAMA, SubModel.of("depth", d));
            double term = 0.4 * labelledCrossEntropy(s, labels) + 0.6 * distillation(teacher, s, 2, labels);
            total += (d == 2 ? 3 : 1) * term;
        }
        return total / 5;
    }

    private static Fakes.TestBatch batch(NDManager manager, int[] labels) {
        Fakes.TestBatch fixed = Fakes.batch(manager);
        return new Fakes.TestBatch(fixed.inputs(), manager.create(java.util.Arrays.stream(labels).asLongStream().toArray()));
    }

    @Test
    void allExitsWithDistillationWeighsLabelsAndTheDetachedDeepestExitsSoftmaxPerExit() {
        SortedObjective objective = distilled(Fakes.context(LLAMA));
        Fakes.FakeModel model = new Fakes.FakeModel(LLAMA);
        double loss = loss(objective, model, 1, new Random(0));
        assertThat(model.exitCalls).containsExactly(List.of(2, 4, 8));
        assertThat(loss).isCloseTo(expectedDistilled(Fakes.LABELS), within(TOLERANCE));
        double plainMean = List.of(2, 4, 8).stream().mapToDouble(d -> expected(LLAMA, SubModel.of("depth", d))).sum() / 3;
        assertThat(Math.abs(loss - plainMean)).isGreaterThan(1e-2);
        assertThat(((AllExitsObjective) objective).exitWeights()).isEqualTo(Map.of(2, 3.0));

        // Positions whose label does not count (negative) leave the distillation term as well.
        int[] masked = Fakes.LABELS.clone();
        masked[1] = -100;
        masked[4] = -100;
        double maskedLoss = objective.loss(model, batch(manager, masked), 2, new Random(0)).getFloat();
        assertThat(maskedLoss).isCloseTo(expectedDistilled(masked), within(TOLERANCE));
        assertThat(Math.abs(maskedLoss - loss)).isGreaterThan(1e-3);

        // Distillation-only positions (Batch.UNLABELLED): no cross-entropy there, but the shallow exits still learn the teacher.
        int[] unlabelled = Fakes.LABELS.clone();
        unlabelled[1] = dev.manyfold.api.objective.Batch.UNLABELLED;
        unlabelled[4] = dev.manyfold.api.objective.Batch.UNLABELLED;
        double unlabelledLoss = objective.loss(model, batch(manager, unlabelled), 3, new Random(0)).getFloat();
        assertThat(unlabelledLoss).isCloseTo(expectedDistilled(unlabelled), within(TOLERANCE));
        assertThat(Math.abs(unlabelledLoss - maskedLoss)).isGreaterThan(1e-4);
    }

    @Test
    void allExitsWithoutDistillationOrWeightsIsStillThePlainMean() {
        SortedObjective objective = create("all-exits", Map.of("dimensions", EXITS_2_4_8, "distill", 0), Fakes.context(LLAMA));
        double loss = loss(objective, new Fakes.FakeModel(LLAMA), 1, new Random(0));
        double plainMean = List.of(2, 4, 8).stream().mapToDouble(d -> expected(LLAMA, SubModel.of("depth", d))).sum() / 3;
        assertThat(loss).isCloseTo(plainMean, within(TOLERANCE));
    }

    /** Exit logits that are leaves of the autograd graph, one per exit, so each exit's gradient can be read. */
    private static final class LeafExitsModel implements dev.manyfold.api.objective.ElasticModel {
        private final Fakes.FakeModel fake = new Fakes.FakeModel(LLAMA);
        final Map<Integer, NDArray> leaves = new HashMap<>();

        @Override
        public ModelShape shape() {
            return LLAMA;
        }

        @Override
        public NDArray forward(NDArray input, SubModel subModel) {
            throw new AssertionError("all-exits must use forwardExits");
        }

        @Override
        public List<NDArray> forwardExits(NDArray input, SubModel subModel, List<Integer> exits) {
            List<NDArray> out = new ArrayList<>();
            for (NDArray logits : fake.forwardExits(input, subModel, exits)) {
                NDArray leaf = logits.duplicate();
                leaf.setRequiresGradient(true);
                out.add(leaf);
            }
            for (int i = 0; i < exits.size(); i++) {
                leaves.put(exits.get(i), out.get(i));
            }
            return out;
        }
    }

    @Test
    void theDeepestExitGetsOnlyItsOwnLabelGradientWhileShallowExitsLearnItsSoftmax() {
        SortedObjective objective = distilled(Fakes.context(LLAMA));
        LeafExitsModel model = new LeafExitsModel();
        try (var collector = ai.djl.engine.Engine.getInstance().newGradientCollector()) {
            collector.backward(objective.loss(model, Fakes.batch(manager), 1, new Random(0)));
        }
        assertDistilledExitGradients(model);
    }

    /**
     * Regression (the random NaN at step 1 of distilled runs): every constant the loss is
     * scaled by must stay valid for the backward pass when the JVM collects garbage in
     * between. DJL's {@code mul(Number)} / {@code div(Number)} make the scalar from a direct
     * buffer that libtorch uses in place and that is freed once collected; the backward pass
     * then read whatever had reused that memory (here: NaN bytes).
     */
    @Test
    void distilledExitGradientsStayExactWhenGarbageIsCollectedBetweenForwardAndBackward() throws InterruptedException {
        SortedObjective objective = distilled(Fakes.context(LLAMA));
        LeafExitsModel model = new LeafExitsModel();
        try (var collector = ai.djl.engine.Engine.getInstance().newGradientCollector()) {
            NDArray loss = objective.loss(model, Fakes.batch(manager), 1, new Random(0));
            List<java.nio.ByteBuffer> scribbles = scribbleFreedNativeMemory();
            collector.backward(loss);
            assertThat(scribbles).isNotEmpty();
        }
        assertDistilledExitGradients(model);
    }

    /** Collects garbage, gives the cleaner time to free unreachable direct buffers, then fills new small native blocks with NaN bytes. */
    static List<java.nio.ByteBuffer> scribbleFreedNativeMemory() throws InterruptedException {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(50);
        }
        List<java.nio.ByteBuffer> scribbles = new ArrayList<>();
        for (int i = 0; i < 4000; i++) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocateDirect(4 << (i % 2));
            while (b.hasRemaining()) {
                b.put((byte) 0xFF);
            }
            scribbles.add(b);
        }
        return scribbles;
    }

    private static void assertDistilledExitGradients(LeafExitsModel model) {
        int rows = Fakes.INPUTS.length;
        double teacher = Fakes.scale(LLAMA, SubModel.of("depth", 8));
        for (int d : List.of(2, 4, 8)) {
            double s = Fakes.scale(LLAMA, SubModel.of("depth", d));
            double weight = (d == 2 ? 3.0 : 1.0) / 5;
            float[] grad = model.leaves.get(d).getGradient().toFloatArray();
            for (int r = 0; r < rows; r++) {
                double[] q = softmax(Fakes.INPUTS[r], s);
                double[] qT = softmax(Fakes.INPUTS[r], s / 2);
                double[] pT = softmax(Fakes.INPUTS[r], teacher / 2);
                for (int c = 0; c < q.length; c++) {
                    double labelGrad = q[c] - (c == Fakes.LABELS[r] ? 1 : 0);
                    // d/dz of T²·KL(p_T ‖ softmax(z/T)) is T·(softmax(z/T) − p_T); the teacher's is its CE alone.
                    double expected = d == 8 ? labelGrad : 0.4 * labelGrad + 0.6 * 2 * (qT[c] - pT[c]);
                    assertThat((double) grad[r * q.length + c]).as("exit %d row %d class %d", d, r, c)
                            .isCloseTo(weight * expected / rows, within(1e-6));
                }
            }
        }
    }

    @Test
    void allExitsAcceptsFractionsOfTheModelDepth() {
        SortedObjective objective = create("all-exits",
                Map.of("dimensions", Map.of("depth", Map.of("fractions", List.of(0.25, 0.5, 1.0)))), Fakes.context(null));
        Fakes.FakeModel model = new Fakes.FakeModel(LLAMA);
        loss(objective, model, 1, new Random(0));
        assertThat(model.exitCalls).containsExactly(List.of(2, 4, 8));
    }

    @Test
    void reportEveryWritesTheVisitedSubModels(@TempDir Path dir) throws Exception {
        dev.manyfold.testkit.TestingContext context = dev.manyfold.testkit.TestingContext.builder().model(MLP).workDirectory(dir.resolve("work")).build();
        SortedObjective objective = create("stochastic", Map.of("dimensions", MLP_DIMS, "report-every", 2), context);
        Fakes.FakeModel model = new Fakes.FakeModel(MLP);
        loss(objective, model, 1, new Random(1));
        assertThat(dir.resolve("work").resolve(SortedObjective.REPORT_FILE)).doesNotExist();
        loss(objective, model, 2, new Random(2));
        loss(objective, model, 2, new Random(3));
        Path report = dir.resolve("work").resolve(SortedObjective.REPORT_FILE);
        List<String> lines = Files.readAllLines(report);
        assertThat(lines.get(0)).isEqualTo("sub-model\ttrained\tsampled");
        long total = lines.stream().skip(1).mapToLong(l -> Long.parseLong(l.split("\t")[1])).sum();
        assertThat(total).isEqualTo(3);
        assertThat(context.messages()).anyMatch(m -> m.startsWith("objective stochastic:"))
                .anyMatch(m -> m.startsWith("step 2: stochastic trained"));
    }
}
