package dev.manyfold.runtime.train;

import dev.manyfold.runtime.data.TrainingData;
import static dev.manyfold.runtime.train.TrainingFixtures.bits;
import static dev.manyfold.runtime.train.TrainingFixtures.config;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.mask.MaskStrategy;
import dev.manyfold.api.objective.Objective;
import dev.manyfold.runtime.checkpoint.Checkpoint;
import dev.manyfold.runtime.checkpoint.CheckpointStore;
import dev.manyfold.runtime.checkpoint.Tensor;
import dev.manyfold.runtime.model.Model;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A run killed after its mid-way checkpoint and resumed on a freshly built model ends with
 * exactly the weights of an uninterrupted run.
 */
class TrainerResumeTest {
    private static final int STEPS = 8;

    @TempDir
    Path dir;

    /** One experiment: how to build data and model, which objective and masks, which config. */
    private record Setup(TrainConfig config, TrainingData data, BiFunction<Long, NDManager, Model> model, Objective objective,
            List<MaskStrategy> masks) {
        Trainer trainer(Model m, TrainingData d, Path runDir) {
            return new Trainer(m, d, objective, config, masks, List.of(SubModel.FULL), runDir, TrainingFixtures.quiet(config),
                    Map.of("family", m.family()));
        }
    }

    private Setup llama() {
        TrainConfig c = config("steps", STEPS, "batch", 4, "lr", 0.01, "warmup", 2, "weight-decay", 0.05, "seed", 11,
                "checkpoint-every", STEPS / 2, "eval-every", 3);
        TrainingData data = new TrainingFixtures.TokenSequences(11, c.batch());
        // the random depth leaves layer 1 out of some steps, before and after the checkpoint
        return new Setup(c, data, (seed, m) -> TrainingFixtures.llama(data, seed, m), TrainingFixtures.randomDepthCrossEntropy(2),
                List.of());
    }

    private Setup maskedMlpWithAccumulation() {
        TrainConfig c = config("steps", STEPS, "batch", 4, "accumulate", 2, "lr", 0.02, "warmup", 1, "weight-decay", 0.01,
                "seed", 12, "checkpoint-every", STEPS / 2, "clip", 0.5);
        TrainingData data = new TrainingFixtures.Classification(12, c.batch());
        // recomputed at steps 3 and 6: one update before the checkpoint, one after the resume
        List<MaskStrategy> masks = List.of(new TrainingFixtures.HalfMagnitudeMask(List.of("blocks.*"), 3, true));
        return new Setup(c, data, (seed, m) -> TrainingFixtures.mlp(data, seed, m), TrainingFixtures.fullModelCrossEntropy(), masks);
    }

    @Test
    void llamaResumedFromTheMidwayCheckpointEndsBitIdenticalToAnUninterruptedRun() {
        assertResumeIsExact(llama());
    }

    @Test
    void maskedMlpWithAccumulationAndClippingResumesBitIdentically() {
        assertResumeIsExact(maskedMlpWithAccumulation());
    }

