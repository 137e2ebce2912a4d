package dev.manyfold.runtime.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.model.LlamaModel;
import dev.manyfold.runtime.model.Model;
import dev.manyfold.runtime.train.Evaluator;
import dev.manyfold.runtime.data.HostBatch;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.Map;

/**
 * {@code eval --engine onnxruntime}: mean loss and top-1 accuracy of a sub-model computed on
 * ONNX Runtime from its exported graph (MLP/CNN: the sub-model's graph; LLaMA: the prefill
 * graph of a depth exit), the same metrics as {@link Evaluator}.
 */
public final class OrtEvaluator implements AutoCloseable {
    private final Model model;
    private final OrtLanguageModel language;
    private final String source;

    /** {@code language}: the model on ONNX Runtime when it is a LLaMA (see {@link Engines#on}), else null. */
    public OrtEvaluator(Model model, OrtLanguageModel language, String source) {
        this.model = model;
        this.language = language;
        this.source = source;
    }

    public Evaluator.Result evaluate(List<HostBatch> batches, SubModel sub) {
        double lossSum = 0;
        long correct = 0;
        long count = 0;
        if (model instanceof LlamaModel llama) {
            if (!sub.budgets().keySet().stream().allMatch(Model.DEPTH::equals)) {
                throw new IllegalArgumentException("--engine onnxruntime evaluates depth exits of a language model; sub-model " + sub
                        + " also narrows " + sub.budgets().keySet() + " (use --engine pytorch)");
            }
            int depth = sub.budgetOr(Model.DEPTH, llama.layers());
            for (HostBatch b : batches) {
                int rows = (int) b.inputShape()[0];
                int t = (int) b.inputShape()[1];
                for (int r = 0; r < rows; r++) {
                    int[] tokens = java.util.Arrays.copyOfRange(b.tokens(), r * t, (r + 1) * t);
                    float[] logits;
                    try (OrtInferenceSession s = (OrtInferenceSession) language.open(null)) {
                        logits = s.prefillLogits(tokens, depth);
                    }
                    for (int i = 0; i < t; i++) {
                        int label = b.labels()[r * t + i];
                        lossSum += crossEntropy(logits, i, llama.vocabularySize(), label);
                        correct += argmax(logits, i, llama.vocabularySize()) == label ? 1 : 0;
                        count++;
                    }
                }
            }
        } else {
            OrtEnvironment env = OrtEnvironment.getEnvironment();
            try (OrtSession.SessionOptions o = OrtLanguageModel.options(1);
                    OrtSession session = env.createSession(ClassifierGraphs.build(model, sub, source), o)) {
                for (HostBatch b : batches) {
                    int rows = (int) b.inputShape()[0];
                    int features = b.features().length / rows;
                    try (OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(b.features()), new long[] {rows, features});
                            OrtSession.Result r = session.run(Map.of("input", in))) {
                        FloatBuffer fb = ((OnnxTensor) r.get("logits").orElseThrow()).getFloatBuffer();
                        float[] logits = new float[fb.remaining()];
                        fb.get(logits);
                        int classes = logits.length / rows;
                        for (int i = 0; i < rows; i++) {
                            lossSum += crossEntropy(logits, i, classes, b.labels()[i]);
                            correct += argmax(logits, i, classes) == b.labels()[i] ? 1 : 0;
                            count++;
                        }
                    }
                }
            } catch (OrtException e) {
                throw new IllegalStateException("ONNX Runtime failed on " + model.family() + " " + sub + ": " + e.getMessage(), e);
            }
        }
        return new Evaluator.Result(sub, lossSum / count, (double) correct / count, model.parameterCount(sub), model.flops(sub));
    }

    /** Mean next-token loss and top-1 accuracy of one exit over some text. */
    public record ExitScore(int exit, double loss, double accuracy, long positions) {}

    /**
     * An export evaluated without a run: every trained exit of {@code language}, teacher-forced
     * on {@code windows} evenly spaced windows of {@code window + 1} tokens of {@code tokens}
     * (each predicts its last {@code window} tokens), from the prefill graphs.
     */
    public static List<ExitScore> evaluateText(OrtLanguageModel language, int[] tokens, int window, int windows) {
        int span = window + 1;
        if (tokens.length < span) {
            throw new IllegalArgumentException("the text has " + tokens.length + " tokens, fewer than one window of " + span);
        }
        List<ExitScore> out = new java.util.ArrayList<>();
        for (int exit : language.exits()) {
            double lossSum = 0;
            long correct = 0;
            long count = 0;
            for (int w = 0; w < windows; w++) {
                int start = (int) ((long) w * (tokens.length - span) / Math.max(1, windows - 1));
                int[] input = java.util.Arrays.copyOfRange(tokens, start, start + window);
                float[] logits;
                try (OrtInferenceSession s = (OrtInferenceSession) language.open(null)) {
                    logits = s.prefillLogits(input, exit);
                }
                for (int i = 0; i < window; i++) {
                    int label = tokens[start + i + 1];
                    lossSum += crossEntropy(logits, i, language.vocab, label);
                    correct += argmax(logits, i, language.vocab) == label ? 1 : 0;
                    count++;
                }
            }
            out.add(new ExitScore(exit, lossSum / count, (double) correct / count, count));
        }
        return out;
    }

    private static double crossEntropy(float[] logits, int row, int classes, int label) {
        double max = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < classes; c++) {
            max = Math.max(max, logits[row * classes + c]);
        }
        double sum = 0;
        for (int c = 0; c < classes; c++) {
            sum += Math.exp(logits[row * classes + c] - max);
        }
        return Math.log(sum) + max - logits[row * classes + label];
    }

    private static int argmax(float[] logits, int row, int classes) {
        int best = 0;
        for (int c = 1; c < classes; c++) {
            if (logits[row * classes + c] > logits[row * classes + best]) {
                best = c;
            }
        }
        return best;
    }

    @Override
    public void close() {
        if (language != null) {
            language.close();
        }
    }
}
