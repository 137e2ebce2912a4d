package dev.manyfold.runtime.onnx;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.decoder.InferenceSession;
import dev.manyfold.runtime.model.LlamaModel;
import dev.manyfold.runtime.model.ParameterStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The ONNX Runtime engine computes what the DJL session computes, call by call. */
class OrtEngineParityTest {
    /** GQA: 4 heads / 2 KV heads, exits 1, 2, 3. */
    static final LlamaModel.Config CONFIG = new LlamaModel.Config(41, 32, 3, 4, 2, 8, 48, 40, false, 10000, 1e-5, 40, List.of(),
            List.of());
    /** Per-layer heads 4, 2, 4 (a head-pruned layer). */
    static final LlamaModel.Config PRUNED = new LlamaModel.Config(41, 32, 3, 4, 4, 8, 48, 40, false, 10000, 1e-5, 40, List.of(),
            List.of(4, 2, 4));

    /** Qwen2-style q/k/v biases. */
    static final LlamaModel.Config BIASED = new LlamaModel.Config(41, 32, 3, 4, 2, 8, 48, 40, false, 10000, 1e-5, 40, List.of(),
            List.of(), true);

    @TempDir
    Path dir;

    static LlamaModel model(NDManager m) {
        return model(m, CONFIG);
    }

