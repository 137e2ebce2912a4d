package dev.manyfold.it;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;

/**
 * Builds real plugin jars at test time: compiles Java sources with the system compiler
 * against the bundle's {@code lib/manyfold-api-*.jar} (and DJL's API jar) and writes
 * {@code <root>/<name>/<name>.jar} with the classes, the service entry and the descriptor.
 */
final class PluginJars {
    private final Path work;
    private final List<Path> api;

    /** @param work a scratch directory for sources and classes; must not be a plugin root */
    PluginJars(Path work) {
        this(work, Bundle.apiClasspath());
    }

    /** Compiling against another API (for example the 1.0 API jar, to prove old plugins still load). */
    PluginJars(Path work, List<Path> apiClasspath) {
        this.work = work;
        this.api = List.copyOf(apiClasspath);
    }

    /** Starts a plugin named {@code name} with a valid descriptor (version 1.0.0, API [1.0,2.0)). */
    Spec plugin(String name) {
        return new Spec(name);
    }

    /** Compiles sources (class name to code) and writes them as a library jar in the work directory. */
    Path library(String jarName, Map<String, String> sources) {
        Path classes = compile(sources, List.of());
        Path jar = work.resolve("libs").resolve(jarName + ".jar");
        writeJar(classes, jar, Map.of());
        return jar;
    }

