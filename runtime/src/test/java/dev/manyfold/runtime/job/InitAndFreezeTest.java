package dev.manyfold.runtime.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.checkpoint.SafeTensors;
import dev.manyfold.runtime.checkpoint.Tensor;
import dev.manyfold.runtime.model.LlamaModel;
import dev.manyfold.runtime.model.ParameterStore;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InitAndFreezeTest {
    private static LlamaModel.Config config(List<Integer> exitHeads) {
        return new LlamaModel.Config(19, 16, 3, 2, 2, 8, 24, 12, false, 10000, 1e-5, 18, exitHeads);
    }

    private static Path save(LlamaModel model, Path file) {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        model.parameters().all().forEach((n, a) -> tensors.put(n, Tensor.of(n, a)));
        SafeTensors.write(file, tensors, Map.of());
        return file;
    }

    @Test
    void initCopiesSharedTensorsAndStartsExitHeadsFromTheSharedHead(@TempDir Path dir) {
        try (NDManager manager = NDManager.newBaseManager()) {
            LlamaModel trained = new LlamaModel(new ParameterStore(manager, 1), config(List.of()));
            Path file = save(trained, dir.resolve("base.safetensors"));
            LlamaModel withHeads = new LlamaModel(new ParameterStore(manager, 2), config(List.of(1, 2)));
            StringWriter log = new StringWriter();
            TrainJob.initialise(withHeads, file, new PrintWriter(log, true));

            assertThat(log.toString()).contains("initialised " + withHeads.parameters().all().size() + " of");
            float[] head = trained.parameters().get("lm_head.weight").toFloatArray();
            assertThat(withHeads.parameters().get("exit_heads.1.weight").toFloatArray()).containsExactly(head);
            NDArray tokens = manager.create(new int[] {3, 1, 4, 1, 5}).reshape(1, 5);
            // identical heads: every exit of the ICT model equals the plain model's exit
            List<NDArray> a = trained.forwardExits(tokens, SubModel.FULL, List.of(1, 2, 3));
            List<NDArray> b = withHeads.forwardExits(tokens, SubModel.FULL, List.of(1, 2, 3));
            for (int i = 0; i < 3; i++) {
                // the plain model applies its one head to all exits in one stacked matmul: equal up to rounding
                assertThat(b.get(i).toFloatArray()).containsExactly(a.get(i).toFloatArray(), org.assertj.core.data.Offset.offset(1e-5f));
            }
            // a changed exit head changes only its exit
            withHeads.parameters().assign("exit_heads.2.weight", withHeads.parameters().get("exit_heads.2.weight").mul(2));
            List<NDArray> c = withHeads.forwardExits(tokens, SubModel.FULL, List.of(1, 2, 3));
            assertThat(c.get(0).toFloatArray()).containsExactly(b.get(0).toFloatArray());
            assertThat(c.get(1).toFloatArray()).isNotEqualTo(b.get(1).toFloatArray());
            assertThat(c.get(2).toFloatArray()).containsExactly(b.get(2).toFloatArray());
        }
    }

    @Test
    void initRefusesACheckpointOfAnotherShapeNamingTheTensor(@TempDir Path dir) {
        try (NDManager manager = NDManager.newBaseManager()) {
            LlamaModel other = new LlamaModel(new ParameterStore(manager, 1),
                    new LlamaModel.Config(19, 32, 3, 2, 2, 16, 24, 12, false, 10000, 1e-5, 18));
            Path file = save(other, dir.resolve("other.safetensors"));
            LlamaModel model = new LlamaModel(new ParameterStore(manager, 2), config(List.of()));
            assertThatThrownBy(() -> TrainJob.initialise(model, file, new PrintWriter(new StringWriter())))
                    .isInstanceOf(ConfigException.class).hasMessageContaining("train.init").hasMessageContaining("embed.weight");
        }
    }

    @Test
    void trainableGlobsFreezeEverythingElse() {
        try (NDManager manager = NDManager.newBaseManager()) {
            LlamaModel model = new LlamaModel(new ParameterStore(manager, 1), config(List.of(1, 2)));
            TrainJob.freeze(model, List.of("exit_heads.**"));
            assertThat(model.parameters().trainable()).containsExactlyInAnyOrder("exit_heads.1.weight", "exit_heads.2.weight");
            assertThatThrownBy(() -> TrainJob.freeze(model, List.of("nothing.*"))).isInstanceOf(ConfigException.class)
                    .hasMessageContaining("train.trainable");
        }
    }
}
