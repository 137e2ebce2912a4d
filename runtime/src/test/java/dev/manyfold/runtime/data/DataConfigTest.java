package dev.manyfold.runtime.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Settings;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;

class DataConfigTest {

    private static Settings data(Map<String, ?> values) {
        return Settings.of("data", values);
    }

    private static AbstractThrowableAssert<?, ?> rejected(Map<String, ?> values, String path) {
        return assertThatThrownBy(() -> {
            Settings s = data(values);
            DataConfig.from(s);
            s.rejectUnknown();
        }).isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.path()).isEqualTo(path))
                .hasMessageStartingWith(path + ": ");
    }

    @Test
    void textDefaultsToFortunesBytesContext128AndTenPercentValidation() {
        DataConfig config = DataConfig.from(data(Map.of("type", "text")));

        assertThat(config.isText()).isTrue();
        assertThat(config.path()).isEqualTo(Path.of("/usr/share/games/fortunes"));
        assertThat(config.validation()).isEqualTo(0.1);
        assertThat(config.context()).isEqualTo(128);
        assertThat(config.tokenizer()).isEqualTo("byte");
        assertThat(config.files()).isEmpty();
        assertThat(config.limit()).isEmpty();
    }

    @Test
    void textReadsEveryKey() {
        Settings s = data(Map.of("type", "text", "path", "/tmp/corpus", "validation", 0.2, "context", 64,
                "tokenizer", "/models/tokenizer.json", "files", List.of("computers", "!linux*"), "limit", 500));

        DataConfig config = DataConfig.from(s);
        s.rejectUnknown();

        assertThat(config.path()).isEqualTo(Path.of("/tmp/corpus"));
        assertThat(config.validation()).isEqualTo(0.2);
        assertThat(config.context()).isEqualTo(64);
        assertThat(config.tokenizer()).isEqualTo("/models/tokenizer.json");
        assertThat(config.files()).containsExactly("computers", "!linux*");
        assertThat(config.limit()).hasValue(500);
    }

    @Test
    void fashionMnistDefaultsToItsDirectoryAndTheTestPartForValidation() {
        DataConfig config = DataConfig.from(data(Map.of("type", "fashion-mnist", "limit", 1000)));

        assertThat(config.isText()).isFalse();
        assertThat(config.path()).isEqualTo(Path.of("/usr/share/datasets/fashion-mnist"));
        assertThat(config.validation()).isZero();
        assertThat(config.limit()).hasValue(1000);
    }

    @Test
    void contextBelowTwoIsRejectedAtDataContext() {
        rejected(Map.of("type", "text", "context", 1), "data.context").hasMessageContaining("[2, ");
    }

    @Test
    void contextThatIsNotANumberIsRejectedAtDataContext() {
        rejected(Map.of("type", "text", "context", "long"), "data.context").hasMessageContaining("expected an integer");
    }

    @Test
    void validationOutsideTheOpenUnitIntervalIsRejectedAtDataValidation() {
        for (double bad : new double[] {0, 1, 1.5, -0.1}) {
            rejected(Map.of("type", "text", "validation", bad), "data.validation").hasMessageContaining("(0, 1)");
            rejected(Map.of("type", "fashion-mnist", "validation", bad), "data.validation");
        }
    }

    @Test
    void unknownTypeIsRejectedListingTheKnownTypes() {
        rejected(Map.of("type", "txt"), "data.type")
                .hasMessageContaining("unknown value \"txt\"")
                .hasMessageContaining("did you mean \"text\"")
                .hasMessageContaining("[fashion-mnist, text, instructions]");
    }

    @Test
    void missingTypeIsRejected() {
        rejected(Map.of("path", "/x"), "data.type").hasMessageContaining("required key is missing");
    }

    @Test
    void limitBelowOneIsRejectedAtDataLimit() {
        rejected(Map.of("type", "fashion-mnist", "limit", 0), "data.limit");
    }

    @Test
    void blankTokenizerAndBadGlobsAreRejectedAtTheirPaths() {
        rejected(Map.of("type", "text", "tokenizer", " "), "data.tokenizer").hasMessageContaining("`byte`");
        rejected(Map.of("type", "text", "files", List.of("ok*", "[unclosed")), "data.files[1]")
                .hasMessageContaining("not a valid glob");
        rejected(Map.of("type", "text", "files", List.of("!")), "data.files[0]").hasMessageContaining("is empty");
    }

    @Test
    void textKeysAreUnknownForFashionMnist() {
        rejected(Map.of("type", "fashion-mnist", "context", 128), "data.context")
                .hasMessageContaining("unknown key")
                .hasMessageContaining("limit, path, type, validation");
    }

    @Test
    void misspelledKeyIsRejectedWithTheClosestMatch() {
        rejected(Map.of("type", "text", "contxt", 64), "data.contxt").hasMessageContaining("did you mean \"context\"");
    }
}
