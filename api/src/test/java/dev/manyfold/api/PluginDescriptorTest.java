package dev.manyfold.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PluginDescriptorTest {
    private static final String SOURCE = "/opt/manyfold/plugins/lora";

    private static Properties valid() {
        Properties p = new Properties();
        p.setProperty("name", "lora");
        p.setProperty("version", "0.3.1");
        p.setProperty("api-version", "[1.0,2.0)");
        p.setProperty("description", "Low-rank adapters");
        return p;
    }

    @Test
    void validDescriptorIsParsed() {
        Properties p = valid();
        p.setProperty("name", " lora ");
        p.setProperty("version", "0.3.1 ");

        PluginDescriptor d = PluginDescriptor.parse(p, SOURCE);

        assertThat(d.name()).isEqualTo("lora");
        assertThat(d.version()).isEqualTo("0.3.1");
        assertThat(d.apiRange().contains("1.0.0")).isTrue();
        assertThat(d.apiRange().contains("2.0.0")).isFalse();
        assertThat(d.description()).isEqualTo("Low-rank adapters");
        assertThat(d).hasToString("lora 0.3.1");
    }

    @Test
    void descriptorBuiltInCodeIsParsedTheSameWay() {
        PluginDescriptor d = PluginDescriptor.of("sorted", "1.0.0", "[1.0,)", "x");

        assertThat(d.name()).isEqualTo("sorted");
        assertThat(d.apiRange()).hasToString("[1.0,)");
    }

    @ParameterizedTest
    @ValueSource(strings = {"version", "api-version", "description"})
    void missingKeyIsRefusedNamingThePluginAndTheKey(String key) {
        Properties p = valid();
        p.remove(key);

        ConfigException e = catchThrowableOfType(ConfigException.class, () -> PluginDescriptor.parse(p, SOURCE));

        assertThat(e.path()).isEqualTo("plugin [lora]");
        assertThat(e.getMessage()).contains("[" + key + "] is missing").contains(PluginDescriptor.RESOURCE)
                .contains("name, version, api-version, description");
    }

    @Test
    void blankValueCountsAsMissing() {
        Properties p = valid();
        p.setProperty("version", "  ");

        ConfigException e = catchThrowableOfType(ConfigException.class, () -> PluginDescriptor.parse(p, SOURCE));

        assertThat(e.getMessage()).contains("plugin [lora]").contains("[version] is missing");
    }

    @Test
    void missingNameIsRefusedNamingWhereTheDescriptorCameFrom() {
        Properties p = valid();
        p.remove("name");

        ConfigException e = catchThrowableOfType(ConfigException.class, () -> PluginDescriptor.parse(p, SOURCE));

        assertThat(e.path()).isEqualTo("plugin at " + SOURCE);
        assertThat(e.getMessage()).contains("[name] is missing");
    }

    @Test
    void unknownKeyIsRefusedNamingThePluginAndTheKey() {
        Properties p = valid();
        p.setProperty("author", "someone");
        p.setProperty("licence", "MIT");

        ConfigException e = catchThrowableOfType(ConfigException.class, () -> PluginDescriptor.parse(p, SOURCE));

        assertThat(e.path()).isEqualTo("plugin [lora]");
        assertThat(e.getMessage()).contains("unknown descriptor properties [author, licence]")
                .contains("only the keys [name, version, api-version, description]");
    }

    @ParameterizedTest
    @ValueSource(strings = {"LoRA", "my_plugin", "-lora", "lo ra", "lora!"})
    void badNameIsRefusedSayingWhatNamesAreAccepted(String name) {
        Properties p = valid();
        p.setProperty("name", name);

        ConfigException e = catchThrowableOfType(ConfigException.class, () -> PluginDescriptor.parse(p, SOURCE));

        assertThat(e.path()).isEqualTo("plugin [" + name.trim() + "]");
        assertThat(e.getMessage()).contains("invalid plugin name \"" + name.trim() + "\"")
                .contains("lower-case letters, digits and '-'");
    }

    @Test
    void badApiRangeIsRefusedNamingThePluginAndTheKey() {
        Properties p = valid();
        p.setProperty("api-version", "[1.0,2.0");

        ConfigException e = catchThrowableOfType(ConfigException.class, () -> PluginDescriptor.parse(p, SOURCE));

        assertThat(e.path()).isEqualTo("plugin [lora]");
        assertThat(e.getMessage()).contains("[api-version]").contains("malformed version range \"[1.0,2.0\"");
    }

    @Test
    void descriptorInCodeIsCheckedToo() {
        ConfigException e = catchThrowableOfType(ConfigException.class,
                () -> PluginDescriptor.of("Bad Name", "1", "[1.0,)", "x"));

        assertThat(e.getMessage()).contains("plugin [Bad Name]").contains("invalid plugin name");
    }
}
