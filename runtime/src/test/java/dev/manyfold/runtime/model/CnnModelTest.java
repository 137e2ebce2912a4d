package dev.manyfold.runtime.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.objective.Losses;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CnnModelTest {
    @Test
    void channelSlicedForwardHasZeroGradientOutsideTheSliceAndIgnoresOutsideWeights() {
        try (NDManager manager = NDManager.newBaseManager()) {
            CnnModel model = new CnnModel(new ParameterStore(manager, 1), 8, 6, 3, 4);
            SubModel sub = SubModel.of(Map.of("width", 4, "depth", 2));
            NDArray x = manager.randomUniform(0, 1, new Shape(3, 64));
            float[] before = model.forward(x, sub).toFloatArray();
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                gc.backward(Losses.crossEntropy(model.forward(x, sub), manager.create(new int[] {0, 1, 3})));
            }
            NDArray g = model.parameters().get("blocks.1.conv.weight").getGradient();
            assertThat(g.get(new NDIndex("4:, :")).abs().sum().getFloat()).isZero();
            assertThat(g.get(new NDIndex(":, 36:")).abs().sum().getFloat()).isZero();
            assertThat(g.get(new NDIndex(":4, :36")).abs().sum().getFloat()).isPositive();
            assertThat(model.parameters().get("blocks.2.conv.weight").getGradient().abs().sum().getFloat()).isZero();

            NDArray changed = model.parameters().get("blocks.0.conv.weight").duplicate();
            changed.set(new NDIndex("4:, :"), 7f);
            model.parameters().assign("blocks.0.conv.weight", changed);
            model.parameters().assign("blocks.2.conv.weight", model.parameters().get("blocks.2.conv.weight").mul(3));
            assertThat(model.forward(x, sub).toFloatArray()).containsExactly(before);
        }
    }

    @Test
    void exportedCnnSubModelReproducesTheSubModelExactly() {
        try (NDManager manager = NDManager.newBaseManager()) {
            CnnModel model = new CnnModel(new ParameterStore(manager, 2), 8, 6, 3, 4);
            SubModel sub = SubModel.of(Map.of("width", 3, "depth", 1));
            NDArray x = manager.randomUniform(0, 1, new Shape(2, 64));
            Model.Exported exported = model.export(sub, manager);
            Model plain = ModelFactory.fromConfig(exported.config(), 5, manager);
            exported.tensors().forEach((n, a) -> plain.parameters().assign(n, a));
            assertThat(plain.totalParameters()).isEqualTo(model.parameterCount(sub));
            assertThat(plain.forward(x, SubModel.FULL).toFloatArray()).containsExactly(model.forward(x, sub).toFloatArray());
        }
    }
}
