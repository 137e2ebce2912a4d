package dev.manyfold.runtime.hf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.Settings;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.decoder.InferenceSession;
import dev.manyfold.runtime.checkpoint.CheckpointException;
import dev.manyfold.runtime.checkpoint.DType;
import dev.manyfold.runtime.model.LlamaModel;
import dev.manyfold.runtime.model.ModelFactory;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HfImportTest {
    private static final int[] TOKENS = {3, 17, 250, 42, 9, 120, 77};

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

    static LlamaModel load(Path dir, NDManager manager) {
        Settings section = HfImport.resolve(Settings.of("model", Map.of("from", dir.toString())));
        LlamaModel model = (LlamaModel) ModelFactory.build(section, new ModelFactory.DataShape(0, 0, 0, -1, 0), 1, manager);
        HfWeights.open(dir).loadInto(model);
        return model;
    }

    private float[][] forward(LlamaModel model, int[] tokens) {
        try (NDManager m = manager.newSubManager()) {
            NDArray logits = model.forward(m.create(tokens).reshape(1, tokens.length), SubModel.FULL);
            float[] flat = logits.toFloatArray();
            int v = model.vocabularySize();
            float[][] out = new float[tokens.length][v];
            for (int p = 0; p < tokens.length; p++) {
                System.arraycopy(flat, p * v, out[p], 0, v);
            }
            return out;
        }
    }

    /** Logits of each position through the KV-cached inference session, one token at a time. */
    private float[][] session(LlamaModel model, int[] tokens) {
        float[][] out = new float[tokens.length][];
        try (NDManager m = manager.newSubManager(); InferenceSession s = model.open(m)) {
            for (int p = 0; p < tokens.length; p++) {
                try (NDManager step = m.newSubManager()) {
                    NDArray h = s.run(s.embed(new int[] {tokens[p]}, p, step), 0, model.layers(), p, step);
                    out[p] = s.logits(h, step).toFloatArray();
                }
            }
        }
        return out;
    }

    private static double maxDiff(float[][] a, double[][] b) {
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[i].length; j++) {
                max = Math.max(max, Math.abs(a[i][j] - b[i][j]));
            }
        }
        return max;
    }

    private static double maxDiff(float[][] a, float[][] b) {
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[i].length; j++) {
                max = Math.max(max, Math.abs(a[i][j] - b[i][j]));
            }
        }
        return max;
    }

    @Test
    void bf16ImportGivesTheHandComputedRotateHalfLogitsOfATwoLayerModelAndNotTheInterleavedOnes() {
        TinyHf hf = TinyHf.llama(DType.BF16, false);
        LlamaModel model = load(hf.write(tmp.resolve("llama"), 1), manager);

        float[][] logits = forward(model, TOKENS);

        assertThat(maxDiff(logits, ReferenceLlama.logits(hf, TOKENS, false))).isLessThan(1e-4);
        assertThat(maxDiff(logits, ReferenceLlama.logits(hf, TOKENS, true))).as("an interleaved-RoPE model must differ").isGreaterThan(1e-2);
        assertThat(maxDiff(session(model, TOKENS), ReferenceLlama.logits(hf, TOKENS, false))).isLessThan(1e-4);
    }

    @Test
    void qwen2QkvBiasesReachTheTrainingForwardAndTheInferenceSession() {
        TinyHf hf = new TinyHf("Qwen2ForCausalLM", 300, 16, 2, 4, 2, 4, 24, true, DType.F32, 5);
        LlamaModel model = load(hf.write(tmp.resolve("qwen"), 1), manager);
        double[][] reference = ReferenceLlama.logits(hf, TOKENS, false);

        assertThat(model.qkvBias()).isTrue();
        assertThat(maxDiff(forward(model, TOKENS), reference)).isLessThan(1e-4);
        assertThat(maxDiff(session(model, TOKENS), reference)).isLessThan(1e-4);
    }

    @Test
    void shardedTiedF32ImportEqualsTheSameWeightsLoadedNativelyByManyfoldName() {
        TinyHf hf = TinyHf.llama(DType.F32, true);
        LlamaModel imported = load(hf.write(tmp.resolve("sharded"), 3), manager);
        Map<String, Object> section = new LinkedHashMap<>(Map.of("family", "llama", "vocab", 300, "dim", 16, "layers", 2, "heads", 4,
                "kv-heads", 2, "head-dim", 4, "ffn", 24, "context", 32, "tied", true));
        section.put("norm-eps", 1e-6);
        LlamaModel nativeModel = (LlamaModel) ModelFactory.build(Settings.of("model", section), new ModelFactory.DataShape(0, 0, 0, -1, 0),
                99, manager);
        hf.values.forEach((name, v) -> nativeModel.parameters().assign(HfNames.toManyfold(name).orElseThrow(),
                manager.create(v, new ai.djl.ndarray.types.Shape(hf.shapes.get(name)))));

        assertThat(maxDiff(forward(imported, TOKENS), forward(nativeModel, TOKENS))).isLessThan(1e-5);
        assertThat(maxDiff(forward(imported, TOKENS), ReferenceLlama.logits(hf, TOKENS, false))).isLessThan(1e-4);
    }

    @Test
    void f16WeightsAreWidenedToF32() {
        TinyHf hf = TinyHf.llama(DType.F16, false);
        LlamaModel model = load(hf.write(tmp.resolve("f16"), 2), manager);

        assertThat(maxDiff(forward(model, TOKENS), ReferenceLlama.logits(hf, TOKENS, false))).isLessThan(1e-4);
    }

    @Test
    void halfPrecisionBitsWidenExactlyIncludingSubnormalsAndInfinities() {
        assertThat(HfWeights.halfToFloat((short) 0x3C00)).isEqualTo(1f);
        assertThat(HfWeights.halfToFloat((short) 0xC000)).isEqualTo(-2f);
        assertThat(HfWeights.halfToFloat((short) 0x0001)).isEqualTo(0x1p-24f);
        assertThat(HfWeights.halfToFloat((short) 0x83FF)).isEqualTo(-1023 * 0x1p-24f);
        assertThat(HfWeights.halfToFloat((short) 0x7BFF)).isEqualTo(65504f);
        assertThat(HfWeights.halfToFloat((short) 0xFC00)).isEqualTo(Float.NEGATIVE_INFINITY);
        assertThat(HfWeights.halfToFloat((short) 0x7E00)).isNaN();
    }

    @Test
    void configMapsContextCapEosListAndRefusesRopeScaling() {
        TinyHf hf = TinyHf.llama(DType.F32, false);
        Path dir = hf.write(tmp.resolve("cfg"), 1);
        HfConfig config = HfConfig.read(dir);
        assertThat(config.eos()).containsExactly(256, 257);
        assertThat(config.modelSection(16, Map.of())).containsEntry("context", 16).containsEntry("eos", 256).containsEntry("kv-heads", 2);

        Map<String, Object> mistral = new LinkedHashMap<>(hf.config());
        mistral.put("architectures", java.util.List.of("MistralForCausalLM"));
        mistral.put("sliding_window", 24);
        assertThat(HfConfig.read(hf.write(tmp.resolve("mistral"), 1, mistral, Map.of())).modelSection(2048, Map.of()))
                .containsEntry("context", 24);

        Map<String, Object> scaled = new LinkedHashMap<>(hf.config());
        scaled.put("rope_scaling", Map.of("rope_type", "llama3", "factor", 8.0));
        Path bad = hf.write(tmp.resolve("scaled"), 1, scaled, Map.of());
        assertThatThrownBy(() -> HfConfig.read(bad)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining(bad.resolve("config.json").toString()).hasMessageContaining("rope_scaling").hasMessageContaining("llama3");
    }

    @Test
    void badDirectoriesAreRefusedNamingTheFileAndTheKey() throws Exception {
        TinyHf hf = TinyHf.llama(DType.F32, false);

        Path noConfig = hf.write(tmp.resolve("no-config"), 1);
        java.nio.file.Files.delete(noConfig.resolve("config.json"));
        assertThatThrownBy(() -> HfConfig.read(noConfig)).hasMessageContaining(noConfig.resolve("config.json") + ": no such file");

        Map<String, Object> gpt = new LinkedHashMap<>(hf.config());
        gpt.put("architectures", java.util.List.of("GPT2LMHeadModel"));
        Path unknown = hf.write(tmp.resolve("gpt2"), 1, gpt, Map.of());
        assertThatThrownBy(() -> HfConfig.read(unknown)).hasMessageContaining("config.json: key architectures")
                .hasMessageContaining("GPT2LMHeadModel").hasMessageContaining("LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM");

        Path sharded = hf.write(tmp.resolve("missing-shard"), 2);
        java.nio.file.Files.delete(sharded.resolve("model-00002-of-00002.safetensors"));
        assertThatThrownBy(() -> HfWeights.open(sharded)).hasMessageContaining("model.safetensors.index.json: key weight_map.")
                .hasMessageContaining("model-00002-of-00002.safetensors");

        String q = "model.layers.1.self_attn.q_proj.weight";
        Path shape = hf.write(tmp.resolve("shape"), 1, hf.config(), Map.of(q, dev.manyfold.runtime.checkpoint.Tensor.of(q, DType.F32,
                new long[] {4, 16}, new byte[4 * 16 * 4])));
        assertThatThrownBy(() -> load(shape, manager)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining(shape.resolve("model.safetensors") + ": tensor " + q + " has shape [4, 16]")
                .hasMessageContaining("[16, 16]");

        String norm = "model.norm.weight";
        Path dtype = hf.write(tmp.resolve("dtype"), 1, hf.config(), Map.of(norm, hf.tensor(norm, DType.I8)));
        assertThatThrownBy(() -> load(dtype, manager)).hasMessageContaining(dtype.resolve("model.safetensors") + ": tensor " + norm
                + " has dtype I8").hasMessageContaining("F32, F16, BF16");

        String extra = "model.layers.0.self_attn.o_proj.bias";
        Path unused = hf.write(tmp.resolve("unused"), 1, hf.config(), Map.of(extra, dev.manyfold.runtime.checkpoint.Tensor.of(extra,
                DType.F32, new long[] {16}, new byte[64])));
        assertThatThrownBy(() -> load(unused, manager)).hasMessageContaining("tensor " + extra).hasMessageContaining("no counterpart");
    }

    @Test
    void theByteTokenizerFileEncodesLikeManyfoldsByteTokenizer() {
        HfTokenizerFiles.writeByteTokenizer(tmp, 64);
        String text = "Héllo, wörld!\n\tdone ✓";
        try (var hf = dev.manyfold.runtime.data.HuggingFaceTokenizer.load(tmp.resolve("tokenizer.json"))) {
            int[] ids = hf.encode(text);
            assertThat(ids).containsExactly(new dev.manyfold.runtime.data.ByteTokenizer().encode(text));
            assertThat(hf.decode(ids)).isEqualTo(text);
            assertThat(hf.eosToken()).isEqualTo(256);
            assertThat(hf.vocabularySize()).isEqualTo(257);
        }
    }
}
