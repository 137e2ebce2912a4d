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

    /** Packages that bridge one model family to an outside format or engine (LLaMA to Hugging Face, to ONNX graphs). */
    private static final Set<String> FAMILY_BRIDGES = Set.of("model", "hf", "onnx");
    /** The ONNX engine's entry points that still hand the LLaMA class to onnx/ (see docs/architecture.md). */
    private static final Set<String> LLAMA_ALLOWED = Set.of("cli/EngineChoice.java", "cli/OnnxExportCommand.java");

    @Test
    void hostCodeAsksTheModelForFamilyKnowledgeInsteadOfTestingForLlamaModel() {
        List<String> instanceofs = new ArrayList<>();
        List<String> mentions = new ArrayList<>();
        sources().forEach((file, text) -> {
            if (FAMILY_BRIDGES.contains(packageOf(file))) {
                return;
            }
            if (Pattern.compile("instanceof\\s+(dev\\.manyfold\\.runtime\\.model\\.)?LlamaModel\\b").matcher(text).find()
                    && !LLAMA_ALLOWED.contains(file)) {
                instanceofs.add(file);
            }
            if (Pattern.compile("\\bLlamaModel\\b").matcher(text).find()) {
                mentions.add(file);
            }
        });
        assertThat(instanceofs).as("host files testing instanceof LlamaModel (use Model.languageModel(), setExits, checkData, "
                + "initialisedFrom, attentionLayout)").isEmpty();
        assertThat(mentions).as("host files naming LlamaModel").isSubsetOf(LLAMA_ALLOWED);
        for (String host : List.of("job/TrainJob.java", "job/StagedJob.java", "cli/EvalCommand.java", "cli/BenchDecodeCommand.java")) {
            assertThat(sources().get(host)).as(host).isNotNull().doesNotContain("LlamaModel");
        }
    }

    @Test
    void tensorNamePrefixesAndLayerSiteNamesAreSpelledOnlyInTensorNames() {
        Pattern literal = Pattern.compile("\"(mask|adapters|optim|layers)\\.");
        Pattern attention = Pattern.compile("\"[^\"]*\\.attn\\.");
        Map<String, String> offenders = new TreeMap<>();
        sources().forEach((file, text) -> {
            if (file.equals("model/TensorNames.java")) {
                return;
            }
            Matcher m = literal.matcher(text);
            if (m.find()) {
                offenders.put(file, m.group());
            }
            Matcher a = attention.matcher(text);
            if (!FAMILY_BRIDGES.contains(packageOf(file)) && a.find()) {
                offenders.put(file, a.group());
            }
        });
        assertThat(offenders).as("tensor-name literals outside model/TensorNames (use TensorNames.mask, adapterPrefix, OPTIM_M, "
                + "layer, attention)").isEmpty();
        assertThat(sources().get("model/TensorNames.java")).contains("\"mask.\"", "\"adapters.\"", "\"optim.\"", "\"layers.\"");
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
