package dev.manyfold.runtime.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import dev.manyfold.api.decoder.InferenceSession;
import dev.manyfold.runtime.model.LlamaModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Batched decode steps on ONNX Runtime give each row what its session alone gives. */
class OrtBatchedDecodeTest {
    private static final int[][] PROMPTS = {{3, 1, 4, 1, 5, 9, 2, 6}, {7, 7}, {2, 7, 1, 8, 2, 8, 1, 8, 2, 8, 4, 5, 9}, {11}};
    private static final int STEPS = 6;

    @TempDir
    Path dir;

    private static int argmax(float[] logits) {
        int best = 0;
        for (int v = 1; v < logits.length; v++) {
            best = logits[v] > logits[best] ? v : best;
        }
        return best;
    }

    /** Greedy tokens of one prompt decoded alone at {@code exit}, and the logits of every step. */
    private static List<float[]> alone(OrtLanguageModel ort, int[] prompt, int exit, NDManager m) {
        List<float[]> out = new ArrayList<>();
        try (InferenceSession s = ort.open(m)) {
            float[] logits = s.forward(prompt, 0, exit, m);
            out.add(logits);
            for (int i = 0; i < STEPS; i++) {
                logits = s.forward(new int[] {argmax(logits)}, prompt.length + i, exit, m);
                out.add(logits);
            }
        }
        return out;
    }

    private OrtLanguageModel ort(NDManager m) throws Exception {
        LlamaModel model = OrtEngineParityTest.model(m);
        Path checkpoint = Files.writeString(dir.resolve("checkpoint-1.safetensors"), "stand-in");
        return (OrtLanguageModel) Engines.on(model, checkpoint, "bytes", Engines.ONNXRUNTIME);
    }

    @Test
    void rowsOfDifferentLengthsJoiningLeavingAndReorderedGiveTheTokensAndLogitsOfUnbatchedSessionsAtEveryExit() throws Exception {
        try (NDManager m = NDManager.newBaseManager(); OrtLanguageModel ort = ort(m)) {
            assertThat(ort.canBatch()).isTrue();
            for (int exit : ort.exits()) {
                List<List<float[]>> expected = new ArrayList<>();
                for (int[] p : PROMPTS) {
                    expected.add(alone(ort, p, exit, m));
                }
                InferenceSession[] sessions = new InferenceSession[PROMPTS.length];
                float[][] last = new float[PROMPTS.length][];
                int[] done = new int[PROMPTS.length];
                List<float[]>[] got = new List[PROMPTS.length];
                try {
                    for (int iteration = 0; ; iteration++) {
                        // Row r joins at iteration r (after its prefill alone); rows leave when done.
                        if (iteration < PROMPTS.length) {
                            sessions[iteration] = ort.open(m);
                            last[iteration] = sessions[iteration].forward(PROMPTS[iteration], 0, exit, m);
                            got[iteration] = new ArrayList<>(List.of(last[iteration]));
                        }
                        List<Integer> rows = new ArrayList<>();
                        for (int r = 0; r < PROMPTS.length; r++) {
                            if (sessions[r] != null && done[r] < STEPS) {
                                rows.add(r);
                            }
                        }
                        if (rows.isEmpty()) {
                            break;
                        }
                        if (iteration % 2 == 1) {
                            java.util.Collections.reverse(rows); // rows in any order
                        }
                        List<InferenceSession> batch = new ArrayList<>();
                        int[] tokens = new int[rows.size()];
                        int[] starts = new int[rows.size()];
                        for (int i = 0; i < rows.size(); i++) {
                            int r = rows.get(i);
                            batch.add(sessions[r]);
                            tokens[i] = argmax(last[r]);
                            starts[i] = PROMPTS[r].length + done[r];
                        }
                        float[][] logits = ort.forwardBatch(batch, tokens, starts, exit, m);
                        for (int i = 0; i < rows.size(); i++) {
                            int r = rows.get(i);
                            last[r] = logits[i];
                            got[r].add(logits[i]);
                            done[r]++;
                            if (done[r] == STEPS) {
                                assertThat(sessions[r].cachedLength(exit - 1)).isEqualTo(PROMPTS[r].length + STEPS);
                                sessions[r].close(); // leaves
                            }
                        }
                    }
                } finally {
                    for (InferenceSession s : sessions) {
                        if (s != null) {
                            s.close();
                        }
                    }
                }
                for (int r = 0; r < PROMPTS.length; r++) {
                    assertThat(got[r]).hasSameSizeAs(expected.get(r));
                    for (int i = 0; i < got[r].size(); i++) {
                        assertThat(argmax(got[r].get(i))).as("exit %d row %d step %d", exit, r, i).isEqualTo(argmax(expected.get(r).get(i)));
                        float[] a = expected.get(r).get(i);
                        float[] b = got[r].get(i);
                        for (int v = 0; v < a.length; v++) {
                            assertThat(b[v]).as("exit %d row %d step %d logit %d", exit, r, i, v)
                                    .isCloseTo(a[v], org.assertj.core.data.Offset.offset(1e-4f * Math.max(1, Math.abs(a[v]))));
                        }
                    }
                }
            }
        }
    }

    @Test
    void aSessionContinuesAloneAfterBatchedStepsAndAStepAtTheWrongPositionIsRefused() throws Exception {
        try (NDManager m = NDManager.newBaseManager(); OrtLanguageModel ort = ort(m)) {
            int exit = ort.layers();
            List<float[]> expected = alone(ort, PROMPTS[0], exit, m);
            try (InferenceSession s = ort.open(m); InferenceSession other = ort.open(m)) {
                float[] logits = s.forward(PROMPTS[0], 0, exit, m);
                other.forward(PROMPTS[1], 0, exit, m);
                int pos = PROMPTS[0].length;
                for (int i = 0; i < 2; i++) {
                    logits = ort.forwardBatch(List.of(other, s), new int[] {1, argmax(logits)}, new int[] {PROMPTS[1].length + i, pos}, exit, m)[1];
                    pos++;
                }
                logits = s.forward(new int[] {argmax(logits)}, pos, exit, m); // alone again: its batch row is stale now
                pos++;
                assertThat(argmax(logits)).isEqualTo(argmax(expected.get(3)));
                logits = ort.forwardBatch(List.of(s, other), new int[] {argmax(logits), 2}, new int[] {pos, PROMPTS[1].length + 2}, exit, m)[0];
                assertThat(argmax(logits)).isEqualTo(argmax(expected.get(4)));
                for (int v = 0; v < logits.length; v++) {
                    assertThat(logits[v]).isCloseTo(expected.get(4)[v], org.assertj.core.data.Offset.offset(1e-4f * Math.max(1, Math.abs(expected.get(4)[v]))));
                }
                int at = pos + 5;
                assertThatThrownBy(() -> ort.forwardBatch(List.of(s), new int[] {1}, new int[] {at}, exit, m))
                        .isInstanceOf(IllegalStateException.class).hasMessageContaining("caches " + (at - 4) + " positions, expected " + at);
            }
        }
    }
}
