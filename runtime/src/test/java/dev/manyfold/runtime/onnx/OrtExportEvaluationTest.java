package dev.manyfold.runtime.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import dev.manyfold.api.decoder.InferenceSession;
import dev.manyfold.runtime.model.LlamaModel;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code eval EXPORT --text FILE}: every exit's loss on an export equals the loss from the DJL model's logits. */
class OrtExportEvaluationTest {
    @TempDir
    Path dir;

    @Test
    void everyExitsLossAndAccuracyOnAnExportMatchTheDjlModelsOnTheSameWindows() {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = OrtEngineParityTest.model(m);
            Path export = dir.resolve("export");
            OnnxExport.write(OnnxExport.graphs(model, "byte", "test"), OnnxExport.standardKeys(model.layers(), model.exits(), null), export);
            int[] text = new int[90];
            for (int i = 0; i < text.length; i++) {
                text[i] = (i * 37 + i / 5) % model.vocabularySize();
            }
            int window = 24;
            int windows = 3;
            List<OrtEvaluator.ExitScore> scores;
            try (OrtLanguageModel ort = Engines.open(export)) {
                scores = OrtEvaluator.evaluateText(ort, text, window, windows);
            }
            assertThat(scores).extracting(OrtEvaluator.ExitScore::exit).containsExactlyElementsOf(model.exits());
            for (OrtEvaluator.ExitScore score : scores) {
                double loss = 0;
                long correct = 0;
                for (int w = 0; w < windows; w++) {
                    int start = w * (text.length - window - 1) / (windows - 1);
                    int[] input = java.util.Arrays.copyOfRange(text, start, start + window);
                    try (NDManager step = m.newSubManager(); InferenceSession s = model.open(step)) {
                        // All positions' logits at this exit from the DJL session.
                        float[] logits = s.logits(s.run(s.embed(input, 0, step), 0, score.exit(), 0, step), step).toFloatArray();
                        int v = model.vocabularySize();
                        for (int i = 0; i < window; i++) {
                            int label = text[start + i + 1];
                            double max = Double.NEGATIVE_INFINITY;
                            int best = 0;
                            for (int c = 0; c < v; c++) {
                                max = Math.max(max, logits[i * v + c]);
                                best = logits[i * v + c] > logits[i * v + best] ? c : best;
                            }
                            double sum = 0;
                            for (int c = 0; c < v; c++) {
                                sum += Math.exp(logits[i * v + c] - max);
                            }
                            loss += Math.log(sum) + max - logits[i * v + label];
                            correct += best == label ? 1 : 0;
                        }
                    }
                }
                assertThat(score.positions()).isEqualTo((long) window * windows);
                assertThat(score.loss()).as("exit %d", score.exit()).isCloseTo(loss / (window * windows), within(1e-4));
                assertThat(score.accuracy()).as("exit %d", score.exit()).isCloseTo((double) correct / (window * windows), within(1e-9));
            }
        }
    }
}
