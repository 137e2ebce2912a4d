package dev.manyfold.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.math.BigInteger;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SettingsTest {

    private static Map<String, Object> map(Object... keyValues) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            m.put((String) keyValues[i], keyValues[i + 1]);
        }
        return m;
    }

    // ---- typed getters ------------------------------------------------------------------

    @Test
    void typedGettersReturnTheRecipeValues() {
        Settings s = Settings.of("adapters[0]", map("type", "lora", "rank", 8, "alpha", 16.5, "steps", 3_000_000_000L,
                "dropout", false, "targets", List.of("q_proj", "v_proj"), "budgets", List.of(2, 4, 8),
                "fractions", List.of(0.25, 1)));

        assertThat(s.getString("type")).isEqualTo("lora");
        assertThat(s.getInt("rank")).isEqualTo(8);
        assertThat(s.getDouble("alpha")).isEqualTo(16.5);
        assertThat(s.getLong("steps")).isEqualTo(3_000_000_000L);
        assertThat(s.getBoolean("dropout", true)).isFalse();
        assertThat(s.getStringList("targets", List.of())).containsExactly("q_proj", "v_proj");
        assertThat(s.getIntList("budgets", List.of())).containsExactly(2, 4, 8);
        assertThat(s.getDoubleList("fractions", List.of())).containsExactly(0.25, 1.0);
    }

    @Test
    void optionalGettersReturnDefaultsForAbsentKeys() {
        Settings s = Settings.empty("train");

        assertThat(s.getString("optimizer", "adamw")).isEqualTo("adamw");
        assertThat(s.getInt("batch", 32)).isEqualTo(32);
        assertThat(s.getLong("seed", 42)).isEqualTo(42);
        assertThat(s.getDouble("lr", 1e-3)).isEqualTo(1e-3);
        assertThat(s.getBoolean("shuffle", true)).isTrue();
        assertThat(s.getIntList("budgets", List.of(1))).containsExactly(1);
        assertThat(s.getRaw("anything")).isEmpty();
    }

    @Test
    void numbersAndBooleansAreAcceptedWhereAStringIsExpected() {
        Settings s = Settings.of("", map("name", 42, "flag", true));

        assertThat(s.getString("name")).isEqualTo("42");
        assertThat(s.getString("flag")).isEqualTo("true");
    }

    @Test
    void integralDoublesAndNumericStringsAreAcceptedAsIntegers() {
        Settings s = Settings.of("", map("a", 4.0, "b", "1_000", "c", " 7 "));

        assertThat(s.getInt("a")).isEqualTo(4);
        assertThat(s.getInt("b")).isEqualTo(1000);
        assertThat(s.getLong("c")).isEqualTo(7L);
    }

    @Test
    void scientificNotationStringIsAcceptedAsADouble() {
        // YAML 1.1 reads 3e-4 (no dot) as a string.
        Settings s = Settings.of("train", map("lr", "3e-4", "lrs", List.of("1e-3", 2e-3)));

        assertThat(s.getDouble("lr")).isEqualTo(3e-4);
        assertThat(s.getDoubleList("lrs", List.of())).containsExactly(1e-3, 2e-3);
    }

    @Test
    void listsAcceptASingleValueAsAOneElementList() {
        Settings s = Settings.of("", map("targets", "q_proj", "budgets", 4, "fractions", 0.5));

        assertThat(s.getStringList("targets", List.of())).containsExactly("q_proj");
        assertThat(s.getIntList("budgets", List.of())).containsExactly(4);
        assertThat(s.getDoubleList("fractions", List.of())).containsExactly(0.5);
    }

    @Test
    void returnedListsAreImmutable() {
        Settings s = Settings.of("", map("budgets", List.of(1, 2)));

        List<Integer> budgets = s.getIntList("budgets", List.of());
        assertThatThrownBy(() -> budgets.add(3)).isInstanceOf(UnsupportedOperationException.class);
    }

    // ---- wrong types --------------------------------------------------------------------

    @Test
    void wrongTypeErrorNamesTheFullPathAndWhatWasExpected() {
        Settings root = Settings.of("", map("adapters", List.of(map("type", "lora", "rank", "big"))));
        Settings adapter = root.sections("adapters").get(0);

        ConfigException e = catchThrowableOfType(ConfigException.class, () -> adapter.getInt("rank"));

        assertThat(e.path()).isEqualTo("adapters[0].rank");
        assertThat(e.getMessage())
                .startsWith("adapters[0].rank: ")
                .contains("expected an integer")
                .contains("string \"big\"");
        assertThat(e.accepted()).isEqualTo("an integer");
    }

    @Test
    void fractionalNumberIsRefusedWhereAnIntegerIsExpected() {
        Settings s = Settings.of("model", map("hidden", 2.5));

        assertThatThrownBy(() -> s.getInt("hidden"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("model.hidden")
                .hasMessageContaining("expected an integer, got number 2.5");
    }

    @Test
    void integerBeyondIntRangeIsRefusedForGetInt() {
        Settings s = Settings.of("train", map("steps", 3_000_000_000L));

        assertThatThrownBy(() -> s.getInt("steps"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("train.steps")
                .hasMessageContaining("expected an integer");
    }

    @Test
    void integerTooLargeForALongIsRefusedInsteadOfWrappingAround() {
        Settings s = Settings.of("train", map("seed", new BigInteger("99999999999999999999")));

        assertThatThrownBy(() -> s.getLong("seed"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("train.seed")
                .hasMessageContaining("expected an integer");
    }

    @Test
    void nonBooleanIsRefusedWhereABooleanIsExpected() {
        Settings s = Settings.of("masks[1]", map("straight-through", "yes"));

        ConfigException e = catchThrowableOfType(ConfigException.class, () -> s.getBoolean("straight-through", false));

        assertThat(e.path()).isEqualTo("masks[1].straight-through");
        assertThat(e.getMessage()).contains("expected true or false").contains("string \"yes\"");
    }

    @Test
    void sectionWhereAScalarIsExpectedIsRefused() {
        Settings s = Settings.of("decode", map("type", map("name", "greedy")));

        assertThatThrownBy(() -> s.getString("type"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("decode.type")
                .hasMessageContaining("expected a string, got a section");
    }

    @Test
    void listWithAWrongItemIsRefusedNamingTheList() {
        Settings s = Settings.of("dimensions.depth", map("budgets", List.of(1, "two", 3)));

        assertThatThrownBy(() -> s.getIntList("budgets", List.of()))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("dimensions.depth.budgets")
                .hasMessageContaining("expected a list of integers");
    }

    @Test
    void sectionInsteadOfAListIsRefused() {
        Settings s = Settings.of("", map("targets", map("a", 1)));

        assertThatThrownBy(() -> s.getStringList("targets", List.of()))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("targets: expected a list of strings, got a section");
    }

    @Test
    void scalarWhereANestedSectionIsExpectedIsRefused() {
        Settings s = Settings.of("dimensions.width", map("range", 8));

        assertThatThrownBy(() -> s.section("range"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("dimensions.width.range")
                .hasMessageContaining("expected a section");
    }

    @Test
    void listItemThatIsNotASectionIsRefusedWithItsIndex() {
        Settings root = Settings.of("", map("adapters", List.of(map("type", "lora"), "lora")));

        ConfigException e = catchThrowableOfType(ConfigException.class, () -> root.sections("adapters"));

        assertThat(e.path()).isEqualTo("adapters[1]");
        assertThat(e.getMessage()).contains("expected a section").contains("string \"lora\"");
    }

    @Test
    void emptyListItemIsReportedAsEmptyRatherThanAsANumber() {
        List<Object> items = new java.util.ArrayList<>();
        items.add(null);
        Settings root = Settings.of("", map("adapters", items));

        ConfigException e = catchThrowableOfType(ConfigException.class, () -> root.sections("adapters"));

        assertThat(e.path()).isEqualTo("adapters[0]");
        assertThat(e.getMessage()).doesNotContain("number").contains("nothing");
    }

    // ---- missing keys -------------------------------------------------------------------

    @Test
    void missingRequiredKeyNamesItsPath() {
        Settings train = Settings.of("train", map("batch", 4));

        ConfigException e = catchThrowableOfType(ConfigException.class, () -> train.getInt("steps"));

        assertThat(e.path()).isEqualTo("train.steps");
        assertThat(e.problem()).isEqualTo("required key is missing");
        assertThat(e.getMessage()).isEqualTo("train.steps: required key is missing (accepted: an integer)");
    }

    @Test
    void keyWithAnEmptyValueCountsAsMissing() {
        Settings train = Settings.of("train", map("steps", null));

        assertThatThrownBy(() -> train.getInt("steps"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("train.steps: required key is missing");
    }

    @Test
    void missingRequiredStringAtTheRootUsesTheBareKey() {
        Settings root = Settings.empty("");

        assertThatThrownBy(() -> root.getString("name"))
                .isInstanceOf(ConfigException.class)
                .hasMessage("name: required key is missing (accepted: a string)");
    }

    // ---- choices and ranges -------------------------------------------------------------

    @Test
    void unknownChoiceSuggestsTheClosestAllowedValue() {
        Settings s = Settings.of("train", map("optimizer", "adamm"));

        ConfigException e = catchThrowableOfType(ConfigException.class,
                () -> s.getChoice("optimizer", List.of("adamw", "sgd"), "adamw"));

        assertThat(e.path()).isEqualTo("train.optimizer");
        assertThat(e.getMessage()).contains("unknown value \"adamm\"").contains("did you mean \"adamw\"?")
                .contains("one of [adamw, sgd]");
    }

    @Test
    void choiceWithoutDefaultIsRequired() {
        assertThatThrownBy(() -> Settings.empty("decode").getChoice("mode", List.of("a", "b"), null))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("decode.mode: required key is missing");
    }

    @Test
    void integerOutsideItsBoundsIsRefusedWithTheAcceptedInterval() {
        Settings s = Settings.of("train", map("accumulate", 0));

        assertThatThrownBy(() -> s.getInt("accumulate", 1, 1, 1024))
                .isInstanceOf(ConfigException.class)
                .hasMessage("train.accumulate: value 0 is out of range (accepted: an integer in [1, 1024])");
    }

    @Test
    void checkAndInvalidNameTheKeyOrTheSectionItself() {
        Settings s = Settings.of("adapters[2]", map("rank", 0));

        assertThatThrownBy(() -> s.check(s.getInt("rank") > 0, "rank", "must be positive", "an integer >= 1"))
                .isInstanceOf(ConfigException.class)
                .hasMessage("adapters[2].rank: must be positive (accepted: an integer >= 1)");
        assertThat(s.invalid(null, "no targets", "").getMessage()).isEqualTo("adapters[2]: no targets");
        s.check(true, "rank", "never thrown", "");
    }

    // ---- unknown keys -------------------------------------------------------------------

    @Test
    void rejectUnknownNamesTheUnknownKeyAndSuggestsTheClosestAcceptedKey() {
        Settings depth = Settings.of("dimensions.depth", map("budget", List.of(1, 2)));
        depth.getIntList("budgets", List.of(1));
        depth.getDoubleList("weights", List.of());

        ConfigException e = catchThrowableOfType(ConfigException.class, depth::rejectUnknown);

        assertThat(e.path()).isEqualTo("dimensions.depth.budget");
        assertThat(e.getMessage()).contains("unknown key").contains("did you mean \"budgets\"?");
        assertThat(e.accepted()).isEqualTo("keys [budgets, weights]");
    }

    @Test
    void rejectUnknownWithoutACloseKeyMakesNoSuggestion() {
        Settings s = Settings.of("train", map("steps", 10, "learning-rate-schedule-kind", "x"));
        s.getInt("steps");

        ConfigException e = catchThrowableOfType(ConfigException.class, s::rejectUnknown);

        assertThat(e.path()).isEqualTo("train.learning-rate-schedule-kind");
        assertThat(e.getMessage()).doesNotContain("did you mean");
        assertThat(e.accepted()).isEqualTo("keys [steps]");
    }

    @Test
    void rejectUnknownInASectionNobodyReadSaysNoKeysAreAccepted() {
        Settings s = Settings.of("objective", map("tau", 2));

        assertThatThrownBy(s::rejectUnknown)
                .isInstanceOf(ConfigException.class)
                .hasMessage("objective.tau: unknown key (accepted: no keys in this section)");
    }

    @Test
    void rejectUnknownRecursesIntoNestedSections() {
        Settings width = Settings.of("dimensions.width", map("range", map("from", 8, "to", 64, "stpe", 8)));
        Settings range = width.section("range");
        range.getInt("from");
        range.getInt("to");
        range.getInt("step", 1);

        ConfigException e = catchThrowableOfType(ConfigException.class, width::rejectUnknown);

        assertThat(e.path()).isEqualTo("dimensions.width.range.stpe");
        assertThat(e.getMessage()).contains("did you mean \"step\"?");
    }

    @Test
    void rejectUnknownRecursesIntoListsOfSections() {
        Settings root = Settings.of("", map("adapters", List.of(map("type", "lora", "rnak", 4))));
        Settings adapter = root.sections("adapters").get(0);
        adapter.getString("type");
        adapter.getInt("rank", 8);

        assertThatThrownBy(root::rejectUnknown)
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("adapters[0].rnak: unknown key (did you mean \"rank\"?)");
    }

    @Test
    void rejectUnknownAcceptsASectionWhoseKeysWereAllRead() {
        Settings s = Settings.of("train", map("steps", 10, "lr", 0.1, "extra", "host-owned"));
        s.getInt("steps");
        s.getDouble("lr");
        s.markRead("extra");

        s.rejectUnknown();
        assertThat(s.keys()).containsExactly("steps", "lr", "extra");
    }

    @Test
    void hasDoesNotCountAsReadingAKey() {
        Settings s = Settings.of("dimensions.depth", map("weights", List.of(1)));
        assertThat(s.has("weights")).isTrue();

        assertThatThrownBy(s::rejectUnknown)
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("dimensions.depth.weights: unknown key");
    }

    @Test
    void readingAnAbsentKeyStillMakesItAnAcceptedKey() {
        Settings s = Settings.of("masks[0]", map("sparsity", 0.5, "evry", 10));
        s.getDouble("sparsity");
        s.getInt("every", 0);

        assertThatThrownBy(s::rejectUnknown)
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("masks[0].evry: unknown key (did you mean \"every\"?)")
                .hasMessageContaining("keys [every, sparsity]");
    }

    // ---- views and paths ----------------------------------------------------------------

    @Test
    void nestedSectionsCarryTheirRecipePaths() {
        Settings root = Settings.of("", map("dimensions", map("width", map("range", map("from", 1))),
                "adapters", List.of(map("type", "a"), map("type", "b"))));

        assertThat(root.section("dimensions").section("width").section("range").path()).isEqualTo("dimensions.width.range");
        assertThat(root.sections("adapters")).extracting(Settings::path).containsExactly("adapters[0]", "adapters[1]");
        assertThat(root.section("absent").path()).isEqualTo("absent");
        assertThat(root.section("absent").keys()).isEmpty();
        assertThat(root.optionalSection("absent")).isEmpty();
        assertThat(root.sections("masks")).isEmpty();
        assertThat(root.pathOf("train")).isEqualTo("train");
    }

    @Test
    void viewIsADeepImmutableCopyOfTheGivenData() {
        Map<String, Object> inner = new HashMap<>(map("from", 1));
        Map<String, Object> data = new HashMap<>(map("range", inner));
        Settings s = Settings.of("w", data);

        inner.put("from", 99);
        data.put("extra", 1);

        assertThat(s.section("range").getInt("from")).isEqualTo(1);
        assertThat(s.has("extra")).isFalse();
        assertThatThrownBy(() -> s.asMap().put("x", 1)).isInstanceOf(UnsupportedOperationException.class);
    }

    // ---- helpers ------------------------------------------------------------------------

    @Test
    void closestSuggestsOnlyNearbyCandidates() {
        assertThat(Settings.closest("dept", List.of("depth", "width"))).isEqualTo(" (did you mean \"depth\"?)");
        assertThat(Settings.closest("WIDHT", List.of("depth", "width"))).isEqualTo(" (did you mean \"width\"?)");
        assertThat(Settings.closest("objective", List.of("depth", "width"))).isEmpty();
        assertThat(Settings.closest("x", List.of())).isEmpty();
    }

    @Test
    void editDistanceIsLevenshtein() {
        assertThat(Settings.editDistance("kitten", "sitting")).isEqualTo(3);
        assertThat(Settings.editDistance("", "abc")).isEqualTo(3);
        assertThat(Settings.editDistance("same", "same")).isZero();
    }

    @Test
    void configExceptionMessageHasWhereWhatAndAccepted() {
        ConfigException withAccepted = new ConfigException("train.lr", "is negative", "a positive number");
        ConfigException withoutAccepted = new ConfigException("", "the recipe is empty", null);

        assertThat(withAccepted).hasMessage("train.lr: is negative (accepted: a positive number)");
        assertThat(withoutAccepted).hasMessage("<recipe>: the recipe is empty");
        assertThat(withoutAccepted.accepted()).isEmpty();
    }
}