    /** Compiles sources against the API jars plus {@code extra}; returns the classes directory. */
    Path compile(Map<String, String> sources, List<Path> extra) {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        if (javac == null) {
            throw new AssertionError("no system Java compiler: run the tests on a JDK, not a JRE");
        }
        try {
            Files.createDirectories(work);
            Path src = Files.createTempDirectory(work, "src");
            Path out = Files.createTempDirectory(work, "classes");
            List<Path> files = new ArrayList<>();
            for (Map.Entry<String, String> e : sources.entrySet()) {
                Path file = src.resolve(e.getKey().replace('.', '/') + ".java");
                Files.createDirectories(file.getParent());
                Files.writeString(file, e.getValue());
                files.add(file);
            }
            List<Path> classpath = new ArrayList<>(api);
            classpath.addAll(extra);
            List<String> options = List.of("--release", "17", "-proc:none", "-implicit:none", "-d", out.toString(),
                    "-classpath", classpath.stream().map(Path::toString).collect(Collectors.joining(File.pathSeparator)));
            DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
            try (StandardJavaFileManager files2 = javac.getStandardFileManager(diagnostics, null, UTF_8)) {
                boolean ok = javac.getTask(null, files2, diagnostics, options, null, files2.getJavaFileObjectsFromPaths(files)).call();
                if (!ok) {
                    throw new AssertionError("test plugin sources do not compile:\n" + diagnostics.getDiagnostics().stream()
                            .map(Object::toString).collect(Collectors.joining("\n")));
                }
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes a jar of a classes directory plus extra text entries (path to content). */
    static void writeJar(Path classes, Path jar, Map<String, String> entries) {
        try {
            Files.createDirectories(jar.getParent());
            try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar));
                    Stream<Path> walk = Files.walk(classes)) {
                for (Path file : walk.filter(Files::isRegularFile).sorted().toList()) {
                    out.putNextEntry(new JarEntry(classes.relativize(file).toString().replace(File.separatorChar, '/')));
                    out.write(Files.readAllBytes(file));
                    out.closeEntry();
                }
                for (Map.Entry<String, String> e : entries.entrySet()) {
                    out.putNextEntry(new JarEntry(e.getKey()));
                    out.write(e.getValue().getBytes(UTF_8));
                    out.closeEntry();
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Source of a plugin class {@code pkg.className} contributing one dimension factory per
     * name; each reads {@code budgets} (a list of integers) and describes itself as
     * {@code description}.
     */
    static Map<String, String> dimensionPlugin(String pkg, String className, String description, String... dimensions) {
        String names = Stream.of(dimensions).map(n -> "\"" + n + "\"").collect(Collectors.joining(", "));
        return Map.of(pkg + "." + className, """
                package %1$s;

                import dev.manyfold.api.Context;
                import dev.manyfold.api.ModelShape;
                import dev.manyfold.api.Plugin;
                import dev.manyfold.api.Settings;
                import dev.manyfold.api.dimension.Dimension;
                import dev.manyfold.api.dimension.DimensionFactory;
                import java.util.List;

                public final class %2$s implements Plugin {
                    @Override
                    public List<DimensionFactory> dimensions() {
                        return List.of(%3$s).stream().map(n -> (DimensionFactory) new Budgets(n)).toList();
                    }

                    static final class Budgets implements DimensionFactory {
                        private final String name;

                        Budgets(String name) {
                            this.name = name;
                        }

                        @Override
                        public String name() {
                            return name;
                        }

                        @Override
                        public String description() {
                            return "%4$s";
                        }

                        @Override
                        public Dimension create(Settings settings, Context context) {
                            List<Integer> budgets = settings.getIntList("budgets", List.of(1));
                            return new Dimension() {
                                @Override
                                public String name() {
                                    return name;
                                }

                                @Override
                                public List<Integer> budgets(ModelShape model) {
                                    return budgets;
                                }
                            };
                        }
                    }
                }
                """.formatted(pkg, className, names, description));
    }

    /** One plugin being assembled. */
    final class Spec {
        private final String name;
        private final Map<String, String> descriptor = new LinkedHashMap<>();
        private final Map<String, String> sources = new LinkedHashMap<>();
        private final List<Path> libraries = new ArrayList<>();
        private final List<String> services = new ArrayList<>();

        private Spec(String name) {
            this.name = name;
            descriptor.put("name", name);
            descriptor.put("version", "1.0.0");
            descriptor.put("api-version", "[1.0,2.0)");
            descriptor.put("description", "test plugin " + name);
        }

        /** Sets (or adds) a descriptor property. */
        Spec descriptor(String key, String value) {
            descriptor.put(key, value);
            return this;
        }

        /** Leaves a property out of the descriptor. */
        Spec withoutDescriptor(String key) {
            descriptor.remove(key);
            return this;
        }

        /** Adds sources; the first class added is the Plugin service unless {@link #service} says otherwise. */
        Spec sources(Map<String, String> classSources) {
            classSources.keySet().stream().findFirst().filter(c -> services.isEmpty()).ifPresent(services::add);
            sources.putAll(classSources);
            return this;
        }

        /** Adds a class source. */
        Spec source(String className, String code) {
            return sources(Map.of(className, code));
        }

        /** Lists a class in META-INF/services/dev.manyfold.api.Plugin. */
        Spec service(String className) {
            if (!services.contains(className)) {
                services.add(className);
            }
            return this;
        }

        /** A library jar the plugin compiles against and ships in its directory. */
        Spec library(Path jar) {
            libraries.add(jar);
            return this;
        }

        /** Writes {@code root/name/name.jar} plus the library jars; returns the plugin directory. */
        Path writeTo(Path root) {
            Path dir = root.resolve(name);
            writeJar(dir.resolve(name + ".jar"));
            try {
                for (Path lib : libraries) {
                    Files.copy(lib, dir.resolve(lib.getFileName()));
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return dir;
        }

        /** Writes the plugin as the single jar {@code jar} (for jars placed directly in a root). */
        Path writeJar(Path jar) {
            Path classes = compile(sources, libraries);
            Map<String, String> entries = new LinkedHashMap<>();
            entries.put("META-INF/services/dev.manyfold.api.Plugin", services.stream().map(s -> s + "\n").collect(Collectors.joining()));
            entries.put("META-INF/manyfold-plugin.properties", descriptor.entrySet().stream()
                    .map(e -> e.getKey() + "=" + e.getValue() + "\n").collect(Collectors.joining()));
            PluginJars.writeJar(classes, jar, entries);
            return jar;
        }
    }
}
