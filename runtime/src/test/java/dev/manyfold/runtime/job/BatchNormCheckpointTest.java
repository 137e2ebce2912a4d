package dev.manyfold.runtime.job;

import static dev.manyfold.runtime.testing.TestPlugins.descriptor;
import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.builtin.CorePlugin;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.recipe.Recipe;
import dev.manyfold.runtime.train.Evaluator;
import dev.manyfold.runtime.data.HostBatch;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A trained CNN with batch normalisation: its running statistics survive the checkpoint, and evaluation after loading agrees. */
class BatchNormCheckpointTest {
    @TempDir
    Path tmp;

    @Test
    void checkpointRoundTripKeepsTheRunningStatisticsAndTheRecalibratedEvaluation() {
        String yaml = """
                name: bn
                model: { family: cnn, channels: 6, blocks: 1, batch-norm: true, bn-recalibrate: 2 }
                data: { type: fashion-mnist, limit: 256 }
                train: { steps: 3, batch: 16, seed: 5 }
                """;
        PrintWriter out = new PrintWriter(new StringWriter());
        try (Manyfold host = Manyfold.builder().classpathPlugins(false).addPlugin(descriptor("core"), new CorePlugin()).build()) {
            Map<String, float[]> stats = new LinkedHashMap<>();
            double before;
            SubModel sub = SubModel.of(Map.of("width", 3));
            try (Run p = TrainJob.prepare(host, Recipe.parse(yaml, "bn.yaml"), out)) {
                TrainJob.train(p, tmp, false, out, false);
                p.model().parameters().all().forEach((n, a) -> {
                    if (n.contains("running_")) {
                        stats.put(n, a.toFloatArray());
                    }
                });
                List<HostBatch> val = p.data().validation(2);
                before = Evaluator.evaluate(p.model(), val, sub, p.model().parameters().manager()).loss();
            }
            assertThat(stats).containsKeys("stem.bn.running_mean", "blocks.0.conv.bn.running_var");
            assertThat(stats.get("stem.bn.running_mean")).isNotEqualTo(new float[6]); // training moved them
            try (Run p = TrainJob.load(host, tmp, out)) {
                stats.forEach((n, v) -> assertThat(p.model().parameters().get(n).toFloatArray()).as(n).containsExactly(v));
                double after = Evaluator.evaluate(p.model(), p.data().validation(2), sub, p.model().parameters().manager()).loss();
                assertThat(after).isEqualTo(before);
            }
        }
    }
}
