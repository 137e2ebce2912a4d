package dev.manyfold.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.manyfold.runtime.checkpoint.Checkpoint;
import dev.manyfold.runtime.checkpoint.SafeTensors;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Hugging Face pipeline of {@code examples/hf/} through the bundle, a few steps per stage:
 * pretrain → {@code export --format hf} → SoFT on the instruction JSONL from
 * {@code model: { from }} → exit-2 sub-model exported as its own HF directory; every exported
 * directory generates what the run it came from generates.
 */
class HuggingFaceCliTest {
    private static final Path EXAMPLES = Path.of(System.getProperty("manyfold.examples", "../examples")).resolve("hf");

    @TempDir
    static Path dir;

    static Path pretrain;
    static Path baseHf;
    static Path soft;
    static Path exit2Hf;
    static Cli.Result softResult;

    private static Path recipe(String name, String... replacements) throws IOException {
        String text = Files.readString(EXAMPLES.resolve(name));
        for (int i = 0; i < replacements.length; i += 2) {
            assertThat(text).contains(replacements[i]);
            text = text.replace(replacements[i], replacements[i + 1]);
        }
        return Files.writeString(dir.resolve(name), text);
    }

    private static Cli.Result ok(String... args) {
        Cli.Result r = Cli.run(args);
        assertThat(r.exit()).as(r.describe()).isZero();
        return r;
    }

    @BeforeAll
    static void pipeline() throws IOException {
        pretrain = dir.resolve("pretrain");
        baseHf = dir.resolve("base-hf");
        soft = dir.resolve("soft");
        exit2Hf = dir.resolve("exit2-hf");
        ok("train", recipe("pretrain.yaml", "dim: 128", "dim: 32", "ffn: 352", "ffn: 64", "steps: 300", "steps: 6", "warmup: 30",
                "warmup: 1", "eval-every: 150", "eval-every: 6", "context: 192", "context: 64, limit: 300").toString(), "--run-dir",
                pretrain.toString());
        ok("export", pretrain.toString(), "--format", "hf", "-o", baseHf.toString());
        softResult = ok("train", recipe("soft.yaml", "runs/hf/base-hf", baseHf.toString(), "examples/hf/", EXAMPLES + "/", "steps: 150",
                "steps: 4", "warmup: 15", "warmup: 1", "eval-every: 75", "eval-every: 4", "context: 192", "context: 64, limit: 120")
                .toString(), "--run-dir", soft.toString());
        ok("export", soft.toString(), "--format", "hf", "--exit", "2", "-o", exit2Hf.toString());
    }

    /** The generated text: everything before the blank line that precedes the statistics. */
    private static String text(Cli.Result r) {
        return r.out().substring(0, r.out().indexOf("\n\ndecoder "));
    }

    @Test
    void anExportedDirectoryGeneratesWhatItsRunGenerates() throws IOException {
        String run = text(ok("generate", pretrain.toString(), "--prompt", "The computer", "--max-new-tokens", "24"));
        String hf = text(ok("generate", baseHf.toString(), "--prompt", "The computer", "--max-new-tokens", "24"));

        assertThat(hf).isEqualTo(run).startsWith("The computer");
        JsonNode config = new ObjectMapper().readTree(baseHf.resolve("config.json").toFile());
        assertThat(config.get("architectures").get(0).asText()).isEqualTo("LlamaForCausalLM");
        assertThat(config.get("num_key_value_heads").asInt()).isEqualTo(2);
        assertThat(baseHf.resolve("tokenizer.json")).exists();
        assertThat(baseHf.resolve("generation_config.json")).exists();
    }

    @Test
    void soft_tunesFromTheImportedDirectoryOnInstructionsAndItsExit2IsAStandaloneHfModel() throws IOException {
        assertThat(softResult.out()).contains("imported 39 tensors from " + baseHf).contains("instructions ")
                .contains("validation examples").contains("objective all-exits");
        JsonNode config = new ObjectMapper().readTree(exit2Hf.resolve("config.json").toFile());
        assertThat(config.get("num_hidden_layers").asInt()).isEqualTo(2);

        String prompt = "Q: What is a bug?\nA: ";
        String run = text(ok("generate", soft.toString(), "--set", "exit=2", "--prompt", prompt, "--max-new-tokens", "16"));
        String hf = text(ok("generate", exit2Hf.toString(), "--prompt", prompt, "--max-new-tokens", "16"));
        assertThat(hf).isEqualTo(run);
        Cli.Result eval = ok("eval", exit2Hf.toString(), "--out", dir.resolve("eval-exit2").toString());
        assertThat(eval.out()).contains("full ");
    }

