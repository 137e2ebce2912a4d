package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.host.PluginRecord;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each broken plugin is refused with a message naming it, while a good plugin in the same
 * root still loads.
 */
class PluginRefusalTest {
    @TempDir
    Path tmp;

    private PluginJars jars;
    private Path root;

    @BeforeEach
    void setUp() {
        jars = new PluginJars(tmp.resolve("build"));
        root = tmp.resolve("plugins");
        jars.plugin("good").sources(PluginJars.dimensionPlugin("good", "GoodPlugin", "a good plugin", "good")).writeTo(root);
    }

    private PluginJars.Spec dimensionPlugin(String name, String... dimensions) {
        String pkg = name.replace("-", "");
        return jars.plugin(name).sources(PluginJars.dimensionPlugin(pkg, "ThePlugin", name, dimensions));
    }

    /** Loads the root; asserts the good plugin loaded; returns the record of {@code refused}. */
    private PluginRecord refusedAlongsideGood(String refused) {
        try (Manyfold host = Manyfold.builder().classpathPlugins(false).pluginDir(root).build()) {
            PluginRecord good = host.plugins().stream().filter(r -> r.name().equals("good")).findFirst().orElseThrow();
            assertThat(good.status()).isEqualTo("loaded");
            assertThat(host.extensions().dimensions()).containsKey("good");
            PluginRecord bad = host.plugins().stream().filter(r -> r.name().equals(refused)).findFirst()
                    .orElseThrow(() -> new AssertionError("no record for " + refused + " in " + host.plugins()));
            assertThat(bad.loaded()).as("plugin %s should be refused", refused).isFalse();
            assertThat(bad.contributions()).isEmpty();
            assertThat(bad.status()).isEqualTo("refused: " + bad.error());
            return bad;
        }
    }

    @Test
    void descriptorWithAMissingKeyIsRefusedNamingThePluginAndTheKey() {
        dimensionPlugin("missing-key", "mk").withoutDescriptor("version").writeTo(root);

        PluginRecord r = refusedAlongsideGood("missing-key");

        assertThat(r.error()).contains("plugin [missing-key]").contains("descriptor property [version] is missing");
        assertThat(r.version()).isEqualTo("?");
        assertThat(r.source()).isEqualTo(root.resolve("missing-key").toAbsolutePath().toString());
    }

    @Test
    void descriptorWithAnUnknownKeyIsRefusedNamingThePluginAndTheKey() {
        dimensionPlugin("unknown-key", "uk").descriptor("author", "someone").writeTo(root);

        PluginRecord r = refusedAlongsideGood("unknown-key");

        assertThat(r.error()).contains("plugin [unknown-key]").contains("unknown descriptor properties [author]");
    }

    @Test
    void descriptorWithAnInvalidNameIsRefused() {
        dimensionPlugin("bad-name", "bn").descriptor("name", "Bad_Name").writeTo(root);

        PluginRecord r = refusedAlongsideGood("bad-name");

        assertThat(r.error()).contains("plugin [Bad_Name]").contains("invalid plugin name \"Bad_Name\"");
    }

    @Test
    void pluginWithoutADescriptorIsRefused() {
        jars.plugin("no-descriptor").sources(PluginJars.dimensionPlugin("nodesc", "ThePlugin", "x", "nd"))
                .writeTo(root);
        // overwrite the jar with one lacking the descriptor
        Path classes = jars.compile(PluginJars.dimensionPlugin("nodesc", "ThePlugin", "x", "nd"), java.util.List.of());
        PluginJars.writeJar(classes, root.resolve("no-descriptor/no-descriptor.jar"),
                Map.of("META-INF/services/dev.manyfold.api.Plugin", "nodesc.ThePlugin\n"));

        PluginRecord r = refusedAlongsideGood("no-descriptor");

        assertThat(r.error()).contains("no META-INF/manyfold-plugin.properties");
    }

    @Test
    void apiRangeMismatchIsRefusedNamingThePluginAndBothVersions() {
        dimensionPlugin("future-api", "fa").descriptor("api-version", "[2.0,3.0)").writeTo(root);

        PluginRecord r = refusedAlongsideGood("future-api");

        assertThat(r.error()).isEqualTo("plugin [future-api] requires API version [2.0,3.0) but this host provides 1.1.0");
        assertThat(r.apiRange()).isEqualTo("[2.0,3.0)");
        assertThat(r.version()).isEqualTo("1.0.0");
    }

