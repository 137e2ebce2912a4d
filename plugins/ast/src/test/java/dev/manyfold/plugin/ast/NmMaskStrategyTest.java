package dev.manyfold.plugin.ast;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Globs;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.Plugin;
import dev.manyfold.api.Settings;
import dev.manyfold.api.mask.MaskStrategy;
import dev.manyfold.api.mask.MaskStrategyFactory;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

class NmMaskStrategyTest {
    private static NmMaskStrategy create(Map<String, ?> section, ModelShape model) {
        MaskStrategyFactory factory = new AstPlugin().maskStrategies().get(0);
        Settings settings = Settings.of("masks[0]", section);
        MaskStrategy strategy = factory.create(settings, Fakes.context(model));
        settings.rejectUnknown();
        return (NmMaskStrategy) strategy;
    }

    private static ConfigException refusal(Map<String, ?> section) {
        return (ConfigException) catchThrowable(() -> create(section, Fakes.TINY));
    }

    @Test
    void pluginIsFoundByServiceLoaderAndContributesNmSlorbAndDistill() throws Exception {
        List<Plugin> plugins = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get).toList();
        assertThat(plugins).hasAtLeastOneElementOfType(AstPlugin.class);
        assertThat(new AstPlugin().maskStrategies()).extracting(MaskStrategyFactory::name).containsExactly("nm");
        assertThat(new AstPlugin().adapters()).extracting(f -> f.name()).containsExactly("slorb");
        assertThat(new AstPlugin().objectives()).extracting(f -> f.name()).containsExactly("distill");
        Properties p = new Properties();
        try (InputStream in = getClass().getResourceAsStream("/META-INF/manyfold-plugin.properties")) {
            p.load(in);
        }
        assertThat(p.getProperty("name")).isEqualTo("ast");
    }

    @Test
    void defaultsAreTwoOfFourEveryTenStepsStraightThroughAnnealedAndBlockLinearsOnly() {
        NmMaskStrategy s = create(Map.of(), Fakes.TINY);
        assertThat(s.config().n()).isEqualTo(2);
        assertThat(s.config().m()).isEqualTo(4);
        assertThat(s.updateEvery()).isEqualTo(10);
        assertThat(s.straightThrough()).isTrue();
        assertThat(s.config().decay()).isEqualTo(NmConfig.Decay.ANNEALED);
        assertThat(s.config().lambdaMax()).isEqualTo(1e-4);
        // the embedding and the head stay dense
        assertThat(Globs.select(s.targets(), Fakes.TINY.sites())).containsExactly("layers.0.attn.q_proj",
                "layers.0.mlp.down_proj", "layers.0.mlp.up_proj");
    }

    @Test
    void straightThroughCanBeTurnedOff() {
        assertThat(create(Map.of("straight-through", false), Fakes.TINY).straightThrough()).isFalse();
        assertThat(refusal(Map.of("straight-through", "yes")).path()).isEqualTo("masks[0].straight-through");
    }

    @Test
    void annealedDecayRisesLinearlyToLambdaMaxAtAQuarterOfTrainingThenStays() {
        NmMaskStrategy s = create(Map.of("lambda-max", 2e-4), Fakes.TINY);
        assertThat(s.prunedDecay(0, 100)).isZero();
        assertThat(s.prunedDecay(5, 100)).isCloseTo(0.4e-4, within(1e-12));
        assertThat(s.prunedDecay(10, 100)).isCloseTo(0.8e-4, within(1e-12));
        assertThat(s.prunedDecay(25, 100)).isCloseTo(2e-4, within(1e-12));
        assertThat(s.prunedDecay(60, 100)).isCloseTo(2e-4, within(1e-12));
        assertThat(s.prunedDecay(100, 100)).isCloseTo(2e-4, within(1e-12));
        NmMaskStrategy constant = create(Map.of("lambda-max", 2e-4, "decay", "constant"), Fakes.TINY);
        assertThat(constant.prunedDecay(1, 100)).isEqualTo(2e-4);
        assertThat(constant.prunedDecay(100, 100)).isEqualTo(2e-4);
        NmMaskStrategy none = create(Map.of("decay", "none"), Fakes.TINY);
        assertThat(none.prunedDecay(50, 100)).isZero();
    }

    @Test
    void computeMaskGivesTheMagnitudeMaskInTheWeightsTypeOwnedByTheManager() {
        NmMaskStrategy s = create(Map.of(), Fakes.TINY);
        float[] w = Fakes.gaussian(8, 16, 1.0, 11);
        try (NDManager manager = NDManager.newBaseManager(); NDManager target = manager.newSubManager()) {
            NDArray weight = manager.create(w, new Shape(8, 16));
            NDArray mask = s.computeMask("layers.0.attn.q_proj", weight, 0, target);
            assertThat(mask.getShape()).isEqualTo(new Shape(8, 16));
            assertThat(mask.getDataType()).isEqualTo(DataType.FLOAT32);
            assertThat(mask.getManager()).isSameAs(target);
            boolean[] expected = NmMasks.magnitude(w, 8, 16, 2, 4);
            float[] got = mask.toFloatArray();
            for (int i = 0; i < got.length; i++) {
                assertThat(got[i]).isEqualTo(expected[i] ? 1f : 0f);
            }
            // the exported M⊙W has at most 2 nonzeros per group of 4
            float[] pruned = weight.mul(mask).toFloatArray();
            for (int start = 0; start < pruned.length; start += 4) {
                int nonzero = 0;
                for (int j = 0; j < 4; j++) {
                    nonzero += pruned[start + j] != 0 ? 1 : 0;
                }
                assertThat(nonzero).isLessThanOrEqualTo(2);
            }
        }
    }

    @Test
    void nNotBelowMIsRefusedAtItsPath() {
        ConfigException e = refusal(Map.of("n", 4, "m", 4));
        assertThat(e.path()).isEqualTo("masks[0].n");
        assertThat(e.getMessage()).contains("1 ≤ N < M").contains("[1, 3]");
        assertThat(refusal(Map.of("n", 0)).path()).isEqualTo("masks[0].n");
        assertThat(refusal(Map.of("m", 1)).path()).isEqualTo("masks[0].m");
    }

    @Test
    void anInputDimensionThatMDoesNotDivideIsRefusedNamingTheSite() {
        // down_proj is [16, 12]: 8 does not divide 12
        ConfigException e = refusal(Map.of("n", 2, "m", 8));
        assertThat(e.path()).isEqualTo("masks[0].m");
        assertThat(e.getMessage()).contains("layers.0.mlp.down_proj").contains("[16, 12]");
        assertThat(create(Map.of("m", 8, "targets", List.of("*.q_proj", "*.up_proj")), Fakes.TINY)).isNotNull();
        // without a model the check happens on the first mask
        NmMaskStrategy unchecked = create(Map.of("m", 8), null);
        try (NDManager manager = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> unchecked.computeMask("layers.0.mlp.down_proj", manager.zeros(new Shape(16, 12)), 0, manager))
                    .isInstanceOf(ConfigException.class)
                    .satisfies(t -> assertThat(((ConfigException) t).path()).isEqualTo("masks[0].m"))
                    .hasMessageContaining("layers.0.mlp.down_proj");
        }
    }

    @Test
    void otherBadValuesAreRefusedWithTheirRecipePaths() {
        assertThat(refusal(Map.of("every", 0)).path()).isEqualTo("masks[0].every");
        assertThat(refusal(Map.of("every", -5)).path()).isEqualTo("masks[0].every");
        assertThat(refusal(Map.of("lambda-max", -1e-4)).path()).isEqualTo("masks[0].lambda-max");
        assertThat(refusal(Map.of("criterion", "wanda", "calibration-batches", 0)).path()).isEqualTo("masks[0].calibration-batches");
        assertThat(refusal(Map.of("calibration-batches", 2)).getMessage()).contains("criterion: wanda");
        assertThat(refusal(Map.of("decay-placement", "after")).path()).isEqualTo("masks[0].decay-placement");
        assertThat(refusal(Map.of("decay", "anealed")).getMessage()).contains("did you mean \"annealed\"?");
        assertThat(refusal(Map.of("mode", "static")).path()).isEqualTo("masks[0].mode");
        assertThat(refusal(Map.of("plot-every", 0)).path()).isEqualTo("masks[0].plot-every");
        assertThat(refusal(Map.of("targets", List.of("*.w_proj"))).getMessage()).contains("match no linear site");
        assertThat(refusal(Map.of("evry", 3)).path()).isEqualTo("masks[0].evry");
    }
}