    @Test
    void aLoraRunOnAnImportedModelExportsAPeftAdapterThatReproducesTheMergedWeights() throws IOException {
        Path recipe = Files.writeString(dir.resolve("lora.yaml"), "name: lora\nmodel: { from: " + baseHf + " }\n"
                + "data: { type: instructions, path: " + EXAMPLES.resolve("fortunes-instructions.jsonl") + ", template: \"custom Q: {instruction}\\nA: \", context: 64,"
                + " limit: 40 }\nadapters: [ { type: lora, rank: 2, alpha: 4 } ]\n"
                + "train: { steps: 3, batch: 2, lr: 1e-2, seed: 3, trainable: [\"adapters.**\"] }\n");
        Path run = dir.resolve("lora");
        ok("train", recipe.toString(), "--run-dir", run.toString());
        Path peft = dir.resolve("peft");
        Path merged = dir.resolve("merged-hf");
        Cli.Result r = ok("export", run.toString(), "--format", "peft", "-o", peft.toString());
        ok("export", run.toString(), "--format", "hf", "-o", merged.toString());

        assertThat(r.out()).contains("r 2, lora_alpha 4.0").contains("[q_proj, v_proj]");
        JsonNode config = new ObjectMapper().readTree(peft.resolve("adapter_config.json").toFile());
        assertThat(config.get("peft_type").asText()).isEqualTo("LORA");
        assertThat(config.get("base_model_name_or_path").asText()).isEqualTo(baseHf.toString());
        Checkpoint adapter = SafeTensors.read(peft.resolve("adapter_model.safetensors"));
        String module = "base_model.model.model.layers.1.self_attn.q_proj";
        float[] a = floats(adapter, module + ".lora_A.weight");
        float[] b = floats(adapter, module + ".lora_B.weight");
        assertThat(adapter.tensor(module + ".lora_A.weight").shape()).containsExactly(2, 32);
        assertThat(adapter.tensor(module + ".lora_B.weight").shape()).containsExactly(32, 2);
        float[] w0 = floats(SafeTensors.read(baseHf.resolve("model.safetensors")), "model.layers.1.self_attn.q_proj.weight");
        float[] w = floats(SafeTensors.read(merged.resolve("model.safetensors")), "model.layers.1.self_attn.q_proj.weight");
        double changed = 0;
        for (int o = 0; o < 32; o++) {
            for (int i = 0; i < 32; i++) {
                double delta = 0;
                for (int k = 0; k < 2; k++) {
                    delta += b[o * 2 + k] * a[k * 32 + i];
                }
                assertThat((double) w[o * 32 + i]).isCloseTo(w0[o * 32 + i] + 4.0 / 2 * delta, org.assertj.core.data.Offset.offset(1e-5));
                changed = Math.max(changed, Math.abs(delta));
            }
        }
        assertThat(changed).as("three steps moved the adapter").isGreaterThan(0);
    }

    @Test
    void badDirectoriesExitWith2NamingTheFileAndTheKey() throws IOException {
        Path gpt2 = Files.createDirectories(dir.resolve("gpt2"));
        Files.writeString(gpt2.resolve("config.json"), "{\"architectures\": [\"GPT2LMHeadModel\"], \"hidden_size\": 8}");
        Cli.Result r = Cli.run("generate", gpt2.toString(), "--prompt", "x");
        assertThat(r.exit()).as(r.describe()).isEqualTo(2);
        assertThat(r.err()).contains(gpt2.resolve("config.json") + ": key architectures").contains("GPT2LMHeadModel")
                .doesNotContain("Exception");

        Path sharded = Files.createDirectories(dir.resolve("sharded"));
        Files.copy(baseHf.resolve("config.json"), sharded.resolve("config.json"));
        Files.copy(baseHf.resolve("tokenizer.json"), sharded.resolve("tokenizer.json"));
        Files.writeString(sharded.resolve("model.safetensors.index.json"),
                "{\"weight_map\": {\"model.norm.weight\": \"model-00001-of-00002.safetensors\"}}");
        Cli.Result missing = Cli.run("export", sharded.toString(), "--format", "hf", "-o", dir.resolve("never").toString());
        assertThat(missing.exit()).as(missing.describe()).isEqualTo(2);
        assertThat(missing.err()).contains("model.safetensors.index.json: key weight_map.model.norm.weight")
                .contains("model-00001-of-00002.safetensors");
    }

    private static float[] floats(Checkpoint c, String name) {
        ByteBuffer data = c.tensor(name).data();
        float[] out = new float[data.remaining() / 4];
        data.asFloatBuffer().get(out);
        return out;
    }
}
