package dev.manyfold.runtime.host;

import static dev.manyfold.runtime.testing.TestPlugins.descriptor;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.api.Plugin;
import dev.manyfold.api.PluginDescriptor;
import dev.manyfold.runtime.testing.TestPlugins.TestPlugin;
import dev.manyfold.testplugins.ExitingConstructorPlugin;
import dev.manyfold.testplugins.HungryConstructorPlugin;
import dev.manyfold.testplugins.SlowConstructorPlugin;
import dev.manyfold.testplugins.ThrowingConstructorPlugin;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PluginGuardTest {
    private static final String DESCRIPTOR = "version=1.0.0\napi-version=[1.0,2.0)\ndescription=hostile\n";
    private static final byte[] ZEROS = new byte[1 << 20];

    @TempDir
    Path tmp;

    /** Content written into a jar entry. */
    @FunctionalInterface
    interface Content {
        void write(OutputStream out) throws IOException;
    }

    private static Content text(String s) {
        return out -> out.write(s.getBytes(UTF_8));
    }

    /** {@code megabytes} MB of the same byte: compresses about a thousandfold, like a bomb. */
    private static Content bomb(String prefix, int megabytes) {
        return out -> {
            out.write(prefix.getBytes(UTF_8));
            for (int i = 0; i < megabytes; i++) {
                out.write(ZEROS);
            }
        };
    }

    private Path jar(Path root, String name, Class<? extends Plugin> type, Content descriptor, Content services) throws IOException {
        Path dir = Files.createDirectories(root.resolve(name));
        String classFile = type.getName().replace('.', '/') + ".class";
        try (InputStream in = type.getClassLoader().getResourceAsStream(classFile);
                JarOutputStream out = new JarOutputStream(Files.newOutputStream(dir.resolve(name + ".jar")))) {
            out.putNextEntry(new JarEntry(classFile));
            out.write(in.readAllBytes());
            out.closeEntry();
            out.putNextEntry(new JarEntry("META-INF/services/" + Plugin.class.getName()));
            services.write(out);
            out.closeEntry();
            out.putNextEntry(new JarEntry(PluginDescriptor.RESOURCE));
            descriptor.write(out);
            out.closeEntry();
        }
        return root;
    }

    private Path jar(Path root, String name, Class<? extends Plugin> type) throws IOException {
        return jar(root, name, type, text("name=" + name + "\n" + DESCRIPTOR), text(type.getName() + "\n"));
    }

    private static Manyfold withGood(Path root) {
        return Manyfold.builder().classpathPlugins(false).pluginDir(root).addPlugin(descriptor("good"), new TestPlugin().dimensions("depth"))
                .build();
    }

    private static PluginRecord record(Manyfold host, String name) {
        return host.plugins().stream().filter(r -> r.name().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no record for " + name + " in " + host.plugins()));
    }

    private static void assertGoodStillLoads(Manyfold host) {
        assertThat(record(host, "good").loaded()).isTrue();
        assertThat(host.extensions().dimensions()).containsOnlyKeys("depth");
    }

    @Test
    void aConstructorCallingSystemExitIsRefusedAndTheHostKeepsRunning() throws IOException {
        assertThat(PluginGuard.exitsGuarded()).as("Java 17 allows the exit guard").isTrue();
        try (Manyfold host = withGood(jar(tmp, "exiter", ExitingConstructorPlugin.class))) {
            assertThat(record(host, "exiter").error()).isEqualTo("plugin [exiter] called System.exit while starting");
            assertGoodStillLoads(host);
        }
        assertThat(System.getSecurityManager()).as("the guard is removed once plugins have started").isNull();
    }

    @Test
    void aConstructorExhaustingMemoryIsRefusedByName() throws IOException {
        try (Manyfold host = withGood(jar(tmp, "hungry", HungryConstructorPlugin.class))) {
            assertThat(record(host, "hungry").error()).startsWith("plugin [hungry] ran out of memory while starting");
            assertGoodStillLoads(host);
        }
    }

    @Test
    void aConstructorThatNeverReturnsIsRefusedAfterTheTimeLimit() throws IOException {
        System.setProperty(PluginGuard.TIMEOUT_PROPERTY, "300");
        try (Manyfold host = withGood(jar(tmp, "slow", SlowConstructorPlugin.class))) {
            assertThat(record(host, "slow").error()).isEqualTo("plugin [slow] did not start within 300 ms (its thread is abandoned, not stopped)");
            assertGoodStillLoads(host);
        } finally {
            System.clearProperty(PluginGuard.TIMEOUT_PROPERTY);
        }
    }

    @Test
    void aDescriptorWithAMalformedEscapeRefusesThatPluginOnlyNamingIt() throws IOException {
        Path root = jar(tmp, "escapes", ThrowingConstructorPlugin.class, text("name=escapes\n" + DESCRIPTOR + "x=\\uZZZZ\n"),
                text(ThrowingConstructorPlugin.class.getName() + "\n"));
        try (Manyfold host = withGood(root)) {
            assertThat(record(host, "escapes").error()).contains("escapes").contains("malformed descriptor").contains("Malformed \\uxxxx");
            assertGoodStillLoads(host);
        }
    }

    @Test
    void decompressionBombsAsDescriptorOrServiceFileAreRefusedAtTheSizeCap() throws IOException {
        Path root = jar(tmp, "bomb-descriptor", ThrowingConstructorPlugin.class, bomb("name=bomb-descriptor\n" + DESCRIPTOR + "x=", 64),
                text(ThrowingConstructorPlugin.class.getName() + "\n"));
        jar(root, "bomb-services", ThrowingConstructorPlugin.class, text("name=bomb-services\n" + DESCRIPTOR),
                bomb(ThrowingConstructorPlugin.class.getName() + "\n#", 64));
        assertThat(Files.size(root.resolve("bomb-descriptor/bomb-descriptor.jar"))).as("compressed").isLessThan(1 << 20);
        try (Manyfold host = withGood(root)) {
            assertThat(record(host, "bomb-descriptor").error()).contains("larger than " + PluginGuard.MAX_FILE_BYTES + " bytes");
            assertThat(record(host, "bomb-services").error()).isEqualTo("plugin [bomb-services] cannot be loaded: META-INF/services/"
                    + Plugin.class.getName() + " is larger than " + PluginGuard.MAX_FILE_BYTES + " bytes");
            assertGoodStillLoads(host);
        }
    }
}
