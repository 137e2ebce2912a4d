package dev.manyfold.plugin.sorted;

import static dev.manyfold.plugin.sorted.Fakes.LLAMA;
import static dev.manyfold.plugin.sorted.Fakes.MLP;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatNoException;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import ai.djl.ndarray.NDManager;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.ModelShape;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Bad objective sections: every refusal is a ConfigException naming the recipe path. */
class ObjectiveConfigTest {
    private static ConfigException refused(String type, Map<String, ?> section, ModelShape model) {
        ConfigException e = catchThrowableOfType(ConfigException.class,
                () -> ObjectivesTest.create(type, section, Fakes.context(model)));
        assertThat(e).as("%s %s should be refused", type, section).isNotNull();
        return e;
    }

    private static Map<String, ?> dims(String name, Map<String, ?> dimension) {
        return Map.of("dimensions", Map.of(name, dimension));
    }

    @ParameterizedTest
    @ValueSource(strings = {"stochastic", "summation", "all-exits"})
    void withoutTopLevelDimensionsTheObjectiveMustNameItsOwn(String type) {
        ConfigException e = refused(type, Map.of(), MLP);
        assertThat(e.path()).isEqualTo("objective.dimensions");
        assertThat(e.problem()).contains("no dimensions to train").contains("top-level");
        assertThat(refused(type, Map.of("dimensions", Map.of()), MLP).path()).isEqualTo("objective.dimensions");
    }

    @Test
    void aYamlAliasLeftAsAStringIsExplained() {
        ConfigException e = refused("stochastic", Map.of("dimensions", "dims"), MLP);
        assertThat(e.path()).isEqualTo("objective.dimensions");
        assertThat(e.problem()).contains("alias");
    }

    @Test
    void anEmptyBudgetListIsRefused() {
        ConfigException e = refused("stochastic", dims("depth", Map.of("budgets", List.of())), MLP);
        assertThat(e.path()).isEqualTo("objective.dimensions.depth.budgets");
        assertThat(refused("stochastic", dims("depth", Map.of("fixed", List.of())), MLP).path())
                .isEqualTo("objective.dimensions.depth.fixed");
        assertThat(refused("stochastic", dims("depth", Map.of()), MLP).path()).isEqualTo("objective.dimensions.depth");
    }

    @Test
    void aBudgetOutsideTheModelIsRefusedAtCreationWhenTheModelIsKnown() {
        ConfigException e = refused("stochastic", dims("depth", Map.of("budgets", List.of(2, 5))), MLP);
        assertThat(e.path()).isEqualTo("objective.dimensions.depth");
        assertThat(e.problem()).contains("5").contains("does not fit");
        assertThat(refused("all-exits", dims("depth", Map.of("range", Map.of("from", 4, "to", 12, "step", 4))), LLAMA).path())
                .isEqualTo("objective.dimensions.depth");
    }

    @Test
    void aBudgetOutsideTheModelIsRefusedOnTheFirstLossWhenTheModelWasUnknown() {
        SortedObjective objective = ObjectivesTest.create("summation", dims("width", Map.of("budgets", List.of(64, 512))),
                Fakes.context(null));
        try (NDManager manager = NDManager.newBaseManager()) {
            ConfigException e = catchThrowableOfType(ConfigException.class,
                    () -> objective.loss(new Fakes.FakeModel(MLP), Fakes.batch(manager), 1, new Random(0)));
            assertThat(e).isNotNull();
            assertThat(e.path()).isEqualTo("objective.dimensions.width");
        }
    }

    @Test
    void aWeightCountMismatchIsRefused() {
        ConfigException e = refused("stochastic",
                dims("depth", Map.of("budgets", List.of(1, 2, 4), "weights", List.of(1, 1))), MLP);
        assertThat(e.path()).isEqualTo("objective.dimensions.depth.weights");
        assertThat(e.problem()).contains("2 weights for 3 budgets");
        assertThat(refused("stochastic", dims("depth", Map.of("budgets", List.of(1, 2), "weights", List.of(-1, 1))), MLP)
                .path()).isEqualTo("objective.dimensions.depth.weights");
    }

