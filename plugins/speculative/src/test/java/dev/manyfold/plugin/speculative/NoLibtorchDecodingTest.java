package dev.manyfold.plugin.speculative;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.decoder.LanguageModel;
import dev.manyfold.runtime.onnx.Engines;
import dev.manyfold.runtime.onnx.GraphKey;
import dev.manyfold.runtime.onnx.OnnxExport;
import dev.manyfold.runtime.onnx.OrtLanguageModel;
import dev.manyfold.testkit.TinyLanguageModel;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An embedder that only decodes needs no libtorch: the greedy decoder runs on an ONNX export
 * in a forked JVM whose class path has no DJL PyTorch jar (DJL's NDManager there comes from
 * DJL's ONNX Runtime engine; the ORT session never creates an NDArray on the fused path).
 */
class NoLibtorchDecodingTest {
    @TempDir
    Path dir;

    @Test
    void greedyOnAnOnnxExportInAJvmWithoutDjlsPytorchEngineDecodesWhatDjlDecodes() throws Exception {
        List<int[]> prompts = TinyLanguageModel.prompts(6, 31, 2, 10);
        List<String> expected = new ArrayList<>();
        Path export = dir.resolve("export");
        try (TinyLanguageModel tiny = new TinyLanguageModel(Decoders.LAYERS, 5)) {
            Decoder greedy = Decoders.create(tiny, "greedy", Map.of());
            LanguageModel djl = tiny.withEos(-1);
            for (int[] p : prompts) {
                expected.add(Arrays.toString(greedy.generate(djl, p, 20, t -> { }).tokens()));
            }
            dev.manyfold.runtime.onnx.LlamaGraphs graphs = OnnxExport.graphs(tiny.llama(), "byte", "test");
            OnnxExport.write(graphs, OnnxExport.standardKeys(tiny.llama().layers(), tiny.llama().exits(), null), export);
        }
        String classPath = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(e -> !e.contains("pytorch")).collect(Collectors.joining(File.pathSeparator));
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp", classPath,
                "-Dai.djl.offline=true", "-Dai.djl.default_engine=OnnxRuntime", Child.class.getName(), export.toString()));
        for (int[] p : prompts) {
            command.add(Arrays.stream(p).mapToObj(String::valueOf).collect(Collectors.joining(",")));
        }
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        assertThat(process.waitFor(120, TimeUnit.SECONDS)).as("child finished").isTrue();
        String out = new String(process.getInputStream().readAllBytes());
        assertThat(process.exitValue()).as(out).isZero();
        assertThat(out).as(out).contains("pytorch engine class: absent").contains("djl engine: OnnxRuntime");
        List<String> lines = out.lines().filter(l -> l.startsWith("[")).toList();
        assertThat(lines).as(out).containsExactlyElementsOf(expected);
    }

    /** The forked JVM: greedy on the export for each prompt, one line of tokens each. */
    public static final class Child {
        public static void main(String[] args) throws Exception {
            try {
                Class.forName("ai.djl.pytorch.engine.PtEngine");
                System.out.println("pytorch engine class: present");
            } catch (ClassNotFoundException e) {
                System.out.println("pytorch engine class: absent");
            }
            System.out.println("djl engine: " + Engine.getInstance().getEngineName());
            Decoder greedy = Decoders.create("greedy", Map.of(), dev.manyfold.testkit.TestingContext.validating());
            try (OrtLanguageModel model = Engines.open(Path.of(args[0]))) {
                for (int i = 1; i < args.length; i++) {
                    int[] prompt = Arrays.stream(args[i].split(",")).mapToInt(Integer::parseInt).toArray();
                    System.out.println(Arrays.toString(greedy.generate(model, prompt, 20, t -> { }).tokens()));
                }
                System.out.println("graphs loaded: " + model.loadedKeys().stream().map(GraphKey::fileName).toList());
            }
        }
    }
}
