package dev.manyfold.runtime.job;

import static dev.manyfold.runtime.testing.TestPlugins.descriptor;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.manyfold.api.Context;
import dev.manyfold.api.Settings;
import dev.manyfold.api.adapter.Adapter;
import dev.manyfold.api.adapter.AdapterFactory;
import dev.manyfold.api.adapter.AttachedAdapter;
import dev.manyfold.runtime.builtin.CorePlugin;
import dev.manyfold.runtime.checkpoint.SafeTensors;
import dev.manyfold.runtime.checkpoint.Tensor;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.recipe.Recipe;
import dev.manyfold.runtime.testing.TestPlugins.TestPlugin;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Adapters attach after W0 is final (train.init, loading a checkpoint), and the run prints its trainable share. */
class AdapterAttachTest {
    /** Remembers the W0 each site had when the adapter attached; contributes one zero scalar per site. */
    static final class RecordingFactory implements AdapterFactory {
        final Map<String, float[]> seen = new ConcurrentHashMap<>();

        @Override
        public String name() {
            return "recording";
        }

        @Override
        public Adapter create(Settings settings, Context context) {
            List<String> targets = settings.getStringList("targets", List.of("q_proj"));
            return new Adapter() {
                @Override
                public List<String> targets() {
                    return targets;
                }

                @Override
                public AttachedAdapter attach(String site, NDArray weight, NDManager parameters, long seed) {
                    seen.put(site, weight.toFloatArray());
                    NDArray p = parameters.zeros(new Shape(1));
                    return new AttachedAdapter() {
                        @Override
                        public Map<String, NDArray> parameters() {
                            return Map.of("p", p);
                        }

                        @Override
                        public NDArray delta(NDArray w, int rows, int cols, NDManager manager) {
                            NDArray d = p.mul(0).broadcast(new Shape(rows, cols));
                            d.attach(manager);
                            return d;
                        }

                        @Override
                        public long trainableParameters() {
                            return 1;
                        }
                    };
                }
            };
        }
    }

    private static final String MODEL = """
            model: { family: llama, dim: 16, layers: 2, heads: 2, ffn: 24 }
            data: { type: text, context: 16, limit: 300 }
            """;

    @Test
    void adaptersSeeTheInitialisedOrLoadedWeightsAndTheRunPrintsItsTrainableShare(@TempDir Path dir) {
        RecordingFactory recording = new RecordingFactory();
        try (Manyfold host = Manyfold.builder().classpathPlugins(false)
                .addPlugin(descriptor("core"), new CorePlugin())
                .addPlugin(descriptor("recording"), new TestPlugin().adapter(recording)).build()) {
            Path base = dir.resolve("base.safetensors");
            float[] q;
            try (Run p = TrainJob.prepare(host, Recipe.parse(MODEL + "train: { steps: 1, seed: 1 }\n", "base.yaml"),
                    new PrintWriter(new StringWriter()))) {
                Map<String, Tensor> tensors = new LinkedHashMap<>();
                p.model().parameters().all().forEach((n, a) -> tensors.put(n, Tensor.of(n, a)));
                SafeTensors.write(base, tensors, Map.of());
                q = p.model().site("layers.0.attn.q_proj").weight().toFloatArray();
            }
            StringWriter log = new StringWriter();
            String yaml = MODEL + "adapters: [ { type: recording, targets: [q_proj] } ]\n"
                    + "train: { steps: 1, seed: 2, init: " + base + ", trainable: [\"adapters.**\"] }\n";
            try (Run p = TrainJob.prepare(host, Recipe.parse(yaml, "tuned.yaml"), new PrintWriter(log, true))) {
                assertThat(recording.seen.get("layers.0.attn.q_proj")).containsExactly(q);
                long all = p.model().parameters().all().values().stream().mapToLong(a -> a.getShape().size()).sum();
                assertThat(p.model().parameters().trainable()).containsExactly("adapters.0.layers.0.attn.q_proj.p",
                        "adapters.0.layers.1.attn.q_proj.p");
                assertThat(log.toString()).contains(String.format(java.util.Locale.ROOT,
                        "trainable params: 2 || all params: %,d || trainable%%: %.4f", all, 200.0 / all));
                Map<String, Tensor> tensors = new LinkedHashMap<>();
                p.model().parameters().all().forEach((n, a) -> tensors.put(n, Tensor.of(n, a)));
                SafeTensors.write(dir.resolve("tuned.safetensors"), tensors, Map.of("recipe", yaml));
            }
            // Loading a tuned checkpoint (eval, export) also attaches after W0 is the checkpoint's.
            recording.seen.clear();
            try (Run p = TrainJob.load(host, dir.resolve("tuned.safetensors"), new PrintWriter(new StringWriter()))) {
                assertThat(recording.seen.get("layers.0.attn.q_proj")).containsExactly(q);
            }
        }
    }
}
