package dev.manyfold.it;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/** The assembled distribution under test (bundles/target/manyfold) and the example recipes. */
final class Bundle {
    private static final String HOW = "run `mvn package` (or `mvn verify`) from the project root first; "
            + "it assembles bundles/target/manyfold before the integration tests run";

    private Bundle() {}

    /** The bundle directory, or a failed test saying how to assemble it. */
    static Path home() {
        String property = System.getProperty("manyfold.bundle");
        if (property == null || property.isBlank()) {
            fail("system property manyfold.bundle is not set: " + HOW);
        }
        Path home = Path.of(property).toAbsolutePath().normalize();
        if (!Files.isExecutable(home.resolve("bin/manyfold")) || !Files.isDirectory(home.resolve("lib"))) {
            fail("no assembled bundle at " + home + " (missing bin/manyfold or lib/): " + HOW);
        }
        return home;
    }

    /** The launcher script. */
    static Path launcher() {
        return home().resolve("bin/manyfold");
    }

    /** The bundle's default plugin root. */
    static Path plugins() {
        return home().resolve("plugins");
    }

    /** The one jar in lib/ whose file name matches the regex. */
    static Path lib(String fileNameRegex) {
        try (Stream<Path> s = Files.list(home().resolve("lib"))) {
            List<Path> found = s.filter(p -> p.getFileName().toString().matches(fileNameRegex)).toList();
            if (found.size() != 1) {
                fail("expected exactly one jar matching " + fileNameRegex + " in " + home().resolve("lib") + ", found " + found
                        + ": " + HOW);
            }
            return found.get(0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The jars a plugin compiles against: the Manyfold API and DJL's API. */
    static List<Path> apiClasspath() {
        return List.of(lib("manyfold-api-.*\\.jar"), lib("api-\\d.*\\.jar"));
    }

    /** The example recipes shipped with the project. */
    static List<Path> examples() {
        String property = System.getProperty("manyfold.examples");
        if (property == null || property.isBlank()) {
            fail("system property manyfold.examples is not set: run the integration tests through Maven");
        }
        try (Stream<Path> s = Files.list(Path.of(property))) {
            List<Path> recipes = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
            if (recipes.isEmpty()) {
                fail("no example recipes (*.yaml) in " + property);
            }
            return recipes;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The descriptor of the bundled plugin in plugins/NAME/. */
    static Properties pluginDescriptor(String name) {
        try (Stream<Path> s = Files.list(plugins().resolve(name))) {
            Path jar = s.filter(p -> p.toString().endsWith(".jar")).findFirst()
                    .orElseThrow(() -> new AssertionError("no jar in " + plugins().resolve(name) + ": " + HOW));
            try (JarFile file = new JarFile(jar.toFile());
                    InputStream in = file.getInputStream(file.getJarEntry("META-INF/manyfold-plugin.properties"))) {
                Properties p = new Properties();
                p.load(in);
                return p;
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
