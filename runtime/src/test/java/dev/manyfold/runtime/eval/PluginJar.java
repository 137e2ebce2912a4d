package dev.manyfold.runtime.eval;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.manyfold.api.Plugin;
import dev.manyfold.api.PluginDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;

/** Packages an already compiled, self-contained plugin class (and its nested classes) as a plugin root. */
public final class PluginJar {
    private PluginJar() {}

    /** Writes {@code root/name/name.jar} holding {@code type}'s classes, its service entry and a descriptor; returns root. */
    public static Path write(Path root, String name, Class<? extends Plugin> type) {
        try {
            Path classes = Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI());
            String packageDir = type.getPackageName().replace('.', '/');
            String simple = type.getSimpleName();
            List<Path> files;
            try (Stream<Path> s = Files.list(classes.resolve(packageDir))) {
                files = s.filter(p -> {
                    String f = p.getFileName().toString();
                    return f.equals(simple + ".class") || f.startsWith(simple + "$");
                }).sorted().toList();
            }
            Path jar = root.resolve(name).resolve(name + ".jar");
            Files.createDirectories(jar.getParent());
            try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar))) {
                out.putNextEntry(new JarEntry(PluginDescriptor.RESOURCE));
                out.write(("name=" + name + "\nversion=1.0.0\napi-version=[1.0,2.0)\ndescription=test dimensions\n").getBytes(UTF_8));
                out.closeEntry();
                out.putNextEntry(new JarEntry("META-INF/services/" + Plugin.class.getName()));
                out.write((type.getName() + "\n").getBytes(UTF_8));
                out.closeEntry();
                for (Path f : files) {
                    out.putNextEntry(new JarEntry(packageDir + "/" + f.getFileName()));
                    try (InputStream in = Files.newInputStream(f)) {
                        in.transferTo(out);
                    }
                    out.closeEntry();
                }
            }
            return root;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
