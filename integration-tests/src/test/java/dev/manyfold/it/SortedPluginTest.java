package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Context;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.dimension.Dimension;
import dev.manyfold.runtime.host.ExtensionKind;
import dev.manyfold.runtime.host.HostContext;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.host.PluginRecord;
import dev.manyfold.runtime.recipe.Recipe;
import dev.manyfold.runtime.recipe.RecipeValidator;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real sorted plugin, loaded in-process from the bundle's plugins/ directory. */
class SortedPluginTest {
    @TempDir
    Path tmp;

    private Manyfold host;

    @BeforeEach
    void loadBundlePlugins() {
        host = Manyfold.builder().classpathPlugins(false).pluginDir(Bundle.plugins()).build();
    }

    @AfterEach
    void close() {
        host.close();
    }

    private static ModelShape shape(Map<String, Integer> dimensions, Map<String, Integer> sizes) {
        return new ModelShape() {
            @Override
            public String family() {
                return "test-family";
            }

            @Override
            public Map<String, Integer> dimensions() {
                return dimensions;
            }

            @Override
            public OptionalInt size(String name) {
                Integer s = sizes.get(name);
                return s == null ? OptionalInt.empty() : OptionalInt.of(s);
            }

            @Override
            public List<String> sites() {
                return List.of();
            }

            @Override
            public int[] siteShape(String site) {
                throw new IllegalArgumentException(site);
            }
        };
    }

    private Map<String, Dimension> validate(String yaml, ModelShape model) {
        Context context = new HostContext(42, Optional.ofNullable(model), tmp, m -> {});
        return new RecipeValidator(host.extensions()).validate(Recipe.parse(yaml, "sorted.yaml"), context).dimensions();
    }

    @Test
    void sortedPluginLoadsIsolatedWithItsFiveDimensions() {
        PluginRecord sorted = host.plugins().stream().filter(r -> r.name().equals("sorted")).findFirst().orElseThrow();

        assertThat(sorted.status()).isEqualTo("loaded");
        assertThat(sorted.version()).isEqualTo(Bundle.pluginDescriptor("sorted").getProperty("version"));
        assertThat(sorted.contributions().get(ExtensionKind.DIMENSION)).containsExactly("depth", "width", "ffn", "heads", "embedding");
        assertThat(host.extensions().dimensions().get("depth").getClass().getClassLoader().getName()).isEqualTo("plugin-sorted");
        assertThat(host.extensions().dimensions().get("heads").description()).contains("grouped KV");
    }

    @Test
    void budgetsComeFromAListARangeOrFractionsOfTheModel() {
        ModelShape model = shape(Map.of("depth", 8, "width", 256, "ffn", 1024), Map.of());

        Map<String, Dimension> dims = validate("""
                dimensions:
                  depth: { budgets: [8, 2, 4] }
                  width: { range: { from: 32, to: 256, step: 32 } }
                  ffn: { fractions: [0.25, 0.5, 1.0], weights: [1, 1, 2] }
                """, model);

        assertThat(dims.get("depth").budgets(model)).containsExactly(2, 4, 8);
        assertThat(dims.get("width").budgets(model)).containsExactly(32, 64, 96, 128, 160, 192, 224, 256);
        assertThat(dims.get("ffn").budgets(model)).containsExactly(256, 512, 1024);
        assertThat(dims.get("ffn").weights(model)).containsExactly(0.25, 0.25, 0.5);
        assertThat(dims.get("depth").weights(model)).containsExactly(1.0 / 3, 1.0 / 3, 1.0 / 3);
    }

    @Test
    void budgetThatDoesNotFitTheModelIsRefusedWithTheDimensionPath() {
        ModelShape model = shape(Map.of("depth", 4), Map.of());

        ConfigException e = catchThrowableOfType(ConfigException.class,
                () -> validate("dimensions: { depth: { budgets: [2, 6] } }", model));

        assertThat(e.path()).isEqualTo("dimensions.depth");
        assertThat(e.getMessage()).contains("budget 6 does not fit the model (depth has 4)").contains("budgets in [1, 4]");
    }

    @Test
    void dimensionTheModelFamilyLacksIsRefused() {
        ModelShape model = shape(Map.of("depth", 4), Map.of());

        ConfigException e = catchThrowableOfType(ConfigException.class,
                () -> validate("dimensions: { heads: { budgets: [2] } }", model));

        assertThat(e.path()).isEqualTo("dimensions.heads");
        assertThat(e.getMessage()).contains("model family \"test-family\" does not support dimension \"heads\"");
    }

    @Test
    void headBudgetsMustKeepGroupedKvHeadsWhole() {
        ModelShape model = shape(Map.of("heads", 8), Map.of("kv-heads", 2));

        assertThat(validate("dimensions: { heads: { budgets: [4, 8] } }", model).get("heads").budgets(model)).containsExactly(4, 8);
        ConfigException e = catchThrowableOfType(ConfigException.class,
                () -> validate("dimensions: { heads: { budgets: [2, 8] } }", model));
        assertThat(e.path()).isEqualTo("dimensions.heads");
        assertThat(e.getMessage()).contains("grouped-KV").contains("multiples of 4");
    }

    @Test
    void budgetFormsAreExclusiveAndRequired() {
        ConfigException none = catchThrowableOfType(ConfigException.class, () -> validate("dimensions: { depth: {} }", null));
        ConfigException two = catchThrowableOfType(ConfigException.class,
                () -> validate("dimensions: { depth: { budgets: [1], range: { from: 1, to: 2 } } }", null));

        assertThat(none.path()).isEqualTo("dimensions.depth");
        assertThat(none.getMessage()).contains("no budgets given").contains("exactly one of budgets");
        assertThat(two.getMessage()).contains("more than one budget form given");
    }

    @Test
    void weightCountMustMatchTheBudgets() {
        ModelShape model = shape(Map.of("depth", 4), Map.of());

        ConfigException e = catchThrowableOfType(ConfigException.class,
                () -> validate("dimensions: { depth: { budgets: [1, 2, 4], weights: [1, 1] } }", model));

        assertThat(e.path()).isEqualTo("dimensions.depth.weights");
        assertThat(e.getMessage()).contains("2 weights for 3 budgets");
    }
}
