package dev.manyfold.runtime.recipe;

import static dev.manyfold.runtime.testing.TestPlugins.descriptor;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Context;
import dev.manyfold.api.Settings;
import dev.manyfold.runtime.host.HostContext;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.testing.TestPlugins;
import dev.manyfold.runtime.testing.TestPlugins.GreedyDecoderFactory;
import dev.manyfold.runtime.testing.TestPlugins.NamedObjectiveFactory;
import dev.manyfold.runtime.testing.TestPlugins.RankAdapterFactory;
import dev.manyfold.runtime.testing.TestPlugins.TestPlugin;
import dev.manyfold.runtime.train.TrainConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RecipeTest {
    @TempDir
    Path tmp;

    private Manyfold host;
    private Context context;

    @BeforeEach
    void startHost() {
        host = Manyfold.builder().classpathPlugins(false)
                .addPlugin(descriptor("dims"), new TestPlugin().dimensions("depth", "width", "heads"))
                .addPlugin(descriptor("lora"), new TestPlugin().adapter(new RankAdapterFactory()))
                .addPlugin(descriptor("objectives"), new TestPlugin().objective(new NamedObjectiveFactory("sandwich"))
                        .objective(new NamedObjectiveFactory("stochastic")).decoder(new GreedyDecoderFactory()))
                .build();
        context = new HostContext(42, Optional.empty(), tmp, m -> {});
    }

    @AfterEach
    void closeHost() {
        host.close();
    }

    private RecipeValidator.Components validate(String yaml) {
        return new RecipeValidator(host.extensions()).validate(Recipe.parse(yaml, "test.yaml"), context);
    }

    private ConfigException refusal(String yaml) {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> validate(yaml));
        assertThat(e).as("recipe should be refused:%n%s", yaml).isNotNull();
        return e;
    }

    // ---- valid recipes ------------------------------------------------------------------

    @Test
    void validRecipeYieldsAllItsComponents() {
        RecipeValidator.Components c = validate("""
                name: demo
                model: { family: mlp, hidden: 64 }
                data: { type: fashion-mnist }
                dimensions:
                  depth: { budgets: [1, 2, 4] }
                  width: { range: { from: 16, to: 64, step: 16 } }
                objective: { type: sandwich }
                adapters:
                  - { type: lora, rank: 4, targets: [q_proj, v_proj] }
                  - { type: lora, rank: 8 }
                decode: { type: greedy, temperature: 0.5 }
                train: { steps: 100, batch: 8, lr: 3e-4, optimizer: sgd, seed: 7 }
                """);

        assertThat(c.dimensions()).containsOnlyKeys("depth", "width");
        assertThat(c.dimensions().get("width").budgets(TestPlugins.shape(Map.of("width", 64)))).containsExactly(16, 32, 48, 64);
        assertThat(c.objective()).isPresent();
        assertThat(c.adapters()).hasSize(2);
        assertThat(c.adapters().get(0).targets()).containsExactly("q_proj", "v_proj");
        assertThat(c.masks()).isEmpty();
        assertThat(c.decoder()).isPresent();
        TrainConfig train = c.train().orElseThrow();
        assertThat(train.steps()).isEqualTo(100);
        assertThat(train.batch()).isEqualTo(8);
        assertThat(train.lr()).isEqualTo(3e-4);
        assertThat(train.optimizer()).isEqualTo("sgd");
        assertThat(train.seed()).isEqualTo(7L);
    }

    @Test
    void dimensionsKeepTheirRecipeOrder() {
        // Map.copyOf iteration order is randomised per JVM; two opposite orders cannot both survive it.
        assertThat(validate("dimensions: { heads: { budgets: [1] }, width: { budgets: [1] }, depth: { budgets: [1] } }")
                .dimensions().keySet()).containsExactly("heads", "width", "depth");
        assertThat(validate("dimensions: { depth: { budgets: [1] }, width: { budgets: [1] }, heads: { budgets: [1] } }")
                .dimensions().keySet()).containsExactly("depth", "width", "heads");
    }

    @Test
    void absentSectionsAreOptional() {
        RecipeValidator.Components c = validate("model: { family: mlp }\n");

        assertThat(c.dimensions()).isEmpty();
        assertThat(c.objective()).isEmpty();
        assertThat(c.decoder()).isEmpty();
        assertThat(c.train()).isEmpty();
    }

    @Test
    void trainDefaultsAreFilledIn() {
        TrainConfig t = validate("train: { steps: 40 }").train().orElseThrow();

        assertThat(t.batch()).isEqualTo(32);
        assertThat(t.accumulate()).isEqualTo(1);
        assertThat(t.lr()).isEqualTo(1e-3);
        assertThat(t.optimizer()).isEqualTo("adamw");
        assertThat(t.schedule()).isEqualTo("cosine");
        assertThat(t.seed()).isEqualTo(42L);
        assertThat(t.logEvery()).isEqualTo(2);
    }

    @Test
    void scientificNotationWithoutADotIsReadAsANumber() {
        assertThat(validate("train: { steps: 10, lr: 2e-3 }").train().orElseThrow().lr()).isEqualTo(2e-3);
    }

    @Test
    void dimensionBudgetsAreCheckedAgainstTheModelWhenOneIsKnown() {
        context = new HostContext(42, Optional.of(TestPlugins.shape(Map.of("depth", 4))), tmp, m -> {});

        assertThat(validate("dimensions: { depth: { budgets: [1, 4] } }").dimensions()).containsOnlyKeys("depth");
        ConfigException e = refusal("dimensions: { depth: { budgets: [2, 8] } }");
        assertThat(e.path()).isEqualTo("dimensions.depth");
        assertThat(e.getMessage()).contains("budget 8 does not fit the model");
    }

    // ---- structure and syntax -----------------------------------------------------------

    @Test
    void unknownTopLevelSectionIsRefusedWithTheClosestSection() {
        ConfigException e = refusal("""
                model: { family: mlp }
                dimension:
                  depth: { budgets: [1] }
                """);

        assertThat(e.path()).isEqualTo("dimension");
        assertThat(e.getMessage()).startsWith("dimension: unknown recipe section (did you mean \"dimensions\"?)")
                .contains("adapters").contains("train");
    }

    @Test
    void yamlSyntaxErrorIsReportedWithItsLineNumber() {
        ConfigException e = refusal("""
                model: { family: mlp }
                train:
                  steps: [1, 2
                  batch: 4
                """);

        assertThat(e.path()).isEqualTo("test.yaml");
        assertThat(e.getMessage()).contains("not valid YAML").containsPattern("at line [34], column \\d+");
    }

    @Test
    void emptyRecipeIsRefused() {
        assertThatThrownBy(() -> Recipe.parse("", "empty.yaml"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("empty.yaml: the recipe is empty");
        assertThatThrownBy(() -> Recipe.parse("# only a comment\n", "comment.yaml"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("comment.yaml: the recipe is empty");
        assertThatThrownBy(() -> Recipe.parse("- a\n- b\n", "list.yaml"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("list.yaml: the recipe is not a mapping");
    }

    @Test
    void sectionOfTheWrongKindIsRefusedNamingIt() {
        assertThat(refusal("dimensions: [depth, width]").getMessage())
                .startsWith("dimensions: expected a section (key: value pairs), got a list");
        assertThat(refusal("adapters: { type: lora, rank: 4 }").getMessage())
                .startsWith("adapters: expected a list of sections, got a section");
        assertThat(refusal("train: 100").getMessage()).startsWith("train: expected a section");
    }

    @Test
    void dimensionThatIsNotASectionIsRefusedNamingIt() {
        ConfigException e = refusal("dimensions: { depth: [1, 2] }");

        assertThat(e.path()).isEqualTo("dimensions.depth");
        assertThat(e.getMessage()).contains("expected a section");
    }

    // ---- plugin sections ----------------------------------------------------------------

    @Test
    void unknownDimensionIsRefusedListingKnownNamesAndTheClosest() {
        ConfigException e = refusal("dimensions: { dept: { budgets: [1] } }");

        assertThat(e.path()).isEqualTo("dimensions.dept");
        assertThat(e.getMessage()).contains("unknown dimension \"dept\"").contains("did you mean \"depth\"?")
                .contains("one of [depth, heads, width]");
    }

    @Test
    void unknownAdapterTypeIsRefusedListingKnownNamesAndTheClosest() {
        ConfigException e = refusal("""
                adapters:
                  - { type: lora, rank: 4 }
                  - { type: lroa, rank: 4 }
                """);

        assertThat(e.path()).isEqualTo("adapters[1].type");
        assertThat(e.getMessage()).contains("unknown adapter \"lroa\"").contains("did you mean \"lora\"?")
                .contains("one of [lora]");
    }

    @Test
    void unknownObjectiveTypeIsRefusedListingKnownNames() {
        ConfigException e = refusal("objective: { type: sandwhich }");

        assertThat(e.path()).isEqualTo("objective.type");
        assertThat(e.getMessage()).contains("did you mean \"sandwich\"?").contains("one of [sandwich, stochastic]");
    }

    @Test
    void maskTypeWithNoContributingPluginSaysNoneIsLoaded() {
        ConfigException e = refusal("masks: [ { type: wanda } ]");

        assertThat(e.path()).isEqualTo("masks[0].type");
        assertThat(e.getMessage()).contains("unknown mask strategy \"wanda\"").contains("manyfold plugins");
    }

    @Test
    void unknownKeyInAPluginSectionIsRefusedWithItsPathAndTheClosestKey() {
        ConfigException e = refusal("dimensions: { depth: { budget: [1, 2] } }");

        assertThat(e.path()).isEqualTo("dimensions.depth.budget");
        assertThat(e.getMessage()).contains("unknown key").contains("did you mean \"budgets\"?");
    }

    @Test
    void unknownKeyInANestedPluginSectionIsRefusedWithItsPath() {
        ConfigException e = refusal("dimensions: { width: { range: { from: 8, to: 64, stpe: 8 } } }");

        assertThat(e.path()).isEqualTo("dimensions.width.range.stpe");
        assertThat(e.getMessage()).contains("did you mean \"step\"?");
    }

    @Test
    void unknownKeyInAnAdapterIsRefusedWithItsIndex() {
        ConfigException e = refusal("adapters: [ { type: lora, rank: 4 }, { type: lora, rank: 4, alhpa: 8 } ]");

        assertThat(e.path()).isEqualTo("adapters[1].alhpa");
        assertThat(e.getMessage()).contains("did you mean \"alpha\"?");
    }

    @Test
    void valueAPluginRefusesIsReportedWithItsPath() {
        ConfigException e = refusal("adapters: [ { type: lora, rank: 0 } ]");

        assertThat(e.path()).isEqualTo("adapters[0].rank");
        assertThat(e.getMessage()).contains("must be >= 1, got 0");
    }

    @Test
    void missingTypeInAnAdapterIsRefusedWithItsPathAndTheKnownTypes() {
        ConfigException e = refusal("adapters: [ { rank: 4 } ]");

        assertThat(e.path()).isEqualTo("adapters[0].type");
        assertThat(e.getMessage()).contains("required key is missing").contains("one of [lora]");
    }

    @Test
    void emptyAdapterEntryIsRefusedWithItsIndex() {
        ConfigException e = refusal("""
                adapters:
                  -
                """);

        assertThat(e.path()).isEqualTo("adapters[0]");
        assertThat(e.getMessage()).contains("expected a section");
    }

    // ---- train section ------------------------------------------------------------------

    @Test
    void wrongValueTypeIsRefusedWithItsPath() {
        ConfigException e = refusal("train: { steps: many }");

        assertThat(e.path()).isEqualTo("train.steps");
        assertThat(e.getMessage()).isEqualTo("train.steps: expected an integer, got string \"many\" (accepted: an integer)");
    }

    @Test
    void missingRequiredKeyIsRefusedWithItsPath() {
        ConfigException e = refusal("train: { batch: 4 }");

        assertThat(e.path()).isEqualTo("train.steps");
        assertThat(e.getMessage()).contains("required key is missing");
    }

    @Test
    void unknownTrainKeyIsRefusedWithTheClosestKey() {
        ConfigException e = refusal("train: { steps: 10, warmpu: 2 }");

        assertThat(e.path()).isEqualTo("train.warmpu");
        assertThat(e.getMessage()).contains("did you mean \"warmup\"?").contains("steps");
    }

    @Test
    void outOfRangeTrainValuesAreRefusedWithTheirPaths() {
        assertThat(refusal("train: { steps: 0 }").path()).isEqualTo("train.steps");
        assertThat(refusal("train: { steps: 10, lr: -1 }").path()).isEqualTo("train.lr");
        assertThat(refusal("train: { steps: 10, warmup: 20 }").path()).isEqualTo("train.warmup");
        assertThat(refusal("train: { steps: 10, optimizer: adam }").getMessage())
                .contains("train.optimizer").contains("did you mean \"adamw\"?");
    }

    // ---- the Recipe object --------------------------------------------------------------

    @Test
    void missingRecipeFileIsRefusedNamingIt() {
        Path missing = tmp.resolve("missing.yaml");

        assertThatThrownBy(() -> Recipe.load(missing))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(missing + ": recipe file not found");
    }

    @Test
    void recipeNameComesFromTheRecipeOrElseTheFileName() throws IOException {
        Path file = Files.writeString(tmp.resolve("sorted-demo.yaml"), "train: { steps: 5 }\n");

        assertThat(Recipe.load(file).name()).isEqualTo("sorted-demo");
        assertThat(Recipe.load(file).source()).isEqualTo(file.toString());
        assertThat(Recipe.parse("name: explicit\n", "x.yaml").name()).isEqualTo("explicit");
    }

    @Test
    void sectionViewsAreFreshSoReadTrackingIsPerConsumer() {
        Recipe recipe = Recipe.parse("train: { steps: 5, batch: 2 }\n", "x.yaml");
        Settings first = recipe.section("train");
        first.getInt("steps");
        first.getInt("batch");
        first.rejectUnknown();

        Settings second = recipe.section("train");
        second.getInt("steps");
        assertThatThrownBy(second::rejectUnknown).hasMessageContaining("train.batch: unknown key");
        assertThat(recipe.optionalSection("decode")).isEmpty();
        assertThat(recipe.sections("adapters")).isEmpty();
    }

    @Test
    void recipeRoundTripsThroughYaml() {
        Recipe recipe = Recipe.parse("""
                name: rt
                dimensions: { depth: { budgets: [1, 2] } }
                adapters: [ { type: lora, rank: 4 } ]
                train: { steps: 5, lr: 0.01 }
                """, "x.yaml");

        Recipe again = Recipe.parse(recipe.toYaml(), "copy.yaml");

        assertThat(again.asMap()).isEqualTo(recipe.asMap());
        assertThatThrownBy(() -> recipe.asMap().put("x", 1)).isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void recipeValidatorNeedsExtensions() {
        assertThatThrownBy(() -> new RecipeValidator(null)).isInstanceOf(NullPointerException.class);
        assertThat(List.copyOf(Recipe.SECTIONS)).contains("dimensions", "objective", "adapters", "masks", "train");
    }
}
