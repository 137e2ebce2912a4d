package dev.manyfold.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SubModelTest {

    @Test
    void fullModelHasNoBudgets() {
        assertThat(SubModel.FULL.isFull()).isTrue();
        assertThat(SubModel.FULL.budgets()).isEmpty();
        assertThat(SubModel.FULL).hasToString("full");
        assertThat(SubModel.of(Map.of())).isSameAs(SubModel.FULL);
    }

    @Test
    void budgetsAreSortedByDimensionName() {
        Map<String, Integer> budgets = new LinkedHashMap<>();
        budgets.put("width", 64);
        budgets.put("depth", 2);

        SubModel m = SubModel.of(budgets);

        assertThat(m.budgets().keySet()).containsExactly("depth", "width");
        assertThat(m).hasToString("depth=2,width=64");
        assertThat(m.isFull()).isFalse();
    }

    @Test
    void unrestrictedDimensionRunsAtItsMaximum() {
        SubModel m = SubModel.of("depth", 2);

        assertThat(m.budget("depth")).hasValue(2);
        assertThat(m.budget("width")).isEmpty();
        assertThat(m.budgetOr("depth", 8)).isEqualTo(2);
        assertThat(m.budgetOr("width", 256)).isEqualTo(256);
    }

    @Test
    void withReturnsANewSubModelAndLeavesTheOriginalUnchanged() {
        SubModel a = SubModel.of("depth", 2);
        SubModel b = a.with("width", 32).with("depth", 4);

        assertThat(a).hasToString("depth=2");
        assertThat(b).hasToString("depth=4,width=32");
        assertThat(SubModel.FULL.with("heads", 4)).isEqualTo(SubModel.of("heads", 4));
    }

    @Test
    void budgetBelowOneIsRefusedNamingTheDimension() {
        assertThatThrownBy(() -> SubModel.of("heads", 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("budget of heads must be >= 1, got 0");
        assertThatThrownBy(() -> SubModel.FULL.with("depth", -1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("budget of depth");
    }

    @Test
    void nullDimensionOrBudgetIsRefused() {
        Map<String, Integer> nullBudget = new HashMap<>();
        nullBudget.put("depth", null);
        Map<String, Integer> nullName = new HashMap<>();
        nullName.put(null, 2);

        assertThatThrownBy(() -> SubModel.of(nullBudget)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("budget of depth is null");
        assertThatThrownBy(() -> SubModel.of(nullName)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> SubModel.of(null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void equalityDependsOnBudgetsOnlyNotOnInsertionOrder() {
        Map<String, Integer> ab = new LinkedHashMap<>();
        ab.put("depth", 2);
        ab.put("width", 8);
        Map<String, Integer> ba = new LinkedHashMap<>();
        ba.put("width", 8);
        ba.put("depth", 2);

        assertThat(SubModel.of(ab)).isEqualTo(SubModel.of(ba)).hasSameHashCodeAs(SubModel.of(ba));
        assertThat(SubModel.of(ab)).isNotEqualTo(SubModel.of("depth", 2));
    }

    @Test
    void subModelIsNotAffectedByLaterChangesToTheGivenMapAndIsImmutable() {
        Map<String, Integer> budgets = new HashMap<>(Map.of("depth", 2));
        SubModel m = SubModel.of(budgets);
        budgets.put("depth", 7);

        assertThat(m.budgetOr("depth", 8)).isEqualTo(2);
        assertThatThrownBy(() -> m.budgets().put("width", 1)).isInstanceOf(UnsupportedOperationException.class);
    }
}
