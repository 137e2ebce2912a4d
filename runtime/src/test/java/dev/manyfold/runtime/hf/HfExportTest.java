package dev.manyfold.runtime.hf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.checkpoint.DType;
import dev.manyfold.runtime.data.ByteTokenizer;
import dev.manyfold.runtime.model.LlamaModel;
import dev.manyfold.runtime.model.ParameterStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HfExportTest {
    private static final int[] TOKENS = {3, 17, 250, 42, 9};

    @TempDir
    Path tmp;

    private NDManager manager;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    private static void assertBitIdentical(LlamaModel a, LlamaModel b) {
        assertThat(b.parameters().all().keySet()).isEqualTo(a.parameters().all().keySet());
        a.parameters().all().forEach((name, array) -> assertThat(b.parameters().get(name).toFloatArray()).as(name)
                .isEqualTo(array.toFloatArray()));
    }

    private float[] logits(LlamaModel model, SubModel sub) {
        try (NDManager m = manager.newSubManager()) {
            return model.forward(m.create(TOKENS).reshape(1, TOKENS.length), sub).toFloatArray();
        }
    }

    @Test
    void importExportImportIsBitIdenticalForBf16UntiedTiedAndQwen2() throws Exception {
        for (TinyHf hf : List.of(TinyHf.llama(DType.BF16, false), TinyHf.llama(DType.F32, true),
                new TinyHf("Qwen2ForCausalLM", 300, 16, 2, 4, 2, 4, 24, false, DType.BF16, 5))) {
            Path source = hf.write(tmp.resolve("src-" + hf.architecture + hf.tied), 2);
            LlamaModel first = HfImportTest.load(source, manager);
            Path out = tmp.resolve("out-" + hf.architecture + hf.tied);
            HfExport.write(first, SubModel.FULL, out, Optional.of(HfConfig.read(source)), Optional.of(new ByteTokenizer()));
            LlamaModel second = HfImportTest.load(out, manager);
            Path again = tmp.resolve("again-" + hf.architecture + hf.tied);
            HfExport.write(second, SubModel.FULL, again, Optional.of(HfConfig.read(out)), Optional.of(new ByteTokenizer()));

            assertBitIdentical(first, second);
            assertThat(Files.readAllBytes(again.resolve("model.safetensors"))).isEqualTo(Files.readAllBytes(out.resolve("model.safetensors")));
            JsonNode config = new ObjectMapper().readTree(out.resolve("config.json").toFile());
            assertThat(config.get("architectures").get(0).asText()).isEqualTo(hf.architecture);
            assertThat(config.get("eos_token_id").toString()).isEqualTo("[256,257]");
            assertThat(config.get("tie_word_embeddings").asBoolean()).isEqualTo(hf.tied);
            assertThat(HfWeights.open(out).names().contains("lm_head.weight")).isEqualTo(!hf.tied);
            assertThat(out.resolve("generation_config.json")).exists();
            assertThat(out.resolve("tokenizer.json")).exists();
        }
    }

    @Test
    void aBf16ExportOfABf16ImportGivesBackTheSourceBytes() throws Exception {
        TinyHf hf = TinyHf.llama(DType.BF16, false);
        LlamaModel model = HfImportTest.load(hf.write(tmp.resolve("src"), 1), manager);
        Path out = tmp.resolve("bf16");

        HfExport.write(model, SubModel.FULL, out, Optional.empty(), Optional.empty(), DType.BF16);

        HfWeights written = HfWeights.open(out);
        assertThat(written.names()).isEqualTo(hf.values.keySet());
        for (String name : hf.values.keySet()) {
            assertThat(written.tensor(name).dtype()).isEqualTo(DType.BF16);
            java.nio.ByteBuffer expected = hf.tensor(name).data();
            java.nio.ByteBuffer actual = written.tensor(name).data();
            assertThat(actual.equals(expected)).as(name).isTrue();
        }
        assertThat(new ObjectMapper().readTree(out.resolve("config.json").toFile()).get("torch_dtype").asText()).isEqualTo("bfloat16");
    }

    @Test
    void anExitsSubModelIsWrittenWithItsDepthAndBudgetsAndReimportsToTheSameLogits() throws Exception {
        TinyHf hf = TinyHf.llama(DType.F32, false);
        LlamaModel model = HfImportTest.load(hf.write(tmp.resolve("src"), 1), manager);
        SubModel exit1 = SubModel.of(Map.of("depth", 1, "ffn", 16, "heads", 2));
        Path out = tmp.resolve("exit1");

        HfExport.Written w = HfExport.write(model, exit1, out, Optional.empty(), Optional.empty());
        LlamaModel small = HfImportTest.load(out, manager);

        JsonNode config = new ObjectMapper().readTree(out.resolve("config.json").toFile());
        assertThat(config.get("num_hidden_layers").asInt()).isEqualTo(1);
        assertThat(config.get("intermediate_size").asInt()).isEqualTo(16);
        assertThat(config.get("num_attention_heads").asInt()).isEqualTo(2);
        assertThat(config.get("num_key_value_heads").asInt()).isEqualTo(1);
        assertThat(config.get("architectures").get(0).asText()).isEqualTo("LlamaForCausalLM");
        assertThat(w.parameters()).isEqualTo(small.totalParameters());
        float[] expected = logits(model, exit1);
        float[] actual = logits(small, SubModel.FULL);
        for (int i = 0; i < expected.length; i++) {
            assertThat(actual[i]).isCloseTo(expected[i], org.assertj.core.data.Offset.offset(1e-5f));
        }
    }

    @Test
    void headsPrunedPerLayerAreRefusedNamingTheSmallestUniformShape() {
        LlamaModel pruned = new LlamaModel(new ParameterStore(manager, 3), new LlamaModel.Config(37, 32, 3, 4, 4, 8, 48, 24, false, 10000,
                1e-5, 36, List.of(), List.of(4, 2, 3)));

        assertThatThrownBy(() -> HfExport.write(pruned, SubModel.FULL, tmp.resolve("x"), Optional.empty(), Optional.empty()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[4, 2, 3]").hasMessageContaining("--sub-model heads=2");
    }
}
