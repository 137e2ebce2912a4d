package dev.manyfold.runtime.train;

import dev.manyfold.runtime.data.TrainingData;
import static dev.manyfold.runtime.train.TrainingFixtures.config;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.checkpoint.Checkpoint;
import dev.manyfold.runtime.checkpoint.CheckpointStore;
import dev.manyfold.runtime.model.Model;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerMetricsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private static List<JsonNode> lines(Path file) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(file)) {
            out.add(JSON.readTree(line));
        }
        return out;
    }

    private Trainer.Summary train(TrainConfig c, List<SubModel> evalSubModels) {
        TrainingData data = new TrainingFixtures.Classification(2, c.batch());
        try (NDManager manager = NDManager.newBaseManager()) {
            Model model = TrainingFixtures.mlp(data, 2, manager);
            return new Trainer(model, data, TrainingFixtures.fullModelCrossEntropy(), c, List.of(), evalSubModels, dir,
                    TrainingFixtures.quiet(c), Map.of()).run(null);
        }
    }

    @Test
    void everyStepWritesOneLineWithStepLossLrAndGradNorm() throws IOException {
        TrainConfig c = config("steps", 7, "batch", 8, "lr", 0.05, "warmup", 2);
        Trainer.Summary summary = train(c, List.of(SubModel.FULL));

        List<JsonNode> steps = lines(dir.resolve("metrics.jsonl")).stream().filter(n -> !n.has("eval")).toList();
        assertThat(steps).hasSize(7);
        for (int i = 0; i < 7; i++) {
            JsonNode n = steps.get(i);
            assertThat(n.get("step").asLong()).isEqualTo(i + 1);
            assertThat(n.get("loss").asDouble()).isCloseTo(summary.losses().get(i), within(1e-6));
            assertThat(n.get("lr").asDouble()).isCloseTo(Schedule.lr(c, i + 1), within(1e-6 * c.lr()));
            assertThat(n.get("grad_norm").asDouble()).isPositive();
            assertThat(n.get("elapsed_s").asDouble()).isGreaterThanOrEqualTo(0);
        }
        assertThat(summary.finalLoss()).isEqualTo(summary.losses().get(6));
    }

    @Test
    void evalLinesFollowTheirStepLineAtEveryEvalEveryStepAndAtTheEnd() throws IOException {
        TrainConfig c = config("steps", 7, "batch", 8, "eval-every", 3);
        Trainer.Summary summary = train(c, List.of(SubModel.FULL, SubModel.of(Model.DEPTH, 1)));

        List<JsonNode> all = lines(dir.resolve("metrics.jsonl"));
        List<String> order = all.stream().map(n -> n.get("step").asText() + (n.has("eval") ? ":" + n.get("eval").asText() : "")).toList();
        assertThat(order).containsExactly("1", "2", "3", "3:full", "3:depth=1", "4", "5", "6", "6:full", "6:depth=1", "7", "7:full",
                "7:depth=1");
        for (JsonNode n : all) {
            if (n.has("eval")) {
                assertThat(n.get("loss").asDouble()).isPositive();
                assertThat(n.get("accuracy").asDouble()).isBetween(0.0, 1.0);
            }
        }
        // the summary carries the final evaluation, in eval sub-model order
        assertThat(summary.eval()).extracting(Evaluator.Result::subModel).containsExactly(SubModel.FULL, SubModel.of(Model.DEPTH, 1));
        assertThat(summary.eval().get(0).loss()).isCloseTo(all.get(11).get("loss").asDouble(), within(1e-6));
        assertThat(summary.eval().get(1).accuracy()).isCloseTo(all.get(12).get("accuracy").asDouble(), within(1e-6));
    }

    @Test
    void withoutEvalEveryTheOnlyEvaluationIsAtTheLastStep() throws IOException {
        TrainConfig c = config("steps", 4, "batch", 8);
        train(c, List.of(SubModel.FULL));

        List<JsonNode> evals = lines(dir.resolve("metrics.jsonl")).stream().filter(n -> n.has("eval")).toList();
        assertThat(evals).hasSize(1);
        assertThat(evals.get(0).get("step").asLong()).isEqualTo(4);
    }

    @Test
    void aResumedRunLeavesOneMetricsLinePerStepWithoutTheKilledRunsExtraOrTornLines() throws Exception {
        TrainConfig c = config("steps", 8, "batch", 4, "checkpoint-every", 4, "eval-every", 3);
        TrainingData data = new TrainingFixtures.Classification(1, c.batch());
        try (NDManager manager = NDManager.newBaseManager()) {
            Model model = TrainingFixtures.mlp(data, 1, manager);
            // killed during step 7: steps 5 and 6 (and the eval at 6) were logged after the step-4 checkpoint
            TrainingData dying = new TrainingFixtures.KilledAt(data, 7);
            assertThatThrownBy(() -> TrainingFixtures.trainer(model, dying, TrainingFixtures.fullModelCrossEntropy(), c, dir).run(null))
                    .isInstanceOf(TrainingFixtures.SimulatedKill.class);
        }
        // a kill in the middle of a write leaves a torn last line
        Files.writeString(dir.resolve("metrics.jsonl"), "{\"step\":7,\"loss\":0.12", java.nio.file.StandardOpenOption.APPEND);
        try (NDManager manager = NDManager.newBaseManager()) {
            Model model = TrainingFixtures.mlp(data, 1, manager);
            TrainingFixtures.trainer(model, data, TrainingFixtures.fullModelCrossEntropy(), c, dir)
                    .run(Checkpoint.load(CheckpointStore.keepingAll().latest(dir).orElseThrow()));
        }
        List<String> order = new ArrayList<>();
        for (String line : Files.readAllLines(dir.resolve("metrics.jsonl"))) {
            var n = JSON.readTree(line);
            order.add(n.get("step").asText() + (n.has("eval") ? ":eval" : ""));
        }
        assertThat(order).containsExactly("1", "2", "3", "3:eval", "4", "5", "6", "6:eval", "7", "8", "8:eval");
    }
}
