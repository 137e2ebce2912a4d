package dev.manyfold.runtime.train;

import dev.manyfold.runtime.data.HostBatch;
import static dev.manyfold.runtime.train.TrainingFixtures.config;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.mask.MaskStrategy;
import dev.manyfold.api.objective.ElasticModel;
import dev.manyfold.api.objective.Losses;
import dev.manyfold.api.objective.Objective;
import dev.manyfold.runtime.checkpoint.Checkpoint;
import dev.manyfold.runtime.job.Teacher;
import dev.manyfold.runtime.model.LinearSite;
import dev.manyfold.runtime.model.Model;
import dev.manyfold.runtime.model.Ops;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The runtime hooks AST needs: input-norm recording and calibration, and the frozen dense teacher. */
class AstHooksTest {
    @TempDir
    Path dir;

    /** Keeps all but input column 0; records the input norms it is given. */
    static class RecordingStrategy implements MaskStrategy {
        final int calibration;
        final Map<String, float[]> norms = new LinkedHashMap<>();
        int plainCalls;

        RecordingStrategy(int calibration) {
            this.calibration = calibration;
        }

        @Override
        public List<String> targets() {
            return List.of("layers.**");
        }

        @Override
        public int updateEvery() {
            return 0;
        }

        @Override
        public boolean straightThrough() {
            return true;
        }

        @Override
        public int calibrationBatches() {
            return calibration;
        }

        @Override
        public NDArray computeMask(String site, NDArray weight, long step, NDManager manager) {
            plainCalls++;
            NDArray mask = manager.ones(weight.getShape());
            mask.set(new ai.djl.ndarray.index.NDIndex(":, 0"), 0f);
            return mask;
        }

        @Override
        public NDArray computeMask(String site, NDArray weight, float[] inputNorms, long step, NDManager manager) {
            norms.put(site, inputNorms.clone());
            NDArray mask = manager.ones(weight.getShape());
            mask.set(new ai.djl.ndarray.index.NDIndex(":, 0"), 0f);
            return mask;
        }
    }

    /** Masks input column 0 with a constant pruned-weight decay, placed in AdamW or after the step. */
    static final class DecayingStrategy extends RecordingStrategy {
        final double lambda;
        final boolean afterStep;

        DecayingStrategy(double lambda, boolean afterStep) {
            super(0);
            this.lambda = lambda;
            this.afterStep = afterStep;
        }

        @Override
        public double prunedDecay(long step, long totalSteps) {
            return lambda;
        }

        @Override
        public boolean prunedDecayAfterStep() {
            return afterStep;
        }
    }

    private Map<String, float[]> oneStep(DecayingStrategy strategy, String run) {
        TrainingFixtures.TokenSequences data = new TrainingFixtures.TokenSequences(3, 4);
        TrainConfig config = config("steps", 1, "batch", 4, "lr", 1e-2, "seed", 3, "schedule", "constant", "clip", 0);
        try (NDManager m = NDManager.newBaseManager(); Model model = TrainingFixtures.llama(data, 3, m)) {
            new Trainer(model, data, TrainingFixtures.fullModelCrossEntropy(), config, List.of(strategy), List.of(SubModel.FULL),
                    dir.resolve(run), TrainingFixtures.quiet(config), Map.of()).run(null);
            return TrainingFixtures.values(model);
        }
    }

    @Test
    void theTrainerAppliesAnAfterStepDecayAsAPlainAdamStepThenMinusLrLambdaTimesThePrunedStartingWeights() {
        Map<String, float[]> start;
        TrainingFixtures.TokenSequences data = new TrainingFixtures.TokenSequences(3, 4);
        try (NDManager m = NDManager.newBaseManager(); Model model = TrainingFixtures.llama(data, 3, m)) {
            start = TrainingFixtures.values(model);
        }
        Map<String, float[]> plain = oneStep(new DecayingStrategy(0, true), "plain");
        Map<String, float[]> after = oneStep(new DecayingStrategy(0.5, true), "after");
        Map<String, float[]> inAdam = oneStep(new DecayingStrategy(0.5, false), "in-adam");
        String name = "layers.0.mlp.up_proj.weight";
        int cols = 16;
        float[] w0 = start.get(name);
        boolean differs = false;
        for (int i = 0; i < w0.length; i++) {
            boolean pruned = i % cols == 0;
            double expected = plain.get(name)[i] - (pruned ? 1e-2 * 0.5 * w0[i] : 0);
            assertThat((double) after.get(name)[i]).as("entry %d", i).isCloseTo(expected, within(1e-6));
            differs |= pruned && Math.abs(inAdam.get(name)[i] - after.get(name)[i]) > 1e-4;
        }
        assertThat(differs).as("in-adam and after-step give different pruned weights").isTrue();
    }

    @Test
    void aRecordingSiteReturnsTheL2NormOfEachInputFeatureOverAllPositions() {
        try (NDManager m = NDManager.newBaseManager()) {
            LinearSite site = new LinearSite("s", m.ones(new Shape(2, 3)), null);
            site.startRecording();
            site.apply(m.create(new float[] {1f, 2f, 0f, 3f, -2f, 1f}, new Shape(1, 2, 3)));
            site.apply(m.create(new float[] {0f, 0f, 2f}, new Shape(1, 3)), 2, 3);
            float[] norms = site.stopRecording();
            assertThat(norms[0]).isCloseTo((float) Math.sqrt(1 + 9), within(1e-6f));
            assertThat(norms[1]).isCloseTo((float) Math.sqrt(4 + 4), within(1e-6f));
            assertThat(norms[2]).isCloseTo((float) Math.sqrt(0 + 1 + 4), within(1e-6f));
            // not recording any more: nothing accumulates
            site.apply(m.create(new float[] {5f, 5f, 5f}, new Shape(1, 3)));
            site.startRecording();
            assertThat(site.stopRecording()).containsExactly(0f, 0f, 0f);
        }
    }

