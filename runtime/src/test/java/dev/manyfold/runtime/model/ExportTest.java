package dev.manyfold.runtime.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.SubModel;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ExportTest {
    private static Model reload(Model.Exported exported, NDManager manager) {
        Model plain = ModelFactory.fromConfig(exported.config(), 99, manager);
        assertThat(plain.parameters().all().keySet()).containsExactlyInAnyOrderElementsOf(exported.tensors().keySet());
        exported.tensors().forEach((name, array) -> plain.parameters().assign(name, array));
        return plain;
    }

    @Test
    void exportedMlpSubModelLoadsAsAPlainSmallerModelWithIdenticalOutputs() {
        try (NDManager manager = NDManager.newBaseManager()) {
            Model model = new MlpModel(new ParameterStore(manager, 3), 12, 16, 3, 5);
            SubModel sub = SubModel.of(Map.of("width", 10, "depth", 2));
            NDArray x = manager.randomUniform(0, 1, new ai.djl.ndarray.types.Shape(4, 12));
            float[] expected = model.forward(x, sub).toFloatArray();
            Model plain = reload(model.export(sub, manager), manager);
            assertThat(plain.dimensions()).containsEntry("width", 10).containsEntry("depth", 2);
            assertThat(plain.totalParameters()).isEqualTo(model.parameterCount(sub));
            assertThat(plain.forward(x, SubModel.FULL).toFloatArray()).containsExactly(expected);
        }
    }

    @Test
    void exportedLlamaSubModelLoadsAsAPlainSmallerModelWithIdenticalOutputs() {
        try (NDManager manager = NDManager.newBaseManager()) {
            LlamaModel model = new LlamaModel(new ParameterStore(manager, 5),
                    new LlamaModel.Config(29, 24, 3, 4, 2, 6, 40, 16, false, 10000, 1e-5, 28));
            SubModel sub = SubModel.of(Map.of("depth", 2, "heads", 2, "ffn", 24, "embedding", 16));
            NDArray tokens = manager.create(new int[] {1, 7, 3, 28, 5, 9}).reshape(1, 6);
            float[] expected = model.forward(tokens, sub).toFloatArray();
            Model plain = reload(model.export(sub, manager), manager);
            assertThat(plain.dimensions()).containsEntry("depth", 2).containsEntry("heads", 2).containsEntry("ffn", 24)
                    .containsEntry("embedding", 16);
            assertThat(plain.totalParameters()).isEqualTo(model.parameterCount(sub));
            float[] actual = plain.forward(tokens, SubModel.FULL).toFloatArray();
            assertThat(actual).containsExactly(expected);
        }
    }

    @Test
    void configAndShapeIterateInSortedOrderSoCheckpointsAndSamplingDoNotDependOnTheJvmRun() {
        // Map.of iterates in an order salted per JVM: a checkpoint's model JSON, or a sampler
        // walking the dimensions, would then differ between two runs with the same seed.
        try (NDManager manager = NDManager.newBaseManager()) {
            LlamaModel model = new LlamaModel(new ParameterStore(manager, 5),
                    new LlamaModel.Config(29, 24, 3, 4, 2, 6, 40, 16, false, 10000, 1e-5, 28));
            assertThat(List.copyOf(model.config().keySet())).isSorted().contains("dim", "heads", "layers");
            assertThat(model.shape().dimensions().keySet()).containsExactly("depth", "embedding", "ffn", "heads");
        }
    }
}