    static LlamaModel model(NDManager m, LlamaModel.Config config) {
        LlamaModel model = new LlamaModel(new ParameterStore(m, 11), config);
        // Larger weights than the init so logits are far from uniform and differences show.
        model.parameters().all().forEach((name, a) -> {
            if (name.endsWith(".bias")) {
                a.addi(m.randomUniform(-1f, 1f, a.getShape()));
            } else if (!name.contains("norm")) {
                a.muli(8);
            } else {
                a.addi(m.randomUniform(-0.5f, 0.5f, a.getShape()));
            }
        });
        model.setExits(List.of(1, 2, 3));
        return model;
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"gqa", "per-layer-heads", "qkv-bias"})
    void everyExitsLogitsMatchTheDjlSessionWithin1e4AtEveryPosition(String variant) throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = model(m, variant.equals("gqa") ? CONFIG : variant.equals("qkv-bias") ? BIASED : PRUNED);
            Path checkpoint = Files.writeString(dir.resolve("checkpoint-1.safetensors"), "stand-in");
            try (OrtLanguageModel ort = (OrtLanguageModel) Engines.on(model, checkpoint, "bytes", Engines.ONNXRUNTIME)) {
                int[] prompt = {3, 1, 4, 1, 5, 9, 2, 6};
                int[] next = {5, 3, 5, 8, 9, 7};
                for (int exit : model.exits()) {
                    try (NDManager s = m.newSubManager(); InferenceSession djl = model.open(s); InferenceSession onnx = ort.open(s)) {
                        // Prefill through the plain SPI on both, then steps through the fused call on ORT.
                        float[] a = last(djl, prompt, 0, exit, s);
                        float[] b = onnx.forward(prompt, 0, exit, s);
                        assertClose(a, b);
                        int pos = prompt.length;
                        for (int t : next) {
                            assertClose(last(djl, new int[] {t}, pos, exit, s), onnx.forward(new int[] {t}, pos, exit, s));
                            pos++;
                        }
                        assertThat(onnx.cachedLength(exit - 1)).isEqualTo(pos);
                    }
                }
            }
        }
    }

    @Test
    void plainSpiCallsCropAndVerificationMatchTheDjlSession() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = model(m);
            Path checkpoint = Files.writeString(dir.resolve("checkpoint-1.safetensors"), "stand-in");
            try (OrtLanguageModel ort = (OrtLanguageModel) Engines.on(model, checkpoint, "bytes", Engines.ONNXRUNTIME);
                    NDManager s = m.newSubManager(); InferenceSession djl = model.open(s); InferenceSession onnx = ort.open(s)) {
                int[] prompt = {7, 7, 2, 30, 1};
                NDArray hd = djl.run(djl.embed(prompt, 0, s), 0, 3, 0, s);
                NDArray ho = onnx.run(onnx.embed(prompt, 0, s), 0, 3, 0, s);
                assertClose(hd.toFloatArray(), ho.toFloatArray());
                assertClose(djl.logits(hd, s).toFloatArray(), onnx.logits(ho, s).toFloatArray());
                // Draft two tokens at exit 1 keeping hidden states, verify layers [1, 3) in one batch, crop, continue.
                InferenceSession.Forward d1 = onnx.forwardKeeping(new int[] {4}, 5, 1, true, s);
                InferenceSession.Forward d2 = onnx.forwardKeeping(new int[] {9}, 6, 1, true, s);
                NDArray h1 = djl.run(djl.embed(new int[] {4}, 5, s), 0, 1, 5, s);
                NDArray h2 = djl.run(djl.embed(new int[] {9}, 6, s), 0, 1, 6, s);
                assertClose(h1.toFloatArray(), d1.hidden().toFloatArray());
                assertClose(djl.logits(h2, s).toFloatArray(), d2.logits());
                NDArray batch = h1.concat(h2, 0);
                assertClose(djl.runLogits(batch, 1, 3, 5, s), onnx.runLogits(d1.hidden().concat(d2.hidden(), 0), 1, 3, 5, s));
                djl.crop(6);
                onnx.crop(6);
                assertThat(onnx.cachedLength(0)).isEqualTo(6);
                assertClose(djl.forward(new int[] {11}, 6, 3, s), onnx.forward(new int[] {11}, 6, 3, s));
                // Crop back and run one layer from the DJL session's hidden states (early exit's catch-up).
                djl.crop(5);
                onnx.crop(2, 5);
                NDArray c = djl.run(djl.embed(new int[] {9, 11}, 5, s), 0, 2, 5, s);
                assertClose(djl.run(c, 2, 3, 5, s).toFloatArray(), onnx.run(c, 2, 3, 5, s).toFloatArray());
            }
        }
    }

    @Test
    void aForkSharesTheCacheAndBothSessionsContinueIndependently() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = model(m);
            Path checkpoint = Files.writeString(dir.resolve("checkpoint-1.safetensors"), "stand-in");
            try (OrtLanguageModel ort = (OrtLanguageModel) Engines.on(model, checkpoint, "byte", Engines.ONNXRUNTIME);
                    NDManager s = m.newSubManager()) {
                int[] prompt = {3, 1, 4, 1, 5};
                float[] a;
                float[] b;
                try (OrtInferenceSession session = (OrtInferenceSession) ort.open(s)) {
                    session.forward(prompt, 0, 3, s);
                    try (OrtInferenceSession fork = session.fork()) {
                        a = session.forward(new int[] {9}, 5, 3, s);
                        fork.crop(4); // the fork drops a position; the original keeps it
                        b = fork.forward(new int[] {2, 6}, 4, 3, s);
                        assertThat(session.cachedLength(0)).isEqualTo(6);
                        assertThat(fork.cachedLength(0)).isEqualTo(6);
                    }
                    // The original still works after the fork is closed.
                    session.forward(new int[] {7}, 6, 3, s);
                }
                try (InferenceSession djl = model.open(s)) {
                    djl.forward(prompt, 0, 3, s);
                    assertClose(djl.forward(new int[] {9}, 5, 3, s), a);
                }
                try (InferenceSession djl = model.open(s)) {
                    djl.forward(new int[] {3, 1, 4, 1}, 0, 3, s);
                    assertClose(djl.forward(new int[] {2, 6}, 4, 3, s), b);
                }
            }
        }
    }

    private static float[] last(InferenceSession session, int[] tokens, int start, int exit, NDManager m) {
        NDArray h = session.run(session.embed(tokens, start, m), 0, exit, start, m);
        NDArray last = h.get((long) tokens.length - 1).reshape(1, -1);
        return session.logits(last, m).toFloatArray();
    }

    static void assertClose(float[] expected, float[] actual) {
        assertThat(actual).hasSameSizeAs(expected);
        float max = 0;
        for (int i = 0; i < expected.length; i++) {
            max = Math.max(max, Math.abs(expected[i] - actual[i]));
        }
        assertThat(max).as("max |DJL - ORT|").isLessThan(1e-4f);
    }
}