    @Test
    void aDimensionTheFamilyLacksIsRefused() {
        ConfigException e = refused("stochastic", dims("ffn", Map.of("budgets", List.of(128))), MLP);
        assertThat(e.path()).isEqualTo("objective.dimensions.ffn");
        assertThat(e.problem()).contains("mlp").contains("ffn");
        assertThat(e.accepted()).contains("depth").contains("width");
    }

    @Test
    void anUnknownDimensionNameIsRefusedWithASuggestion() {
        ConfigException e = refused("stochastic", dims("widht", Map.of("budgets", List.of(64))), null);
        assertThat(e.path()).isEqualTo("objective.dimensions.widht");
        assertThat(e.problem()).contains("did you mean \"width\"");
    }

    @Test
    void allExitsRefusesEveryDimensionButDepth() {
        Map<String, Object> both = new LinkedHashMap<>();
        both.put("depth", Map.of("budgets", List.of(2, 4, 8)));
        both.put("heads", Map.of("budgets", List.of(4, 8)));
        ConfigException e = refused("all-exits", Map.of("dimensions", both), LLAMA);
        assertThat(e.path()).isEqualTo("objective.dimensions.heads");
        assertThat(e.problem()).contains("only along depth");
        assertThat(refused("all-exits", dims("width", Map.of("budgets", List.of(64))), null).path())
                .isEqualTo("objective.dimensions.width");
    }

    @Test
    void objectivesThatDrawNothingRefuseDistributions() {
        assertThat(refused("all-exits", dims("depth", Map.of("budgets", List.of(2, 4), "weights", List.of(1, 2))), LLAMA)
                .path()).isEqualTo("objective.dimensions.depth.weights");
        assertThat(refused("all-exits", dims("depth", Map.of("fixed", List.of(2, 4))), LLAMA).path())
                .isEqualTo("objective.dimensions.depth.fixed");
        assertThat(refused("summation", Map.of("sub-models", "all",
                "dimensions", Map.of("depth", Map.of("budgets", List.of(1, 2), "weights", List.of(1, 2)))), MLP).path())
                .isEqualTo("objective.dimensions.depth.weights");
    }

    @Test
    void fixedListsMustStayWithinTheBudgets() {
        assertThat(refused("stochastic", dims("depth", Map.of("budgets", List.of(1, 2), "fixed", List.of(1, 3))), null).path())
                .isEqualTo("objective.dimensions.depth.fixed");
        // Fractions resolve against the model, so the check happens when the model is known.
        assertThat(refused("stochastic", dims("width", Map.of("fractions", List.of(0.5, 1.0), "fixed", List.of(100))), MLP)
                .path()).isEqualTo("objective.dimensions.width.fixed");
        assertThat(refused("stochastic", dims("depth", Map.of("budgets", List.of(1, 2), "weights", List.of(1, 1),
                "fixed", List.of(1))), null).path()).isEqualTo("objective.dimensions.depth.fixed");
    }

    @Test
    void aLargeLatticeWithoutACapIsRefusedForSummation() {
        Map<String, Object> big = new LinkedHashMap<>();
        big.put("depth", Map.of("range", Map.of("from", 1, "to", 8)));
        big.put("ffn", Map.of("range", Map.of("from", 1, "to", 512)));
        ConfigException e = refused("summation", Map.of("dimensions", big), LLAMA);
        assertThat(e.path()).isEqualTo("objective.max-sub-models");
        assertThatNoException().isThrownBy(() -> ObjectivesTest.create("summation",
                Map.of("dimensions", big, "max-sub-models", 16), Fakes.context(LLAMA)));
    }

