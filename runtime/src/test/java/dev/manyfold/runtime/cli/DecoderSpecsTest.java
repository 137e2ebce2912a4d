package dev.manyfold.runtime.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DecoderSpecsTest {
    @Test
    void setValuesAreReadAsYamlSoTheyKeepTheirTypes() {
        Map<String, Object> s = DecoderSpecs.parse(List.of("draft=2", "adaptive=true", "thresholds={2: 0.9, 4: 0.8}", "name=x"), Map.of(),
                "--set ");
        assertThat(s).containsEntry("draft", 2).containsEntry("adaptive", true).containsEntry("name", "x");
        assertThat(s.get("thresholds")).isEqualTo(Map.of("2", 0.9, "4", 0.8));
    }

    @Test
    void dottedKeysNestAndOverrideTheBaseSection() {
        Map<String, Object> s = DecoderSpecs.parse(List.of("thresholds.2=0.5", "k=6"), Map.of("k", 4, "thresholds", Map.of("4", 0.8)),
                "--set ");
        assertThat(s).containsEntry("k", 6);
        assertThat(s.get("thresholds")).isEqualTo(Map.of("2", 0.5, "4", 0.8));
    }

    @Test
    void anEntryWithoutAValueIsRefusedNamingIt() {
        assertThatThrownBy(() -> DecoderSpecs.parse(List.of("draft"), Map.of(), "--set s2.")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--set s2.draft: expected KEY=VALUE");
    }
}
