package dev.manyfold.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The API 1.1 getters: optional without default, enums, targets. */
class SettingsAdditionsTest {
    enum Placement { IN_ADAM, AFTER_STEP }

    @Test
    void optionalGettersWithoutDefaultListTheKeyAsAcceptedEvenWhenAbsent() {
        Settings s = Settings.of("decode", Map.of("typo", 1));
        assertThat(s.optionalString("exit")).isEmpty();
        assertThat(s.optionalInt("draft")).isEmpty();
        assertThat(s.optionalDouble("threshold")).isEmpty();
        assertThat(s.optionalIntList("exits")).isEmpty();

        assertThatThrownBy(s::rejectUnknown).isInstanceOf(ConfigException.class)
                .hasMessageContaining("decode.typo: unknown key")
                .hasMessageContaining("keys [draft, exit, exits, threshold]");
    }

    @Test
    void optionalGettersReturnPresentValuesAndRefuseWrongTypesWithThePath() {
        Settings s = Settings.of("decode", Map.of("exit", 3, "threshold", "0.9", "exits", List.of(2, 4), "draft", "two"));
        assertThat(s.optionalString("exit")).contains("3");
        assertThat(s.optionalDouble("threshold")).hasValue(0.9);
        assertThat(s.optionalIntList("exits")).contains(List.of(2, 4));
        assertThatThrownBy(() -> s.optionalInt("draft")).isInstanceOf(ConfigException.class)
                .hasMessageContaining("decode.draft: expected an integer, got string \"two\"");
    }

    @Test
    void getEnumReadsKebabCaseNamesCaseInsensitively() {
        Settings s = Settings.of("masks[0]", Map.of("placement", "After-Step"));
        assertThat(s.getEnum("placement", Placement.class, Placement.IN_ADAM)).isEqualTo(Placement.AFTER_STEP);
        assertThat(Settings.empty("m").getEnum("placement", Placement.class, Placement.IN_ADAM)).isEqualTo(Placement.IN_ADAM);
    }

    @Test
    void getEnumRefusesUnknownValuesWithTheClosestAndAllChoices() {
        Settings s = Settings.of("masks[0]", Map.of("placement", "in-adan"));
        assertThatThrownBy(() -> s.getEnum("placement", Placement.class, Placement.IN_ADAM))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("masks[0].placement: unknown value \"in-adan\" (did you mean \"in-adam\"?)")
                .hasMessageContaining("one of [in-adam, after-step]");
        assertThatThrownBy(() -> Settings.empty("m").getEnum("placement", Placement.class, null))
                .hasMessageContaining("m.placement: required key is missing");
    }

    @Test
    void getTargetsAcceptsOneGlobOrAListAndRefusesEmptyOnes() {
        assertThat(Settings.of("a", Map.of("targets", "*.q_proj")).getTargets("targets", List.of("x"))).containsExactly("*.q_proj");
        assertThat(Settings.empty("a").getTargets("targets", List.of("layers.**"))).containsExactly("layers.**");
        assertThatThrownBy(() -> Settings.of("a", Map.of("targets", List.of())).getTargets("targets", List.of("x")))
                .hasMessageContaining("a.targets: no target globs");
        assertThatThrownBy(() -> Settings.of("a", Map.of("targets", List.of("q_proj", " "))).getTargets("targets", List.of("x")))
                .hasMessageContaining("a.targets: an empty glob");
    }
}