    @Test
    void unknownAndOutOfRangeOptionsAreRefused() {
        Map<String, ?> ok = dims("depth", Map.of("budgets", List.of(1, 2)));
        Map<String, Object> typo = new LinkedHashMap<>(ok);
        typo.put("sandwhich", true);
        ConfigException e = refused("stochastic", typo, MLP);
        assertThat(e.path()).isEqualTo("objective.sandwhich");
        assertThat(e.problem()).contains("did you mean \"sandwich\"");

        Map<String, Object> sandwichOnSummation = new LinkedHashMap<>(ok);
        sandwichOnSummation.put("sandwich", true);
        assertThat(refused("summation", sandwichOnSummation, MLP).path()).isEqualTo("objective.sandwich");

        Map<String, Object> extraKey = Map.of("dimensions", Map.of("depth", Map.of("budgets", List.of(1), "weigths", List.of(1))));
        assertThat(refused("stochastic", extraKey, MLP).path()).isEqualTo("objective.dimensions.depth.weigths");

        Map<String, Object> zeroSamples = new LinkedHashMap<>(ok);
        zeroSamples.put("samples", 0);
        assertThat(refused("stochastic", zeroSamples, MLP).path()).isEqualTo("objective.samples");

        Map<String, Object> badReduce = new LinkedHashMap<>(ok);
        badReduce.put("reduce", "max");
        assertThat(refused("summation", badReduce, MLP).path()).isEqualTo("objective.reduce");
    }

    @Test
    void allExitsDistillationAndExitWeightsAreChecked() {
        Map<String, ?> depth = Map.of("depth", Map.of("budgets", List.of(2, 4, 8)));
        java.util.function.Function<Map<String, ?>, Map<String, Object>> with = extra -> {
            Map<String, Object> m = new LinkedHashMap<>(extra);
            m.put("dimensions", depth);
            return m;
        };
        assertThat(refused("all-exits", with.apply(Map.of("distill", 1.5)), LLAMA).path()).isEqualTo("objective.distill");
        assertThat(refused("all-exits", with.apply(Map.of("distill", -0.1)), LLAMA).path()).isEqualTo("objective.distill");
        ConfigException lone = refused("all-exits", with.apply(Map.of("distill-temperature", 2)), LLAMA);
        assertThat(lone.path()).isEqualTo("objective.distill-temperature");
        assertThat(lone.problem()).contains("without distillation");
        assertThat(refused("all-exits", with.apply(Map.of("distill", 0.5, "distill-temperature", 0)), LLAMA).path())
                .isEqualTo("objective.distill-temperature");
        ConfigException untrained = refused("all-exits", with.apply(Map.of("exit-weights", Map.of(3, 2.0))), LLAMA);
        assertThat(untrained.path()).isEqualTo("objective.exit-weights.3");
        assertThat(untrained.problem()).contains("[2, 4, 8]");
        assertThat(refused("all-exits", with.apply(Map.of("exit-weights", Map.of("two", 2.0))), LLAMA).path())
                .isEqualTo("objective.exit-weights.two");
        assertThat(refused("all-exits", with.apply(Map.of("exit-weights", Map.of(2, 0))), LLAMA).path())
                .isEqualTo("objective.exit-weights.2");
        assertThat(refused("all-exits", with.apply(Map.of("exit-weights", List.of(2.0))), LLAMA).path())
                .isEqualTo("objective.exit-weights");
        assertThat(refused("stochastic", with.apply(Map.of("distill", 0.5)), LLAMA).path()).isEqualTo("objective.distill");
        assertThatNoException().isThrownBy(() -> ObjectivesTest.create("all-exits",
                with.apply(Map.of("distill", 1, "distill-temperature", 2, "exit-weights", Map.of(2, 2.0, 8, 0.5))),
                Fakes.context(LLAMA)));
    }

    @Test
    void validSectionsWithoutAModelAreAccepted() {
        assertThatNoException().isThrownBy(() -> ObjectivesTest.create("stochastic", Map.of("sandwich", true, "samples", 2,
                "dimensions", Map.of("width", Map.of("fractions", List.of(0.25, 1.0), "weights", List.of(1, 3)),
                        "depth", Map.of("fixed", List.of(4, 1)))), Fakes.context(null)));
        assertThatNoException().isThrownBy(() -> ObjectivesTest.create("all-exits",
                dims("depth", Map.of("budgets", List.of(12, 16, 20, 24, 28, 32, 36, 40))), Fakes.context(null)));
    }
}
