package dev.manyfold.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class VersionRangeTest {

    @Test
    void halfOpenRangeIncludesLowerAndExcludesUpperBound() {
        VersionRange r = VersionRange.parse("[1.0,2.0)");

        assertThat(r.contains("1.0")).isTrue();
        assertThat(r.contains("1.0.0")).isTrue();
        assertThat(r.contains("1.5.3")).isTrue();
        assertThat(r.contains("1.99")).isTrue();
        assertThat(r.contains("2.0")).isFalse();
        assertThat(r.contains("2.0.0")).isFalse();
        assertThat(r.contains("0.9.9")).isFalse();
    }

    @Test
    void closedRangeIncludesBothBounds() {
        VersionRange r = VersionRange.parse("[1.0,2.0]");

        assertThat(r.contains("1.0")).isTrue();
        assertThat(r.contains("2.0.0")).isTrue();
        assertThat(r.contains("2.0.1")).isFalse();
    }

    @Test
    void openRangeExcludesBothBounds() {
        VersionRange r = VersionRange.parse("(1.0,2.0)");

        assertThat(r.contains("1.0.0")).isFalse();
        assertThat(r.contains("1.0.1")).isTrue();
        assertThat(r.contains("2.0")).isFalse();
    }

    @Test
    void missingUpperBoundIsUnbounded() {
        VersionRange r = VersionRange.parse("[1.0,)");

        assertThat(r.contains("1.0")).isTrue();
        assertThat(r.contains("999.0.0")).isTrue();
        assertThat(r.contains("0.9")).isFalse();
    }

    @Test
    void missingLowerBoundIsUnbounded() {
        VersionRange r = VersionRange.parse("(,2.0]");

        assertThat(r.contains("0.0.1")).isTrue();
        assertThat(r.contains("2.0")).isTrue();
        assertThat(r.contains("2.1")).isFalse();
    }

    @Test
    void bareVersionIsAMinimum() {
        VersionRange r = VersionRange.parse("1.2");

        assertThat(r.contains("1.2.0")).isTrue();
        assertThat(r.contains("7.0")).isTrue();
        assertThat(r.contains("1.1.9")).isFalse();
    }

    @Test
    void singleVersionInBracketsIsAnExactVersion() {
        VersionRange r = VersionRange.parse("[1.0]");

        assertThat(r.contains("1.0")).isTrue();
        assertThat(r.contains("1.0.0")).isTrue();
        assertThat(r.contains("1.0.1")).isFalse();
        assertThat(r.contains("0.9")).isFalse();
    }

    @Test
    void versionPartsCompareNumericallyNotAlphabetically() {
        VersionRange r = VersionRange.parse("[1.9,2.0)");

        assertThat(r.contains("1.10")).isTrue();
        assertThat(VersionRange.parse("[1.10,)").contains("1.9")).isFalse();
    }

    @Test
    void qualifierAfterDashIsIgnored() {
        VersionRange r = VersionRange.parse("[1.0,2.0)");

        assertThat(r.contains("1.0.0-SNAPSHOT")).isTrue();
        assertThat(r.contains("2.0.0-rc1")).isFalse();
    }

    @Test
    void whitespaceAroundBoundsIsTolerated() {
        VersionRange r = VersionRange.parse(" [ 1.0 , 2.0 ) ");

        assertThat(r.contains("1.0")).isTrue();
        assertThat(r.contains("2.0")).isFalse();
    }

    @Test
    void toStringIsTheRangeAsWritten() {
        assertThat(VersionRange.parse("[1.0,2.0)")).hasToString("[1.0,2.0)");
        assertThat(VersionRange.parse("1.0")).hasToString("1.0");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "abc", "[1.0,2.0", "[a,b)", "1.x", "[1.0;2.0)", "[]"})
    void malformedRangeIsRefusedSayingWhatIsAccepted(String text) {
        assertThatThrownBy(() -> VersionRange.parse(text))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("malformed version range \"" + text + "\"")
                .hasMessageContaining("accepted: [1.0,2.0)");
    }

    @Test
    void nullRangeIsRefused() {
        assertThatThrownBy(() -> VersionRange.parse(null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void currentApiVersionIsInsideTheRangePluginsDeclare() {
        assertThat(VersionRange.parse("[1.0,2.0)").contains(ApiVersion.provided())).isTrue();
        assertThat(VersionRange.parse("[2.0,3.0)").contains(ApiVersion.provided())).isFalse();
    }
}