    @Test
    void theTrainerCalibratesOnTheNextTrainingBatchesBeforeAnActivationAwareMask() {
        TrainingFixtures.TokenSequences data = new TrainingFixtures.TokenSequences(7, 4);
        TrainConfig config = config("steps", 2, "batch", 4, "lr", 1e-2, "seed", 7);
        try (NDManager m = NDManager.newBaseManager(); Model model = TrainingFixtures.llama(data, 7, m)) {
            // expected: the norms of the batches of steps 1 and 2 through the unmasked starting model
            List<String> sites = model.sites().keySet().stream().filter(s -> s.startsWith("layers.")).toList();
            sites.forEach(s -> model.site(s).startRecording());
            for (long step = 1; step <= 2; step++) {
                try (NDManager scope = m.newSubManager()) {
                    HostBatch hb = data.train(step, 0);
                    Ops.withoutAutograd(scope, () -> model.forward(hb.toBatch(scope).inputs(), SubModel.FULL));
                }
            }
            Map<String, float[]> expected = new LinkedHashMap<>();
            sites.forEach(s -> expected.put(s, model.site(s).stopRecording()));

            RecordingStrategy strategy = new RecordingStrategy(2);
            new Trainer(model, data, TrainingFixtures.fullModelCrossEntropy(), config, List.of(strategy), List.of(SubModel.FULL),
                    dir.resolve("run"), TrainingFixtures.quiet(config), Map.of()).run(null);
            assertThat(strategy.plainCalls).isZero();
            assertThat(strategy.norms.keySet()).containsExactlyElementsOf(sites);
            for (String s : sites) {
                assertThat(strategy.norms.get(s)).as(s).hasSize(model.site(s).inFeatures());
                assertThat(strategy.norms.get(s)).as(s).containsExactly(expected.get(s), within(1e-4f));
                assertThat(strategy.norms.get(s)[1]).as(s).isPositive();
            }
        }
    }

    @Test
    void theTeacherIsAFrozenDenseCopyOfTheStartingWeightsThatTrainingNeverTouches() {
        TrainingFixtures.TokenSequences data = new TrainingFixtures.TokenSequences(5, 4);
        TrainConfig config = config("steps", 4, "batch", 4, "lr", 5e-2, "seed", 5);
        try (NDManager m = NDManager.newBaseManager(); Model student = TrainingFixtures.llama(data, 5, m)) {
            Map<String, float[]> start = TrainingFixtures.values(student);
            Model teacher = Teacher.attach(student);
            assertThat(student.teacher()).containsSame(teacher);
            assertThat(teacher.parameters().trainable()).isEmpty();
            assertThat(teacher.parameters().all().keySet()).containsExactlyElementsOf(student.parameters().all().keySet());
            teacher.parameters().all().values().forEach(a -> assertThat(a.hasGradient()).isFalse());
            // a distillation-style objective that runs the teacher on every micro-batch
            int[] teacherCalls = {0};
            Objective objective = new Objective() {
                @Override
                public NDArray loss(ElasticModel model, dev.manyfold.api.objective.Batch batch, long step, java.util.Random random) {
                    NDArray s = model.forward(batch.inputs(), SubModel.FULL);
                    NDArray t = model.teacher().orElseThrow().forward(batch.inputs(), SubModel.FULL);
                    teacherCalls[0]++;
                    assertThat(t.hasGradient()).isFalse();
                    NDArray kl = t.logSoftmax(-1).exp().mul(t.logSoftmax(-1).sub(s.logSoftmax(-1))).sum(new int[] {-1}).mean();
                    return kl.add(Losses.crossEntropy(s, batch.labels()));
                }

                @Override
                public boolean needsTeacher() {
                    return true;
                }
            };
            RecordingStrategy masks = new RecordingStrategy(0);
            Trainer.Summary summary = new Trainer(student, data, objective, config, List.of(masks), List.of(SubModel.FULL),
                    dir.resolve("run"), TrainingFixtures.quiet(config), Map.of()).run(null);
            assertThat(teacherCalls[0]).isEqualTo(4);
            // the student trained and is masked; the teacher is bit-identical to the start and dense
            Map<String, float[]> teacherAfter = TrainingFixtures.values(teacher);
            Map<String, float[]> studentAfter = TrainingFixtures.values(student);
            for (var e : teacherAfter.entrySet()) {
                assertThat(e.getValue()).as(e.getKey()).containsExactly(start.get(e.getKey()));
            }
            assertThat(studentAfter.get("layers.0.attn.q_proj.weight")).isNotEqualTo(start.get("layers.0.attn.q_proj.weight"));
            assertThat(student.site("layers.0.attn.q_proj").mask()).isNotNull();
            teacher.sites().values().forEach(site -> {
                assertThat(site.mask()).as(site.name()).isNull();
                assertThat(site.adapters()).as(site.name()).isEmpty();
            });
            teacher.parameters().all().values().forEach(a -> assertThat(a.hasGradient()).isFalse());
            // optimiser state: two moments for each of the student's trainable tensors and nothing else
            Checkpoint saved = Checkpoint.load(summary.checkpoint());
            long moments = saved.tensors().keySet().stream().filter(n -> n.startsWith("optim.")).count();
            assertThat(moments).isEqualTo(2L * student.parameters().trainable().size());
            long nonOptim = saved.tensors().keySet().stream().filter(n -> !n.startsWith("optim.")).count();
            assertThat(nonOptim).isEqualTo(student.parameters().all().size());
        }
    }
}
