package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import dev.manyfold.api.Plugin;
import dev.manyfold.api.Settings;
import dev.manyfold.api.dimension.Dimension;
import dev.manyfold.api.dimension.DimensionFactory;
import dev.manyfold.runtime.host.ExtensionKind;
import dev.manyfold.runtime.host.HostContext;
import dev.manyfold.runtime.host.Manyfold;
import dev.manyfold.runtime.host.PluginRecord;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;

/** Plugins from a plugin directory see the API, DJL and SLF4J from the host, and nothing else of it. */
class PluginIsolationTest {
    private static final List<String> PROBED = List.of(
            "dev.manyfold.runtime.host.Manyfold", "com.google.inject.Injector",
            "com.fasterxml.jackson.databind.ObjectMapper", "picocli.CommandLine",
            "dev.manyfold.api.Plugin", "dev.manyfold.api.Settings", "ai.djl.ndarray.NDManager", "org.slf4j.Logger");

    private static final String PROBE_PLUGIN = """
            package iso;

            import dev.manyfold.api.Context;
            import dev.manyfold.api.ModelShape;
            import dev.manyfold.api.Plugin;
            import dev.manyfold.api.Settings;
            import dev.manyfold.api.dimension.Dimension;
            import dev.manyfold.api.dimension.DimensionFactory;
            import java.util.List;

            public final class ProbePlugin implements Plugin {
                @Override
                public List<DimensionFactory> dimensions() {
                    return List.of(new Probe());
                }

                /** Reports which host classes its own class loader can see, as "class=true;...". */
                public static final class Probe implements DimensionFactory {
                    @Override
                    public String name() {
                        return "probe";
                    }

                    @Override
                    public String description() {
                        StringBuilder sb = new StringBuilder();
                        for (String c : new String[] {%s}) {
                            sb.append(c).append('=').append(visible(c)).append(';');
                        }
                        return sb.toString();
                    }

                    private static boolean visible(String name) {
                        try {
                            Class.forName(name, false, Probe.class.getClassLoader());
                            return true;
                        } catch (ClassNotFoundException e) {
                            return false;
                        }
                    }

                    @Override
                    public Dimension create(Settings settings, Context context) {
                        List<Integer> budgets = settings.getIntList("budgets", List.of());
                        return new Dimension() {
                            @Override
                            public String name() {
                                return "probe";
                            }

                            @Override
                            public List<Integer> budgets(ModelShape model) {
                                return budgets;
                            }
                        };
                    }
                }
            }
            """.formatted(String.join(", ", PROBED.stream().map(c -> "\"" + c + "\"").toList()));

    private static String greeter(String version) {
        return "package lib;\npublic final class Greeter {\n    public String greet() {\n        return \"" + version + "\";\n    }\n}\n";
    }

    private static String greetingPlugin(String pkg, String factory) {
        return """
                package %1$s;

                import dev.manyfold.api.Context;
                import dev.manyfold.api.Plugin;
                import dev.manyfold.api.Settings;
                import dev.manyfold.api.dimension.Dimension;
                import dev.manyfold.api.dimension.DimensionFactory;
                import java.util.List;

                public final class GreetingPlugin implements Plugin {
                    @Override
                    public List<DimensionFactory> dimensions() {
                        return List.of(new DimensionFactory() {
                            @Override
                            public String name() {
                                return "%2$s";
                            }

                            @Override
                            public String description() {
                                return new lib.Greeter().greet() + "@" + lib.Greeter.class.getClassLoader().getName();
                            }

                            @Override
                            public Dimension create(Settings settings, Context context) {
                                throw new UnsupportedOperationException();
                            }
                        });
                    }
                }
                """.formatted(pkg, factory);
    }

    @TempDir
    Path tmp;

    private PluginJars jars;
    private Path root;

    @BeforeEach
    void setUp() {
        jars = new PluginJars(tmp.resolve("build"));
        root = tmp.resolve("plugins");
    }

    private static Map<String, Boolean> visibility(String description) {
        Map<String, Boolean> out = new LinkedHashMap<>();
        for (String pair : description.split(";")) {
            String[] kv = pair.split("=");
            out.put(kv[0], Boolean.parseBoolean(kv[1]));
        }
        return out;
    }

