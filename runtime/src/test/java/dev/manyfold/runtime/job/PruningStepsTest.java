package dev.manyfold.runtime.job;

import static dev.manyfold.runtime.testing.TestPlugins.descriptor;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.Context;
import dev.manyfold.api.Plugin;
import dev.manyfold.api.Settings;
import dev.manyfold.api.mask.MaskStrategy;
import dev.manyfold.api.mask.MaskStrategyFactory;
import dev.manyfold.api.prune.AttentionLayout;
import dev.manyfold.api.prune.GlobalPruning;
import dev.manyfold.api.prune.PruneSite;
import dev.manyfold.api.prune.PruningPlan;
import dev.manyfold.api.prune.PruningStepFactory;
import dev.manyfold.runtime.builtin.CorePlugin;
import dev.manyfold.runtime.checkpoint.Checkpoint;
import dev.manyfold.runtime.checkpoint.CheckpointStore;
import dev.manyfold.runtime.host.HostContext;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.recipe.Recipe;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Stage prune steps: the API 1.1 extension point, and the 1.0 form (a MaskStrategy that implements GlobalPruning). */
class PruningStepsTest {
    /** Zeroes the whole layers.0.attn.q_proj. */
    static final class ZeroQ implements GlobalPruning {
        @Override
        public PruningPlan plan(Map<String, PruneSite> sites, Optional<AttentionLayout> attention, NDManager manager) {
            PruneSite q = sites.get("layers.0.attn.q_proj");
            return new PruningPlan(Map.of(q.name(), manager.zeros(q.weight().getShape(), q.weight().getDataType())), Optional.empty());
        }
    }

    /** A plain mask strategy (keeps everything): not a pruning step. */
    static class KeepAll implements MaskStrategy {
        @Override
        public List<String> targets() {
            return List.of("**");
        }

        @Override
        public int updateEvery() {
            return 0;
        }

        @Override
        public boolean straightThrough() {
            return false;
        }

        @Override
        public NDArray computeMask(String site, NDArray weight, long step, NDManager manager) {
            return weight.onesLike();
        }
    }

    /** The API 1.0 shape of a pruning step: a mask strategy that also implements GlobalPruning. */
    static final class OldZeroQ extends KeepAll implements GlobalPruning {
        @Override
        public PruningPlan plan(Map<String, PruneSite> sites, Optional<AttentionLayout> attention, NDManager manager) {
            return new ZeroQ().plan(sites, attention, manager);
        }
    }

    private static Manyfold host() {
        Plugin plugin = new Plugin() {
            @Override
            public List<PruningStepFactory> pruningSteps() {
                return List.of(new PruningStepFactory() {
                    @Override
                    public String name() {
                        return "zero-q";
                    }

                    @Override
                    public GlobalPruning create(Settings settings, Context context) {
                        return new ZeroQ();
                    }
                });
            }

            @Override
            public List<MaskStrategyFactory> maskStrategies() {
                return List.of(factory("old-zero-q", true), factory("plain-mask", false));
            }
        };
        return Manyfold.builder().classpathPlugins(false).addPlugin(descriptor("core"), new CorePlugin())
                .addPlugin(descriptor("steps"), plugin).build();
    }

    private static MaskStrategyFactory factory(String name, boolean global) {
        return new MaskStrategyFactory() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public MaskStrategy create(Settings settings, Context context) {
                return global ? new OldZeroQ() : new KeepAll();
            }
        };
    }

    private static String recipe(String step) {
        return """
                name: staged
                model: { family: llama, dim: 16, layers: 2, heads: 2, ffn: 24 }
                data: { type: text, context: 16, limit: 300 }
                train: { steps: 1, batch: 2, seed: 1 }
                stages:
                  - { name: tune }
                  - { name: recover, prune: { type: %s } }
                """.formatted(step);
    }

    @Test
    void bothTheNewExtensionPointAndThe10FormAreStagePruneStepsWhileAPlainMaskIsRefused() {
        try (Manyfold host = host()) {
            HostContext context = new HostContext(1, Optional.empty(), Path.of("."), s -> { });
            assertThat(StagedJob.validate(host, Recipe.parse(recipe("zero-q"), "r.yaml"), Path.of("."))).containsExactly("tune", "recover");
            assertThat(StagedJob.validate(host, Recipe.parse(recipe("old-zero-q"), "r.yaml"), Path.of("."))).containsExactly("tune", "recover");
            assertThatThrownBy(() -> StagedJob.validate(host, Recipe.parse(recipe("plain-mask"), "r.yaml"), Path.of(".")))
                    .hasMessageContaining("stages[1].prune.type: mask strategy \"plain-mask\" is not a global pruning step")
                    .hasMessageContaining("[zero-q]");
            assertThatThrownBy(() -> StagedJob.validate(host, Recipe.parse(recipe("zero"), "r.yaml"), Path.of(".")))
                    .hasMessageContaining("stages[1].prune.type: unknown pruning step \"zero\"");
        }
    }

    @Test
    void aPruningStepOfThe10FormStillPrunesBetweenStages(@TempDir Path dir) {
        try (Manyfold host = host()) {
            StagedJob.run(host, Recipe.parse(recipe("old-zero-q"), "r.yaml"), dir, new PrintWriter(new StringWriter()), false);
            Checkpoint last = Checkpoint.load(CheckpointStore.keepingAll().latest(dir).orElseThrow());
            assertThat(last.tensors()).containsKey("mask.layers.0.attn.q_proj");
        }
    }
}