    private void assertResumeIsExact(Setup s) {
        Map<String, int[]> uninterrupted;
        List<Double> uninterruptedLosses;
        try (NDManager manager = NDManager.newBaseManager()) {
            Model model = s.model().apply(s.config().seed(), manager);
            uninterruptedLosses = s.trainer(model, s.data(), dir.resolve("whole")).run(null).losses();
            uninterrupted = bits(model);
        }

        Path runDir = dir.resolve("killed");
        Map<String, int[]> atKill;
        try (NDManager manager = NDManager.newBaseManager()) {
            Model model = s.model().apply(s.config().seed(), manager);
            TrainingData dying = new TrainingFixtures.KilledAt(s.data(), STEPS / 2 + 1);
            assertThatThrownBy(() -> s.trainer(model, dying, runDir).run(null)).isInstanceOf(TrainingFixtures.SimulatedKill.class);
            atKill = bits(model);
        }

        // The kill left the mid-way checkpoint as the latest, loadable, holding the weights reached.
        Path latest = CheckpointStore.keepingAll().latest(runDir).orElseThrow();
        assertThat(latest.getFileName()).hasToString("checkpoint-" + STEPS / 2 + ".safetensors");
        Checkpoint checkpoint = Checkpoint.load(latest);
        assertThat(checkpoint.step()).hasValue(STEPS / 2);
        assertThat(checkpoint.tensors().keySet()).containsAll(atKill.keySet());
        atKill.forEach((name, raw) -> assertThat(rawBits(checkpoint.tensor(name))).as(name).containsExactly(raw));
        for (String name : atKill.keySet()) {
            if (!name.startsWith("mask.") && s.config().optimizer().equals("adamw")) {
                assertThat(checkpoint.tensors()).containsKeys("optim.m." + name, "optim.v." + name);
            }
        }
        assertThat(uninterrupted).isNotEmpty();
        assertThat(differing(atKill, uninterrupted)).as("the run had not finished when killed").isNotEmpty();

        // Resume on a model built from another seed: everything must come from the checkpoint.
        try (NDManager manager = NDManager.newBaseManager()) {
            Model model = s.model().apply(s.config().seed() + 1000, manager);
            Trainer.Summary summary = s.trainer(model, s.data(), runDir).run(Checkpoint.load(latest));
            assertThat(summary.losses()).isEqualTo(uninterruptedLosses.subList(STEPS / 2, STEPS));
            Map<String, int[]> resumed = bits(model);
            assertThat(resumed.keySet()).containsExactlyInAnyOrderElementsOf(uninterrupted.keySet());
            assertThat(differing(resumed, uninterrupted)).as("tensors that differ from the uninterrupted run").isEmpty();
            assertThat(summary.checkpoint()).isEqualTo(runDir.resolve("checkpoint-" + STEPS + ".safetensors"));
        }
    }

    @Test
    void aTensorReachedOnlyBeforeTheCheckpointKeepsItsMomentumUpdatesAfterTheResume() {
        // head.bias is in the loss at steps 1-2 only; the resumed model has no gradient for it at all
        TrainConfig c = config("steps", 4, "batch", 4, "lr", 0.1, "schedule", "constant", "weight-decay", 0.1,
                "checkpoint-every", 2);
        TrainingData data = new TrainingFixtures.Classification(1, c.batch());
        float[] a = {1f, -2f, 0.5f};
        float[] b = {0.25f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, -1f};
        java.util.function.Function<Model, Objective> objective = m -> LinearObjectives.linear(m,
                step -> step <= 2 ? Map.of("head.bias", a, "input.bias", b) : Map.of("input.bias", b));

        float[] afterTwo;
        Map<String, int[]> uninterrupted;
        try (NDManager manager = NDManager.newBaseManager()) {
            Model model = TrainingFixtures.mlp(data, 1, manager);
            TrainingFixtures.trainer(model, new TrainingFixtures.KilledAt(data, 3), objective.apply(model), c, dir.resolve("probe"))
                    .run(null);
        } catch (TrainingFixtures.SimulatedKill expected) {
            // the probe stops after step 2 to see head.bias there
        }
        try (NDManager manager = NDManager.newBaseManager()) {
            afterTwo = Checkpoint.load(dir.resolve("probe").resolve("checkpoint-2.safetensors")).tensor("head.bias").toNDArray(manager)
                    .toFloatArray();
        }
        try (NDManager manager = NDManager.newBaseManager()) {
            Model model = TrainingFixtures.mlp(data, 1, manager);
            TrainingFixtures.trainer(model, data, objective.apply(model), c, dir.resolve("whole")).run(null);
            uninterrupted = bits(model);
            assertThat(model.parameters().get("head.bias").toFloatArray()).as("momentum moves head.bias in steps 3-4")
                    .isNotEqualTo(afterTwo);
        }
        try (NDManager manager = NDManager.newBaseManager()) {
            Model model = TrainingFixtures.mlp(data, 1, manager);
            TrainingFixtures.trainer(model, data, objective.apply(model), c, dir.resolve("probe"))
                    .run(Checkpoint.load(dir.resolve("probe").resolve("checkpoint-2.safetensors")));
            assertThat(differing(bits(model), uninterrupted)).isEmpty();
        }
    }

    private static List<String> differing(Map<String, int[]> a, Map<String, int[]> b) {
        return a.keySet().stream().filter(n -> !java.util.Arrays.equals(a.get(n), b.get(n))).toList();
    }

    private static int[] rawBits(Tensor t) {
        ByteBuffer data = t.data().order(ByteOrder.LITTLE_ENDIAN);
        int[] out = new int[data.remaining() / 4];
        data.asIntBuffer().get(out);
        return out;
    }
}
