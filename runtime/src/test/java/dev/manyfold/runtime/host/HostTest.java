package dev.manyfold.runtime.host;

import static dev.manyfold.runtime.testing.TestPlugins.descriptor;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Key;
import com.google.inject.name.Names;
import com.google.inject.util.Types;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Context;
import dev.manyfold.api.Plugin;
import dev.manyfold.api.PluginDescriptor;
import dev.manyfold.api.Settings;
import dev.manyfold.api.adapter.AdapterFactory;
import dev.manyfold.api.dimension.Dimension;
import dev.manyfold.api.dimension.DimensionFactory;
import dev.manyfold.runtime.testing.TestPlugins.NamedObjectiveFactory;
import dev.manyfold.runtime.testing.TestPlugins.RankAdapterFactory;
import dev.manyfold.runtime.testing.TestPlugins.TestPlugin;
import dev.manyfold.testplugins.ThrowingConstructorPlugin;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HostTest {
    private static final Context CONTEXT = new HostContext(42, Optional.empty(), Path.of("."), m -> {});

    @TempDir
    Path tmp;

    private static Manyfold.Builder host() {
        return Manyfold.builder().classpathPlugins(false);
    }

    private static PluginRecord record(Manyfold host, String name) {
        return host.plugins().stream().filter(r -> r.name().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no record for plugin " + name + " in " + host.plugins()));
    }

    /** A plugin whose dimensions() fails at load time. */
    private static final class DimensionsThrowPlugin implements Plugin {
        @Override
        public List<DimensionFactory> dimensions() {
            throw new IllegalStateException("cannot read budget table");
        }
    }

    // ---- loading ------------------------------------------------------------------------

    @Test
    void instancePluginsAreLoadedWithTheirContributionsRecorded() {
        TestPlugin sorted = new TestPlugin().dimensions("depth", "width").objective(new NamedObjectiveFactory("sandwich"));
        TestPlugin lora = new TestPlugin().adapter(new RankAdapterFactory());

        try (Manyfold host = host().addPlugin(descriptor("sorted"), sorted).addPlugin(descriptor("lora"), lora).build()) {
            assertThat(host.plugins()).extracting(PluginRecord::name).containsExactly("sorted", "lora");
            assertThat(host.plugins()).allMatch(PluginRecord::loaded);
            PluginRecord r = record(host, "sorted");
            assertThat(r.status()).isEqualTo("loaded");
            assertThat(r.version()).isEqualTo("1.0.0");
            assertThat(r.apiRange()).isEqualTo("[1.0,2.0)");
            assertThat(r.source()).startsWith("instance:");
            assertThat(r.contributions().get(ExtensionKind.DIMENSION)).containsExactly("depth", "width");
            assertThat(r.contributions().get(ExtensionKind.OBJECTIVE)).containsExactly("sandwich");
            assertThat(host.extensions().dimensions()).containsOnlyKeys("depth", "width");
            assertThat(PluginCalls.unwrap(host.extensions().dimensions().get("depth"))).isSameAs(sorted.dimensions().get(0));
            assertThat(host.extensions().adapters()).containsOnlyKeys("lora");
            assertThat(host.extensions().of(ExtensionKind.OBJECTIVE)).containsOnlyKeys("sandwich");
            assertThat(host.extensions().decoders()).isEmpty();
        }
    }

    @Test
    void hostWithoutPluginsHasNoExtensions() {
        try (Manyfold host = host().build()) {
            assertThat(host.plugins()).isEmpty();
            for (ExtensionKind kind : ExtensionKind.values()) {
                assertThat(host.extensions().of(kind)).as(kind.label()).isEmpty();
            }
        }
    }

    @Test
    void pluginReturningNullListsContributesNothingButLoads() {
        Plugin nulls = new Plugin() {
            @Override
            public List<AdapterFactory> adapters() {
                return null;
            }
        };

        try (Manyfold host = host().addPlugin(descriptor("nulls"), nulls).build()) {
            assertThat(record(host, "nulls").loaded()).isTrue();
            assertThat(host.extensions().adapters()).isEmpty();
        }
    }

    @Test
    void instanceWithoutDescriptorGetsOneSynthesisedFromItsClassName() {
        try (Manyfold host = host().addPlugin(new TestPlugin().dimensions("depth")).build()) {
            PluginRecord r = host.plugins().get(0);
            assertThat(r.name()).isEqualTo("test-plugin");
            assertThat(r.version()).isEqualTo("embedded");
            assertThat(r.loaded()).isTrue();
        }
    }

    @Test
    void hostsInOneJvmDoNotShareState() {
        try (Manyfold a = host().addPlugin(descriptor("a"), new TestPlugin().dimensions("depth")).build();
                Manyfold b = host().addPlugin(descriptor("b"), new TestPlugin().dimensions("depth", "width")).build()) {
            assertThat(a.extensions().dimensions()).containsOnlyKeys("depth");
            assertThat(b.extensions().dimensions()).containsOnlyKeys("depth", "width");
            assertThat(record(b, "b").loaded()).isTrue();
        }
    }

    // ---- refusals -----------------------------------------------------------------------

    @Test
    void duplicateFactoryNameIsRefusedNamingBothPluginsWhileTheFirstStaysLoaded() {
        TestPlugin first = new TestPlugin().dimensions("depth");
        TestPlugin second = new TestPlugin().dimensions("heads", "depth");

        try (Manyfold host = host().addPlugin(descriptor("first"), first).addPlugin(descriptor("second"), second).build()) {
            PluginRecord refused = record(host, "second");
            assertThat(refused.loaded()).isFalse();
            assertThat(refused.error()).contains("plugin [second]").contains("plugin [first]")
                    .contains("dimension \"depth\"").contains("must be unique");
            assertThat(refused.status()).startsWith("refused: ");
            assertThat(refused.contributions()).isEmpty();

            assertThat(record(host, "first").loaded()).isTrue();
            assertThat(PluginCalls.unwrap(host.extensions().dimensions().get("depth"))).isSameAs(first.dimensions().get(0));
            // all or nothing: the refused plugin's other factories are not bound either
            assertThat(host.extensions().dimensions()).doesNotContainKey("heads");
        }
    }

    @Test
    void duplicateFactoryNameWithinOnePluginIsRefused() {
        try (Manyfold host = host().addPlugin(descriptor("twice"), new TestPlugin().dimensions("depth", "depth")).build()) {
            assertThat(record(host, "twice").error()).contains("plugin [twice]").contains("dimension \"depth\"");
            assertThat(host.extensions().dimensions()).isEmpty();
        }
    }

    @Test
    void sameNameForDifferentExtensionKindsIsAccepted() {
        TestPlugin a = new TestPlugin().dimensions("depth");
        TestPlugin b = new TestPlugin().objective(new NamedObjectiveFactory("depth"));

        try (Manyfold host = host().addPlugin(descriptor("a"), a).addPlugin(descriptor("b"), b).build()) {
            assertThat(host.plugins()).allMatch(PluginRecord::loaded);
            assertThat(host.extensions().objectives()).containsOnlyKeys("depth");
        }
    }

    @Test
    void pluginWhoseDimensionsThrowIsRefusedNamingItWhileOthersLoad() {
        try (Manyfold host = host().addPlugin(descriptor("before"), new TestPlugin().dimensions("depth"))
                .addPlugin(descriptor("broken"), new DimensionsThrowPlugin())
                .addPlugin(descriptor("after"), new TestPlugin().dimensions("width")).build()) {
            PluginRecord broken = record(host, "broken");
            assertThat(broken.loaded()).isFalse();
            assertThat(broken.error()).contains("plugin [broken] failed to start")
                    .contains("IllegalStateException: cannot read budget table");
            assertThat(record(host, "before").loaded()).isTrue();
            assertThat(record(host, "after").loaded()).isTrue();
            assertThat(host.extensions().dimensions()).containsOnlyKeys("depth", "width");
        }
    }

    @Test
    void pluginWhoseConstructorThrowsIsRefusedNamingItWhileOthersLoad() throws IOException {
        Path root = Files.createDirectories(tmp.resolve("plugins"));
        writePluginJar(root, "native", ThrowingConstructorPlugin.class);

        try (Manyfold host = host().pluginDir(root).addPlugin(descriptor("good"), new TestPlugin().dimensions("depth")).build()) {
            PluginRecord refused = record(host, "native");
            assertThat(refused.loaded()).isFalse();
            assertThat(refused.error()).contains("plugin [native] failed to start")
                    .contains("native library libfoo.so not found");
            assertThat(refused.source()).isEqualTo(root.resolve("native").toAbsolutePath().toString());
            assertThat(record(host, "good").loaded()).isTrue();
            assertThat(host.extensions().dimensions()).containsOnlyKeys("depth");
        }
    }

    @Test
    void factoryWithAnInvalidNameIsRefused() {
        try (Manyfold host = host().addPlugin(descriptor("caps"), new TestPlugin().dimensions("Depth_2")).build()) {
            assertThat(record(host, "caps").error()).contains("plugin [caps]").contains("invalid name \"Depth_2\"")
                    .contains("lower-case letters, digits and '-'");
        }
    }

    @Test
    void factoryWhoseNameThrowsIsRefused() {
        DimensionFactory nameless = new DimensionFactory() {
            @Override
            public String name() {
                throw new UnsupportedOperationException("not configured");
            }

            @Override
            public Dimension create(Settings settings, Context context) {
                return null;
            }
        };

        try (Manyfold host = host().addPlugin(descriptor("nameless"), new TestPlugin().dimension(nameless))
                .addPlugin(descriptor("ok"), new TestPlugin().dimensions("depth")).build()) {
            assertThat(record(host, "nameless").error()).contains("plugin [nameless]").contains("name() failed")
                    .contains("not configured");
            assertThat(record(host, "ok").loaded()).isTrue();
        }
    }

    @Test
    void apiRangeMismatchIsRefusedNamingThePluginItsRangeAndTheHostVersion() {
        PluginDescriptor future = PluginDescriptor.of("future", "3.0.0", "[2.0,3.0)", "needs API 2");

        try (Manyfold host = host().addPlugin(future, new TestPlugin().dimensions("depth"))
                .addPlugin(descriptor("current"), new TestPlugin().dimensions("width")).build()) {
            PluginRecord refused = record(host, "future");
            assertThat(refused.loaded()).isFalse();
            assertThat(refused.error()).isEqualTo("plugin [future] requires API version [2.0,3.0) but this host provides " + dev.manyfold.api.ApiVersion.provided());
            assertThat(refused.version()).isEqualTo("3.0.0");
            assertThat(refused.apiRange()).isEqualTo("[2.0,3.0)");
            assertThat(host.extensions().dimensions()).containsOnlyKeys("width");
        }
    }

    @Test
    void secondPluginWithTheSameNameIsRefused() {
        try (Manyfold host = host().addPlugin(descriptor("sorted"), new TestPlugin().dimensions("depth"))
                .addPlugin(descriptor("sorted"), new TestPlugin().dimensions("width")).build()) {
            assertThat(host.plugins()).hasSize(2);
            assertThat(host.plugins().get(0).loaded()).isTrue();
            assertThat(host.plugins().get(1).error()).contains("plugin [sorted] is already loaded from instance:");
            assertThat(host.extensions().dimensions()).containsOnlyKeys("depth");
        }
    }

    @Test
    void missingPluginDirectoryIsAnError() {
        Path missing = tmp.resolve("nope");

        assertThatThrownBy(() -> host().pluginDir(missing).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(missing.toString())
                .hasMessageContaining("does not exist");
    }

    @Test
    void pluginDirectoryWithoutJarsOrDescriptorIsRefusedByItsDirectoryName() throws IOException {
        Path root = Files.createDirectories(tmp.resolve("plugins"));
        Files.createDirectories(root.resolve("empty"));
        Path nodesc = Files.createDirectories(root.resolve("nodesc"));
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(nodesc.resolve("nodesc.jar")))) {
            put(out, "readme.txt", "no descriptor here".getBytes(UTF_8));
        }

        try (Manyfold host = host().pluginDir(root).build()) {
            assertThat(record(host, "empty").error()).isEqualTo("no jar files in plugin directory");
            assertThat(record(host, "nodesc").error()).contains("no META-INF/manyfold-plugin.properties")
                    .contains(nodesc.toAbsolutePath().toString());
            assertThat(host.plugins()).noneMatch(PluginRecord::loaded);
        }
    }

    // ---- resolving names ----------------------------------------------------------------

    @Test
    void unknownFactoryNameListsTheKnownNamesAndTheClosestMatch() {
        try (Manyfold host = host().addPlugin(descriptor("sorted"), new TestPlugin().dimensions("depth", "width", "heads")).build()) {
            Extensions ext = host.extensions();

            ConfigException e = catchThrowableOfType(ConfigException.class,
                    () -> ext.resolve(ext.dimensions(), ExtensionKind.DIMENSION, "dept", "dimensions.dept"));

            assertThat(e.path()).isEqualTo("dimensions.dept");
            assertThat(e.getMessage()).contains("unknown dimension \"dept\"").contains("did you mean \"depth\"?")
                    .contains("one of [depth, heads, width]");
            assertThat(ext.resolve(ext.dimensions(), ExtensionKind.DIMENSION, "width", "x").name()).isEqualTo("width");
        }
    }

    @Test
    void unknownFactoryNameWhenNoPluginContributesThatKindSaysSo() {
        try (Manyfold host = host().addPlugin(descriptor("sorted"), new TestPlugin().dimensions("depth")).build()) {
            Extensions ext = host.extensions();

            assertThatThrownBy(() -> ext.resolve(ext.maskStrategies(), ExtensionKind.MASK_STRATEGY, "wanda", "masks[0].type"))
                    .isInstanceOf(ConfigException.class)
                    .hasMessageContaining("masks[0].type: unknown mask strategy \"wanda\"")
                    .hasMessageContaining("no loaded plugin contributes a mask strategy");
        }
    }

    @Test
    void createRefusesKeysTheFactoryDidNotRead() {
        try (Manyfold host = host().addPlugin(descriptor("lora"), new TestPlugin().adapter(new RankAdapterFactory())).build()) {
            Extensions ext = host.extensions();
            Settings ok = Settings.of("adapters[0]", Map.of("rank", 4));
            Settings typo = Settings.of("adapters[1]", Map.of("rank", 4, "targest", List.of("q_proj")));

            assertThat(ext.create(ext.adapters(), ExtensionKind.ADAPTER, "lora", ok, CONTEXT, "adapters[0].type").targets())
                    .containsExactly("*");
            assertThatThrownBy(() -> ext.create(ext.adapters(), ExtensionKind.ADAPTER, "lora", typo, CONTEXT, "adapters[1].type"))
                    .isInstanceOf(ConfigException.class)
                    .hasMessageContaining("adapters[1].targest: unknown key (did you mean \"targets\"?)");
        }
    }

    @Test
    void factoryReturningNullIsReportedAsABugOfThatFactory() {
        DimensionFactory returnsNull = new DimensionFactory() {
            @Override
            public String name() {
                return "depth";
            }

            @Override
            public Dimension create(Settings settings, Context context) {
                return null;
            }
        };
        try (Manyfold host = host().addPlugin(descriptor("nulls"), new TestPlugin().dimension(returnsNull)).build()) {
            Extensions ext = host.extensions();

            assertThatThrownBy(() -> ext.create(ext.dimensions(), ExtensionKind.DIMENSION, "depth",
                    Settings.empty("dimensions.depth"), CONTEXT, "dimensions.depth"))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessage("dimension factory \"depth\" returned null");
        }
    }

    // ---- Guice --------------------------------------------------------------------------

    @Test
    void hostModuleInstallsIntoASeparateInjectorWithTheContributedMaps() {
        TestPlugin sorted = new TestPlugin().dimensions("depth", "width");
        RankAdapterFactory lora = new RankAdapterFactory();

        try (Manyfold host = host().addPlugin(descriptor("sorted"), sorted)
                .addPlugin(descriptor("lora"), new TestPlugin().adapter(lora)).build()) {
            Injector platform = Guice.createInjector(host.module(),
                    binder -> binder.bind(String.class).annotatedWith(Names.named("platform")).toInstance("mine"));

            @SuppressWarnings("unchecked")
            Key<Map<String, DimensionFactory>> dimensionsKey =
                    (Key<Map<String, DimensionFactory>>) Key.get(Types.mapOf(String.class, DimensionFactory.class));
            @SuppressWarnings("unchecked")
            Key<Map<String, AdapterFactory>> adaptersKey =
                    (Key<Map<String, AdapterFactory>>) Key.get(Types.mapOf(String.class, AdapterFactory.class));

            assertThat(platform).isNotSameAs(host.injector());
            Map<String, DimensionFactory> dimensions = platform.getInstance(dimensionsKey);
            assertThat(dimensions).containsOnlyKeys("depth", "width");
            assertThat(PluginCalls.unwrap(dimensions.get("depth"))).isSameAs(sorted.dimensions().get(0));
            assertThat(platform.getInstance(adaptersKey)).containsOnlyKeys("lora");
            assertThat(PluginCalls.unwrap(platform.getInstance(adaptersKey).get("lora"))).isSameAs(lora);
            assertThat(platform.getInstance(Extensions.class).dimensions()).containsOnlyKeys("depth", "width");
            assertThat(platform.getInstance(ManyfoldModule.PluginRecords.class).all())
                    .extracting(PluginRecord::name).containsExactly("sorted", "lora");
            assertThat(platform.getInstance(Key.get(String.class, Names.named("platform")))).isEqualTo("mine");
        }
    }

    // ---- helpers ------------------------------------------------------------------------

    /** Writes root/NAME/NAME.jar holding the class file of {@code pluginClass}, its service entry and a descriptor. */
    private static void writePluginJar(Path root, String name, Class<? extends Plugin> pluginClass) throws IOException {
        Path dir = Files.createDirectories(root.resolve(name));
        Properties descriptor = new Properties();
        descriptor.setProperty("name", name);
        descriptor.setProperty("version", "0.0.1");
        descriptor.setProperty("api-version", "[1.0,2.0)");
        descriptor.setProperty("description", "test plugin " + name);
        StringWriter text = new StringWriter();
        descriptor.store(text, null);
        String classFile = pluginClass.getName().replace('.', '/') + ".class";
        try (InputStream in = pluginClass.getClassLoader().getResourceAsStream(classFile);
                JarOutputStream out = new JarOutputStream(Files.newOutputStream(dir.resolve(name + ".jar")))) {
            put(out, classFile, in.readAllBytes());
            put(out, "META-INF/services/" + Plugin.class.getName(), (pluginClass.getName() + "\n").getBytes(UTF_8));
            put(out, PluginDescriptor.RESOURCE, text.toString().getBytes(UTF_8));
        }
    }

    private static void put(JarOutputStream out, String name, byte[] bytes) throws IOException {
        out.putNextEntry(new JarEntry(name));
        out.write(bytes);
        out.closeEntry();
    }
}
