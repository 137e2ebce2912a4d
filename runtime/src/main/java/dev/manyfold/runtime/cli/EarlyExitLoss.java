package dev.manyfold.runtime.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.decoder.ExitRule;
import dev.manyfold.runtime.model.LayeredLanguageModel;
import dev.manyfold.runtime.data.HostBatch;
import java.util.ArrayList;
import java.util.List;

/**
 * Teacher-forced validation loss under an early-exit decoder's {@link ExitRule}: every
 * validation position is scored at the exit the rule picks, else at the full depth — the
 * decoder's own decision applied to the reference text. Compared with the full model's loss
 * on the same positions.
 */
final class EarlyExitLoss {
    private EarlyExitLoss() {}

    /** Full-depth loss, early-exit loss (nats/token), mean exit depth and the positions scored. */
    record Result(double fullLoss, double exitLoss, double meanDepth, long positions) {
        double increase() {
            return exitLoss / fullLoss - 1;
        }
    }

    /**
     * Scores every validation position at the exit the decoder's {@link ExitRule} picks from
     * the teacher-forced logits of its exits (the full depth when none stops).
     */
    static Result evaluate(LayeredLanguageModel model, List<HostBatch> batches, ExitRule rule) {
        List<Integer> exits = new ArrayList<>(rule.exits());
        for (int e : exits) {
            if (e < 1 || e >= model.layers()) {
                throw new ConfigException("decode", "the exit rule names exit " + e + ", outside [1, " + (model.layers() - 1) + "]",
                        "exits of the model's trained exits " + model.exits());
            }
        }
        exits.add(model.layers());
        int vocab = model.vocabularySize();
        double full = 0;
        double exit = 0;
        double depth = 0;
        long n = 0;
        for (HostBatch b : batches) {
            try (NDManager m = model.parameters().manager().newSubManager()) {
                NDArray inputs = b.toBatch(m).inputs();
                List<NDArray> logits = model.forwardExits(inputs, SubModel.FULL, exits);
                List<float[]> host = new ArrayList<>();
                for (NDArray l : logits) {
                    host.add(l.toFloatArray());
                }
                int[] labels = b.labels();
                for (int row = 0; row < labels.length; row++) {
                    if (labels[row] < 0) {
                        continue; // not a trained position (instruction prompts, padding)
                    }
                    int chosen = rule.choose(host, row * vocab, vocab);
                    full += crossEntropy(host.get(exits.size() - 1), row, vocab, labels[row]);
                    exit += crossEntropy(host.get(chosen), row, vocab, labels[row]);
                    depth += exits.get(chosen);
                    n++;
                }
            }
        }
        return new Result(full / n, exit / n, depth / n, n);
    }

    /** Per trained exit: teacher-forced loss and how often its argmax equals the full model's. */
    record ExitRow(int exit, double loss, double agreement) {}

    static List<ExitRow> exits(LayeredLanguageModel model, List<HostBatch> batches) {
        List<Integer> exits = model.exits();
        int vocab = model.vocabularySize();
        double[] loss = new double[exits.size()];
        double[] agree = new double[exits.size()];
        long n = 0;
        for (HostBatch b : batches) {
            try (NDManager m = model.parameters().manager().newSubManager()) {
                List<NDArray> logits = model.forwardExits(b.toBatch(m).inputs(), SubModel.FULL, exits);
                List<float[]> host = new ArrayList<>();
                for (NDArray l : logits) {
                    host.add(l.toFloatArray());
                }
                int[] labels = b.labels();
                for (int row = 0; row < labels.length; row++) {
                    if (labels[row] < 0) {
                        continue;
                    }
                    int full = argmax(host.get(exits.size() - 1), row, vocab);
                    for (int x = 0; x < exits.size(); x++) {
                        loss[x] += crossEntropy(host.get(x), row, vocab, labels[row]);
                        agree[x] += argmax(host.get(x), row, vocab) == full ? 1 : 0;
                    }
                    n++;
                }
            }
        }
        List<ExitRow> out = new ArrayList<>();
        for (int x = 0; x < exits.size(); x++) {
            out.add(new ExitRow(exits.get(x), loss[x] / n, agree[x] / n));
        }
        return out;
    }

    private static int argmax(float[] logits, int row, int vocab) {
        int base = row * vocab;
        int best = 0;
        for (int v = 1; v < vocab; v++) {
            if (logits[base + v] > logits[base + best]) {
                best = v;
            }
        }
        return best;
    }

    private static double logSumExp(float[] logits, int row, int vocab) {
        int base = row * vocab;
        double max = Double.NEGATIVE_INFINITY;
        for (int v = 0; v < vocab; v++) {
            max = Math.max(max, logits[base + v]);
        }
        double sum = 0;
        for (int v = 0; v < vocab; v++) {
            sum += Math.exp(logits[base + v] - max);
        }
        return max + Math.log(sum);
    }

    private static double crossEntropy(float[] logits, int row, int vocab, int label) {
        return logSumExp(logits, row, vocab) - logits[row * vocab + label];
    }
}
