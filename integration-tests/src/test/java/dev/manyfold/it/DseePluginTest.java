package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.adapter.AttachedAdapter;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.model.LinearSite;
import dev.manyfold.runtime.recipe.Recipe;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real dsee plugin, loaded from the bundle, tuning a tiny LLaMA through the runtime. */
class DseePluginTest {
    private static final String MODEL = """
            model: { family: llama, dim: 16, layers: 2, heads: 2, ffn: 24 }
            data: { type: text, context: 16, limit: 300 }
            """;
    private static final String TRAIN = "train: { steps: 3, batch: 4, lr: 1e-2, seed: 3, trainable: [\"adapters.**\"] }\n";

    @TempDir
    Path tmp;

    private Manyfold host;

    @BeforeEach
    void loadBundlePlugins() {
        host = Manyfold.builder().pluginDir(Bundle.plugins()).build();
    }

    @AfterEach
    void close() {
        host.close();
    }

    private Run prepare(String yaml, StringWriter log) {
        return TrainJob.prepare(host, Recipe.parse(yaml, "dsee.yaml"), new PrintWriter(log, true));
    }

    private static float[] logits(Run p) {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray tokens = m.create(new int[] {3, 1, 4, 1, 5, 9, 2, 6}).reshape(1, 8);
            return p.model().forward(tokens, SubModel.FULL).toFloatArray();
        }
    }

    @Test
    void dseeStartsAtTheBaseModelTrainsOnlyItsParametersAndLeavesW0BitwiseUnchanged() {
        float[] base;
        try (Run plain = prepare(MODEL + TRAIN.replace(", trainable: [\"adapters.**\"]", ""), new StringWriter())) {
            base = logits(plain);
        }
        StringWriter log = new StringWriter();
        try (Run p = prepare(MODEL + "adapters: [ { type: dsee, rank: 2, sparse: 4 } ]\n" + TRAIN, log)) {
            assertThat(logits(p)).containsExactly(base);

            long expected = 0;
            int adapted = 0;
            for (LinearSite site : p.model().sites().values()) {
                for (AttachedAdapter a : site.adapters()) {
                    assertThat(a.trainableParameters()).isEqualTo((site.outFeatures() + site.inFeatures()) * 2L + 4);
                    expected += a.trainableParameters();
                    adapted++;
                }
            }
            assertThat(adapted).isEqualTo(4);
            // all params: every floating tensor (Ω's int64 index buffers are not parameters)
            long all = p.model().parameters().all().values().stream().filter(a -> a.getDataType().isFloating())
                    .mapToLong(a -> a.getShape().size()).sum();
            assertThat(p.model().parameters().get("adapters.0.layers.0.attn.q_proj.omega").getShape().size()).isEqualTo(4);
            assertThat(log.toString()).contains(String.format(Locale.ROOT, "trainable params: %,d || all params: %,d || trainable%%: %.4f",
                    expected, all, 100.0 * expected / all));

            Map<String, float[]> frozen = new LinkedHashMap<>();
            p.model().parameters().all().forEach((n, a) -> {
                if (!n.startsWith("adapters.")) {
                    frozen.put(n, a.toFloatArray());
                }
            });
            TrainJob.trainer(p, tmp.resolve("run"), new PrintWriter(new StringWriter()), false).run(null);

            frozen.forEach((n, before) -> assertThat(p.model().parameters().get(n).toFloatArray()).as(n).containsExactly(before));
            assertThat(p.model().parameters().get("adapters.0.layers.0.attn.q_proj.v").abs().sum().getFloat()).isPositive();
            assertThat(p.model().parameters().get("adapters.0.layers.0.attn.q_proj.s").abs().sum().getFloat()).isPositive();
            assertThat(logits(p)).isNotEqualTo(base);
        }
    }
}