    @Test
    void pluginSeesNeitherTheRuntimeNorItsLibrariesButSharesTheApi() throws Exception {
        jars.plugin("iso").source("iso.ProbePlugin", PROBE_PLUGIN).writeTo(root);

        try (Manyfold host = Manyfold.builder().classpathPlugins(false).pluginDir(root).build()) {
            PluginRecord record = host.plugins().get(0);
            assertThat(record.status()).isEqualTo("loaded");
            assertThat(record.source()).isEqualTo(root.resolve("iso").toAbsolutePath().toString());
            DimensionFactory probe = host.extensions().dimensions().get("probe");

            Map<String, Boolean> seen = visibility(probe.description());
            assertThat(seen).containsEntry("dev.manyfold.runtime.host.Manyfold", false)
                    .containsEntry("com.google.inject.Injector", false)
                    .containsEntry("com.fasterxml.jackson.databind.ObjectMapper", false)
                    .containsEntry("picocli.CommandLine", false)
                    .containsEntry("dev.manyfold.api.Plugin", true)
                    .containsEntry("dev.manyfold.api.Settings", true)
                    .containsEntry("ai.djl.ndarray.NDManager", true)
                    .containsEntry("org.slf4j.Logger", true);

            ClassLoader pluginLoader = probe.getClass().getClassLoader();
            assertThat(pluginLoader).isNotSameAs(getClass().getClassLoader());
            assertThat(pluginLoader.getName()).isEqualTo("plugin-iso");
            // shared classes are the very same Class objects as the host's
            assertThat(pluginLoader.loadClass("dev.manyfold.api.Plugin")).isSameAs(Plugin.class);
            assertThat(pluginLoader.loadClass("dev.manyfold.api.Settings")).isSameAs(Settings.class);
            assertThat(pluginLoader.loadClass("ai.djl.ndarray.NDManager")).isSameAs(NDManager.class);
            assertThat(pluginLoader.loadClass("org.slf4j.Logger")).isSameAs(Logger.class);
            assertThatThrownBy(() -> pluginLoader.loadClass("dev.manyfold.runtime.host.Manyfold"))
                    .isInstanceOf(ClassNotFoundException.class);
            assertThatThrownBy(() -> pluginLoader.loadClass("com.google.inject.Injector"))
                    .isInstanceOf(ClassNotFoundException.class);
            // and the host cannot see the plugin's classes either
            assertThatThrownBy(() -> Class.forName("iso.ProbePlugin")).isInstanceOf(ClassNotFoundException.class);
        }
    }

    @Test
    void isolatedPluginWorksThroughTheSharedApi() {
        jars.plugin("iso").source("iso.ProbePlugin", PROBE_PLUGIN).writeTo(root);

        try (Manyfold host = Manyfold.builder().classpathPlugins(false).pluginDir(root).build()) {
            var ext = host.extensions();
            Settings section = Settings.of("dimensions.probe", Map.of("budgets", List.of(1, 3)));
            Dimension d = ext.create(ext.dimensions(), ExtensionKind.DIMENSION, "probe", section,
                    new HostContext(1, Optional.empty(), tmp, m -> {}), "dimensions.probe");

            assertThat(d.name()).isEqualTo("probe");
            assertThat(d.budgets(null)).containsExactly(1, 3);
            assertThat(d.getClass().getClassLoader().getName()).isEqualTo("plugin-iso");
        }
    }

    @Test
    void twoPluginsBundlingDifferentVersionsOfOneLibraryEachSeeTheirOwn() throws Exception {
        Path v1 = jars.library("greeter-1.0", Map.of("lib.Greeter", greeter("v1")));
        Path v2 = jars.library("greeter-2.0", Map.of("lib.Greeter", greeter("v2")));
        jars.plugin("greet-one").source("one.GreetingPlugin", greetingPlugin("one", "greet-one")).library(v1).writeTo(root);
        jars.plugin("greet-two").source("two.GreetingPlugin", greetingPlugin("two", "greet-two")).library(v2).writeTo(root);

        try (Manyfold host = Manyfold.builder().classpathPlugins(false).pluginDir(root).build()) {
            assertThat(host.plugins()).allMatch(PluginRecord::loaded, "loaded");
            DimensionFactory one = host.extensions().dimensions().get("greet-one");
            DimensionFactory two = host.extensions().dimensions().get("greet-two");

            assertThat(one.description()).isEqualTo("v1@plugin-greet-one");
            assertThat(two.description()).isEqualTo("v2@plugin-greet-two");
            Class<?> greeterOne = one.getClass().getClassLoader().loadClass("lib.Greeter");
            Class<?> greeterTwo = two.getClass().getClassLoader().loadClass("lib.Greeter");
            assertThat(greeterOne).isNotSameAs(greeterTwo);
            assertThat(greeterOne.getProtectionDomain().getCodeSource().getLocation().getPath()).endsWith("greeter-1.0.jar");
            assertThat(greeterTwo.getProtectionDomain().getCodeSource().getLocation().getPath()).endsWith("greeter-2.0.jar");
            assertThatThrownBy(() -> Class.forName("lib.Greeter")).isInstanceOf(ClassNotFoundException.class);
        }
    }

    @Test
    void pluginJarPlacedDirectlyInTheRootIsOnePlugin() {
        jars.plugin("loose").sources(PluginJars.dimensionPlugin("loose", "LoosePlugin", "loose jar", "loose"))
                .writeJar(root.resolve("loose-1.0.jar"));

        try (Manyfold host = Manyfold.builder().classpathPlugins(false).pluginDir(root).build()) {
            assertThat(host.plugins()).singleElement().satisfies(r -> {
                assertThat(r.name()).isEqualTo("loose");
                assertThat(r.loaded()).isTrue();
                assertThat(r.source()).endsWith("loose-1.0.jar");
            });
            assertThat(host.extensions().dimensions().get("loose").getClass().getClassLoader().getName())
                    .isEqualTo("plugin-loose-1.0.jar");
        }
    }
}
