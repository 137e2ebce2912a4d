package dev.manyfold.runtime.job;

import static dev.manyfold.runtime.testing.TestPlugins.descriptor;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.manyfold.api.Context;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.Settings;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.decoder.DecoderFactory;
import dev.manyfold.api.decoder.LanguageModel;
import dev.manyfold.api.objective.Losses;
import dev.manyfold.api.objective.Objective;
import dev.manyfold.api.objective.ObjectiveFactory;
import dev.manyfold.runtime.builtin.CorePlugin;
import dev.manyfold.runtime.checkpoint.Checkpoint;
import dev.manyfold.runtime.checkpoint.CheckpointStore;
import dev.manyfold.runtime.host.ExtensionKind;
import dev.manyfold.runtime.host.HostContext;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.host.PluginException;
import dev.manyfold.runtime.recipe.Recipe;
import dev.manyfold.runtime.testing.TestPlugins.TestPlugin;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** API 1.1 host behaviour: declared trained exits, loss dtype, exceptions from plugin code. */
class PluginContract11Test {
    private static final String MODEL = """
            model: { family: llama, dim: 16, layers: 3, heads: 2, ffn: 24 }
            data: { type: text, context: 16, limit: 300 }
            train: { steps: 1, seed: 1, batch: 2 }
            """;

    /** Full-model cross-entropy, returned as {@code dtype}; declares {@code exits}. */
    static ObjectiveFactory objective(String name, DataType dtype, List<Integer> exits) {
        return new ObjectiveFactory() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public Objective create(Settings settings, Context context) {
                return new Objective() {
                    @Override
                    public NDArray loss(dev.manyfold.api.objective.ElasticModel model, dev.manyfold.api.objective.Batch batch, long step,
                            java.util.Random random) {
                        NDArray l = Losses.crossEntropy(model.forward(batch.inputs(), SubModel.FULL), batch.labels());
                        return dtype == null ? l.expandDims(0).repeat(0, 2) : dtype == DataType.FLOAT32 ? l : l.mul(l.getManager().create(1.0d));
                    }

                    @Override
                    public List<Integer> trainedExits(ModelShape model) {
                        return exits;
                    }
                };
            }
        };
    }

    private static Manyfold host(TestPlugin plugin) {
        return Manyfold.builder().classpathPlugins(false).addPlugin(descriptor("core"), new CorePlugin())
                .addPlugin(descriptor("acme"), plugin).build();
    }

    @Test
    void exitsAnObjectiveDeclaresAreTrainedExitsRecordedInTheCheckpointAndRestoredOnLoad(@TempDir Path dir) throws Exception {
        try (Manyfold host = host(new TestPlugin().objective(objective("exits-at-one", DataType.FLOAT32, List.of(1))))) {
            String yaml = MODEL + "objective: { type: exits-at-one }\n";
            try (Run p = TrainJob.prepare(host, Recipe.parse(yaml, "r.yaml"), new PrintWriter(new StringWriter()))) {
                assertThat(((LanguageModel) p.model()).exits()).containsExactly(1, 3);
                TrainJob.train(p, dir, false, new PrintWriter(new StringWriter()), false);
            }
            Checkpoint saved = Checkpoint.load(CheckpointStore.keepingAll().latest(dir).orElseThrow());
            assertThat(saved.metadata()).containsEntry(TrainJob.TRAINED_EXITS, "[1,3]");
            try (Run p = TrainJob.load(host, dir, new PrintWriter(new StringWriter()))) {
                assertThat(((LanguageModel) p.model()).exits()).containsExactly(1, 3);
            }
        }
    }

    @Test
    void anExitOutsideTheModelIsRefusedBeforeTraining() {
        try (Manyfold host = host(new TestPlugin().objective(objective("deep", DataType.FLOAT32, List.of(7))))) {
            assertThatThrownBy(() -> TrainJob.prepare(host, Recipe.parse(MODEL + "objective: { type: deep }\n", "r.yaml"),
                    new PrintWriter(new StringWriter())))
                    .hasMessageContaining("objective: the objective declares trained exit 7, outside the model's 3 layers");
        }
    }

    @Test
    void aFloat64LossIsCastAndTrains(@TempDir Path dir) {
        try (Manyfold host = host(new TestPlugin().objective(objective("double", DataType.FLOAT64, List.of())))) {
            try (Run p = TrainJob.prepare(host, Recipe.parse(MODEL + "objective: { type: double }\n", "r.yaml"),
                    new PrintWriter(new StringWriter()))) {
                var summary = TrainJob.train(p, dir, false, new PrintWriter(new StringWriter()), false);
                assertThat(summary.finalLoss()).isFinite().isPositive();
            }
        }
    }

    @Test
    void aLossThatIsNotAScalarIsRefusedNamingTheObjectiveAndItsPlugin(@TempDir Path dir) {
        try (Manyfold host = host(new TestPlugin().objective(objective("vector", null, List.of())))) {
            try (Run p = TrainJob.prepare(host, Recipe.parse(MODEL + "objective: { type: vector }\n", "r.yaml"),
                    new PrintWriter(new StringWriter()))) {
                assertThatThrownBy(() -> TrainJob.train(p, dir, false, new PrintWriter(new StringWriter()), false))
                        .hasMessageContaining("objective \"vector\" of plugin [acme] returned a loss of shape (2)")
                        .hasMessageContaining("must return a floating-point scalar");
            }
        }
    }

    @Test
    void anExceptionFromADecoderNamesThePluginTheFactoryAndTheMethod() {
        DecoderFactory broken = new DecoderFactory() {
            @Override
            public String name() {
                return "broken";
            }

            @Override
            public Decoder create(Settings settings, Context context) {
                return (model, prompt, max, onToken) -> {
                    Object nothing = null;
                    return dev.manyfold.api.decoder.Generation.of(new int[] {nothing.hashCode()}, java.util.Map.of());
                };
            }
        };
        try (Manyfold host = host(new TestPlugin().decoder(broken))) {
            Decoder d = host.extensions().create(host.extensions().decoders(), ExtensionKind.DECODER, "broken", Settings.empty("decode"),
                    new HostContext(1, Optional.empty(), Path.of("."), s -> { }), "decode.type");
            assertThatThrownBy(() -> d.generate(null, new int[] {1}, 1, t -> { }))
                    .isInstanceOf(PluginException.class)
                    .hasMessageStartingWith("decoder \"broken\" of plugin [acme] failed in Decoder.generate: java.lang.NullPointerException")
                    .hasCauseInstanceOf(NullPointerException.class);
        }
    }
}
