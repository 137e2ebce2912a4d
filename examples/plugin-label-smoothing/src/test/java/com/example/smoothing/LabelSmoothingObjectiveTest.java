package com.example.smoothing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.manyfold.api.objective.Objective;
import dev.manyfold.testkit.Contracts;
import dev.manyfold.testkit.Factories;
import dev.manyfold.testkit.TinyLanguageModel;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** How a third-party plugin tests itself with manyfold-testkit. */
class LabelSmoothingObjectiveTest {
    @Test
    void theObjectiveMeetsTheHostsContractAndDeclaresItsExits() {
        try (TinyLanguageModel tiny = new TinyLanguageModel(4, 1)) {
            Objective objective = Factories.create(new LabelSmoothingObjective.Factory(), "objective",
                    Map.of("epsilon", 0.2, "exits", List.of(2)), tiny.context());
            Contracts.objective(objective, tiny);
            assertThat(objective.trainedExits(tiny.shape())).containsExactly(2);
        }
    }

    @Test
    void badSettingsAreRefusedWithTheirRecipePath() {
        try (TinyLanguageModel tiny = new TinyLanguageModel(4, 1)) {
            assertThatThrownBy(() -> Factories.create(new LabelSmoothingObjective.Factory(), "objective", Map.of("epsilon", 1.5),
                    tiny.context())).hasMessageContaining("objective.epsilon");
            assertThatThrownBy(() -> Factories.create(new LabelSmoothingObjective.Factory(), "objective", Map.of("exits", List.of(4)),
                    tiny.context())).hasMessageContaining("objective.exits");
            assertThatThrownBy(() -> Factories.create(new LabelSmoothingObjective.Factory(), "objective", Map.of("epsilom", 0.1),
                    tiny.context())).hasMessageContaining("objective.epsilom: unknown key (did you mean \"epsilon\"?)");
        }
    }
}