    @Test
    void malformedApiRangeIsRefusedNamingThePlugin() {
        dimensionPlugin("bad-range", "br").descriptor("api-version", "[1.0,").writeTo(root);

        PluginRecord r = refusedAlongsideGood("bad-range");

        assertThat(r.error()).contains("plugin [bad-range]").contains("[api-version]").contains("malformed version range");
    }

    @Test
    void duplicateFactoryNameAcrossPluginDirectoriesIsRefusedNamingBothPlugins() {
        dimensionPlugin("dup-a", "shared", "only-a").writeTo(root);
        dimensionPlugin("dup-b", "only-b", "shared").writeTo(root);

        PluginRecord r = refusedAlongsideGood("dup-b");

        assertThat(r.error()).contains("plugin [dup-b]").contains("plugin [dup-a]").contains("dimension \"shared\"");
        try (Manyfold host = Manyfold.builder().classpathPlugins(false).pluginDir(root).build()) {
            assertThat(host.extensions().dimensions()).containsOnlyKeys("good", "shared", "only-a");
            assertThat(host.extensions().dimensions().get("shared").getClass().getClassLoader().getName())
                    .isEqualTo("plugin-dup-a");
        }
    }

    @Test
    void throwingConstructorIsRefusedNamingThePluginAndTheCause() {
        jars.plugin("throws-on-start").source("boom.BoomPlugin", """
                package boom;

                public final class BoomPlugin implements dev.manyfold.api.Plugin {
                    public BoomPlugin() {
                        throw new IllegalStateException("CUDA driver not found");
                    }
                }
                """).writeTo(root);

        PluginRecord r = refusedAlongsideGood("throws-on-start");

        assertThat(r.error()).contains("plugin [throws-on-start] failed to start")
                .contains("IllegalStateException: CUDA driver not found");
    }

    @Test
    void pluginMissingAClassItNeedsIsRefusedNamingIt() {
        Path helper = jars.library("helper", Map.of("helper.Budgets", "package helper;\npublic final class Budgets {}\n"));
        jars.plugin("missing-dep").source("md.MissingDepPlugin", """
                package md;

                public final class MissingDepPlugin implements dev.manyfold.api.Plugin {
                    private final Object budgets = new helper.Budgets();
                }
                """).library(helper).writeTo(root);
        // ship the plugin without the library it was compiled against
        root.resolve("missing-dep").resolve("helper.jar").toFile().delete();

        PluginRecord r = refusedAlongsideGood("missing-dep");

        assertThat(r.error()).contains("plugin [missing-dep] failed to start").contains("helper.Budgets");
    }

    @Test
    void pluginListingTwoPluginClassesIsRefused() {
        jars.plugin("two-services")
                .sources(PluginJars.dimensionPlugin("twoa", "APlugin", "a", "ts-a"))
                .sources(PluginJars.dimensionPlugin("twob", "BPlugin", "b", "ts-b"))
                .service("twob.BPlugin")
                .writeTo(root);

        PluginRecord r = refusedAlongsideGood("two-services");

        assertThat(r.error()).contains("plugin [two-services] must list exactly one dev.manyfold.api.Plugin").contains("found 2");
    }

    @Test
    void secondPluginWithTheSameNameIsRefusedNamingWhereTheFirstCameFrom() {
        dimensionPlugin("twin", "twin-a").writeTo(root);
        dimensionPlugin("twin", "twin-b").writeTo(tmp.resolve("other-root"));

        try (Manyfold host = Manyfold.builder().classpathPlugins(false).pluginDir(root).pluginDir(tmp.resolve("other-root")).build()) {
            assertThat(host.plugins()).filteredOn(r -> r.name().equals("twin")).hasSize(2);
            PluginRecord second = host.plugins().get(host.plugins().size() - 1);
            assertThat(second.error()).contains("plugin [twin] is already loaded from " + root.resolve("twin").toAbsolutePath());
            assertThat(host.extensions().dimensions()).containsKeys("good", "twin-a").doesNotContainKey("twin-b");
        }
    }
}
