package dev.manyfold.runtime.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import ai.djl.ndarray.NDManager;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.model.LlamaModel;
import dev.manyfold.runtime.model.MlpModel;
import dev.manyfold.runtime.model.ParameterStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading an export refuses files that are not one, naming the file and what is missing. */
class OnnxBadInputTest {
    @TempDir
    static Path dir;
    static Path export;

    @BeforeAll
    static void exportTinyModel() {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = OrtEngineParityTest.model(m);
            LlamaGraphs graphs = OnnxExport.graphs(model, "byte", "test");
            export = dir.resolve("export");
            OnnxExport.write(graphs, OnnxExport.standardKeys(model.layers(), model.exits(), null), export);
        }
    }

    private static Path copy(String name) throws Exception {
        Path to = dir.resolve(name);
        Files.createDirectories(to);
        try (var files = Files.list(export)) {
            for (Path f : files.toList()) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
        return to;
    }

    @Test
    void anExportLoadsAndDescribesItselfInMetadataProps() {
        try (OrtLanguageModel model = Engines.open(export)) {
            assertThat(model.layers()).isEqualTo(3);
            assertThat(model.exits()).containsExactly(1, 2, 3);
            assertThat(model.metadata()).containsEntry(OnnxExport.META_FORMAT, OnnxExport.FORMAT_LLAMA)
                    .containsEntry(OnnxExport.META_TOKENIZER, "byte").containsKeys(OnnxExport.META_CONFIG, OnnxExport.META_VERSION);
        }
    }

    @Test
    void anOnnxModelThatIsNotAManyfoldLanguageModelIsRefusedNamingTheFileAndTheMissingMetadata() throws Exception {
        Path other = Files.createDirectories(dir.resolve("other"));
        try (NDManager m = NDManager.newBaseManager()) {
            Files.write(other.resolve("model.onnx"), ClassifierGraphs.build(new MlpModel(new ParameterStore(m, 1), 4, 8, 1, 3),
                    SubModel.FULL, "test"));
        }
        Files.write(other.resolve("plain.onnx"), plainIdentityModel());
        ConfigException e = catchThrowableOfType(() -> Engines.open(other.resolve("plain.onnx")), ConfigException.class);
        assertThat(e.getMessage()).contains(other.resolve("plain.onnx").toString()).contains("not a Manyfold language-model export")
                .contains(OnnxExport.META_FORMAT);
        e = catchThrowableOfType(() -> Engines.open(other.resolve("model.onnx")), ConfigException.class);
        assertThat(e.getMessage()).contains("model.onnx").contains("(it has " + OnnxExport.FORMAT_CLASSIFIER + ")");
    }

    @Test
    void aTruncatedFileIsRefusedNamingIt() throws Exception {
        Path broken = copy("truncated");
        Path file; // the first file read: the first .onnx file by name
        try (var files = Files.list(broken)) {
            file = files.filter(f -> f.getFileName().toString().endsWith(".onnx")).sorted().findFirst().orElseThrow();
        }
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, Arrays.copyOf(bytes, bytes.length / 2));
        ConfigException e = catchThrowableOfType(() -> Engines.open(broken), ConfigException.class);
        assertThat(e.getMessage()).contains(file.toString()).contains("not a loadable ONNX model");
    }

    @Test
    void aGraphWithTheWrongInputsIsRefusedNamingTheMissingInputs() throws Exception {
        Path wrong = copy("wrong-inputs");
        GraphKey full = new GraphKey(0, 3, true, true, true, true);
        Files.copy(wrong.resolve(new GraphKey(0, 1, true, true, true, true).fileName()), wrong.resolve(full.fileName()),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        ConfigException e = catchThrowableOfType(() -> Engines.open(wrong), ConfigException.class);
        assertThat(e.getMessage()).contains(wrong.resolve(full.fileName()).toString())
                .contains("lacks inputs [past_key_1, past_key_2, past_value_1, past_value_2]");
    }

    @Test
    void aMissingDecodeGraphIsRefusedNamingTheFile() throws Exception {
        Path missing = copy("missing");
        GraphKey full = new GraphKey(0, 3, true, true, true, true);
        Files.delete(missing.resolve(full.fileName()));
        ConfigException e = catchThrowableOfType(() -> Engines.open(missing), ConfigException.class);
        assertThat(e.getMessage()).contains(missing.resolve(full.fileName()).toString()).contains("missing");
    }

    /** A valid ONNX model without Manyfold metadata: y = Identity(x). */
    private static byte[] plainIdentityModel() {
        OnnxGraph g = new OnnxGraph("plain");
        g.opTo("y", "Identity", List.of(), g.input("x", OnnxGraph.FLOAT, 2L));
        g.output("y", OnnxGraph.FLOAT, 2L);
        return g.toModel(Map.of());
    }
}
