package dev.manyfold.plugin.sorted;

import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.api.objective.Objective;
import dev.manyfold.api.objective.ObjectiveFactory;
import dev.manyfold.testkit.Contracts;
import dev.manyfold.testkit.Factories;
import dev.manyfold.testkit.TinyLanguageModel;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The sorted objectives meet the testkit's objective contract on a tiny real LLaMA and declare their depth budgets as trained exits. */
class ObjectiveContractTest {
    @ParameterizedTest
    @CsvSource({"stochastic", "summation", "all-exits"})
    void theObjectiveMeetsTheContractAndDeclaresItsDepthBudgetsAsTrainedExits(String type) {
        try (TinyLanguageModel tiny = new TinyLanguageModel(4, 3)) {
            ObjectiveFactory factory = new SortedPlugin().objectives().stream().filter(f -> f.name().equals(type)).findFirst().orElseThrow();
            Objective objective = Factories.create(factory, "objective",
                    Map.of("dimensions", Map.of("depth", Map.of("budgets", List.of(2, 4)))), tiny.context());
            Contracts.objective(objective, tiny);
            assertThat(objective.trainedExits(tiny.shape())).containsExactly(2, 4);
        }
    }
}
