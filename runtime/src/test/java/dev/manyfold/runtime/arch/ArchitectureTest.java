package dev.manyfold.runtime.arch;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The package rules of {@code docs/architecture.md}, checked on the runtime's main sources
 * (a plain source scan: imports and fully qualified names, comments removed).
 */
class ArchitectureTest {
    private static final Path SOURCES = Path.of("src/main/java/dev/manyfold/runtime");
    private static final Pattern REFERENCE = Pattern.compile("\\bdev\\.manyfold\\.runtime\\.([a-z0-9]+)\\.[A-Z]");

    /** Each main source file (relative path, e.g. {@code train/Trainer.java}) with its comments removed. */
    static Map<String, String> sources() {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> files = Files.walk(SOURCES)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                out.put(SOURCES.relativize(f).toString().replace('\\', '/'), withoutComments(Files.readString(f)));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        assertThat(out).as("runtime sources under " + SOURCES.toAbsolutePath()).hasSizeGreaterThan(50);
        return out;
    }

    static String withoutComments(String java) {
        return java.replaceAll("(?s)/\\*.*?\\*/", "").replaceAll("(?m)//.*$", "");
    }

    static String packageOf(String file) {
        return file.substring(0, file.indexOf('/'));
    }

    /** Which runtime packages each runtime package refers to (other than itself). */
    static Map<String, Set<String>> packageGraph() {
        Map<String, Set<String>> graph = new TreeMap<>();
        sources().forEach((file, text) -> {
            String from = packageOf(file);
            Set<String> to = graph.computeIfAbsent(from, k -> new TreeSet<>());
            Matcher m = REFERENCE.matcher(text);
            while (m.find()) {
                if (!m.group(1).equals(from)) {
                    to.add(m.group(1));
                }
            }
        });
        return graph;
    }

    /** Files of {@code from} that refer to package {@code to}. */
    static List<String> filesReferring(String from, String to) {
        List<String> out = new ArrayList<>();
        sources().forEach((file, text) -> {
            if (packageOf(file).equals(from) && Pattern.compile("\\bdev\\.manyfold\\.runtime\\." + to + "\\.[A-Z]").matcher(text).find()) {
                out.add(file);
            }
        });
        return out;
    }

    @Test
    void theDataPackageDoesNotDependOnTrainSoTheyFormNoCycle() {
        Map<String, Set<String>> graph = packageGraph();
        assertThat(graph.get("train")).as("train uses data (batches, data sources)").contains("data");
        assertThat(filesReferring("data", "train")).as("data files referring to train (a train <-> data cycle)").isEmpty();
        assertThat(reachable(graph, "data")).as("packages data reaches").doesNotContain("train");
    }

    @Test
    void theGenericTrainerAndModelCoreDoNotUsePyTorchEngineClasses() {
        Map<String, String> offenders = new LinkedHashMap<>();
        sources().forEach((file, text) -> {
            if ((file.startsWith("train/") || file.startsWith("model/") || file.startsWith("data/")) && text.contains("ai.djl.pytorch")) {
                offenders.put(file, "ai.djl.pytorch");
            }
        });
        assertThat(offenders).as("engine-specific classes belong in engine/ (PyTorchEngine)").isEmpty();
        assertThat(sources().get("engine/PyTorchEngine.java")).contains("ai.djl.pytorch.jni.JniUtils");
    }

    static Set<String> reachable(Map<String, Set<String>> graph, String start) {
        Set<String> seen = new TreeSet<>();
        List<String> todo = new ArrayList<>(List.of(start));
        while (!todo.isEmpty()) {
            String p = todo.remove(todo.size() - 1);
            for (String q : graph.getOrDefault(p, Set.of())) {
                if (seen.add(q)) {
                    todo.add(q);
                }
            }
        }
        return seen;
    }
}
