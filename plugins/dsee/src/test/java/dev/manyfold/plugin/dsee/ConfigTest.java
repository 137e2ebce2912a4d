package dev.manyfold.plugin.dsee;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.Plugin;
import dev.manyfold.api.Settings;
import dev.manyfold.api.adapter.Adapter;
import dev.manyfold.api.adapter.AdapterFactory;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

class ConfigTest {
    private static Adapter create(String type, Map<String, ?> section, ModelShape model) {
        AdapterFactory factory = new DseePlugin().adapters().stream().filter(f -> f.name().equals(type)).findFirst().orElseThrow();
        Settings settings = Fakes.adapter(section);
        Adapter adapter = factory.create(settings, Fakes.context(model));
        settings.rejectUnknown();
        return adapter;
    }

    private static ConfigException refusal(String type, Map<String, ?> section) {
        return (ConfigException) org.assertj.core.api.Assertions.catchThrowable(() -> create(type, section, Fakes.TINY));
    }

    @Test
    void pluginIsFoundByServiceLoaderAndContributesDseeAndLora() throws Exception {
        List<Plugin> plugins = ServiceLoader.load(Plugin.class).stream().map(ServiceLoader.Provider::get).toList();
        assertThat(plugins).hasAtLeastOneElementOfType(DseePlugin.class);
        assertThat(new DseePlugin().adapters()).extracting(AdapterFactory::name).containsExactly("dsee", "lora");
        Properties p = new Properties();
        try (InputStream in = getClass().getResourceAsStream("/META-INF/manyfold-plugin.properties")) {
            p.load(in);
        }
        assertThat(p.getProperty("name")).isEqualTo("dsee");
    }

    @Test
    void defaultsFollowTheSpec() {
        DseeConfig c = ((DseeAdapter) create("dsee", Map.of("rank", 4), Fakes.TINY)).config();
        assertThat(c.targets()).containsExactly("q_proj", "v_proj");
        assertThat(c.sparse()).isEqualTo(16);
        assertThat(c.support()).isEqualTo(Support.GREBSMO);
        assertThat(c.scale()).isEqualTo(2.0);
        assertThat(c.initStd()).isEqualTo(0.02);
        DseeConfig lora = ((DseeAdapter) create("lora", Map.of("rank", 4, "alpha", 8), Fakes.TINY)).config();
        assertThat(lora.sparse()).isZero();
        assertThat(lora.isLora()).isTrue();
    }

    @Test
    void rankNotBelowMinOfAnyTargetedSiteIsRefusedAtTheRankPath() {
        // layers.1.attn.v_proj is [6, 12]: rank 6 is too large there even though q_proj is 12 × 12.
        ConfigException e = refusal("dsee", Map.of("rank", 6));
        assertThat(e.path()).isEqualTo("adapters[0].rank");
        assertThat(e.getMessage()).contains("layers.1.attn.v_proj").contains("[6, 12]").contains("[1, 5]");
        assertThat(create("dsee", Map.of("rank", 6, "targets", List.of("q_proj")), Fakes.TINY)).isNotNull();
        assertThat(refusal("lora", Map.of("rank", 12, "targets", List.of("q_proj"))).path()).isEqualTo("adapters[0].rank");
        assertThat(refusal("lora", Map.of("rank", 0)).path()).isEqualTo("adapters[0].rank");
    }

    @Test
    void moreSparseEntriesThanTheMatrixHasAreRefusedAtTheSparsePath() {
        ConfigException e = refusal("dsee", Map.of("rank", 2, "sparse", 73));
        assertThat(e.path()).isEqualTo("adapters[0].sparse");
        assertThat(e.getMessage()).contains("[6, 12]").contains("[0, 72]");
        assertThat(create("dsee", Map.of("rank", 2, "sparse", 72), Fakes.TINY)).isNotNull();
        assertThat(refusal("dsee", Map.of("rank", 2, "sparse", -1)).path()).isEqualTo("adapters[0].sparse");
    }

    @Test
    void otherBadValuesAreRefusedWithTheirRecipePaths() {
        assertThat(refusal("dsee", Map.of("rank", 2, "alpha", 0)).path()).isEqualTo("adapters[0].alpha");
        assertThat(refusal("dsee", Map.of("rank", 2, "alpha", -3)).path()).isEqualTo("adapters[0].alpha");
        assertThat(refusal("dsee", Map.of("rank", 2, "init-std", -1)).path()).isEqualTo("adapters[0].init-std");
        ConfigException support = refusal("dsee", Map.of("rank", 2, "support", "magnitud"));
        assertThat(support.path()).isEqualTo("adapters[0].support");
        assertThat(support.getMessage()).contains("did you mean \"magnitude\"?");
        ConfigException targets = refusal("dsee", Map.of("rank", 2, "targets", List.of("*.w_proj")));
        assertThat(targets.path()).isEqualTo("adapters[0].targets");
        assertThat(targets.getMessage()).contains("match no linear site");
        assertThat(refusal("dsee", Map.of("rank", 2, "support", "magnitude", "grebsmo", Map.of("iterations", 3))).path())
                .isEqualTo("adapters[0].grebsmo");
        assertThat(refusal("dsee", Map.of("rank", 2, "grebsmo", Map.of("threshold", -1))).path())
                .isEqualTo("adapters[0].grebsmo.threshold");
        assertThat(refusal("dsee", Map.of("rank", 2, "grebsmo", Map.of("threshold", 1, "lambda", 0.01))).path())
                .isEqualTo("adapters[0].grebsmo.lambda");
        assertThat(refusal("dsee", Map.of("rank", 2, "grebsmo", Map.of("lambda", -0.01))).path())
                .isEqualTo("adapters[0].grebsmo.lambda");
        assertThat(refusal("dsee", Map.of("rank", 2, "grebsmo", Map.of("itrations", 3))).path())
                .isEqualTo("adapters[0].grebsmo.itrations");
    }

    @Test
    void loraRefusesTheSparseKeys() {
        assertThat(refusal("lora", Map.of("rank", 2, "sparse", 4)).path()).isEqualTo("adapters[0].sparse");
        assertThat(refusal("lora", Map.of("rank", 2, "support", "random")).path()).isEqualTo("adapters[0].support");
    }

    @Test
    void withoutAModelTheShapeIsCheckedWhenAttaching() {
        Adapter adapter = create("dsee", Map.of("rank", 4, "sparse", 2), null);
        try (NDManager manager = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> adapter.attach("layers.0.attn.q_proj", manager.zeros(new Shape(3, 8)), manager, 1))
                    .isInstanceOf(ConfigException.class)
                    .satisfies(e -> assertThat(((ConfigException) e).path()).isEqualTo("adapters[0].rank"))
                    .hasMessageContaining("layers.0.attn.q_proj");
        }
    }
}
