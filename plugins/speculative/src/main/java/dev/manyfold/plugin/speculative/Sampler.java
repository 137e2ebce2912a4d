package dev.manyfold.plugin.speculative;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks a token from one row of logits: argmax when {@code temperature == 0}, otherwise a
 * draw from {@code softmax(z / temperature)} restricted to the {@code topK} most likely
 * tokens (0 = all) and then to the smallest set whose probability reaches {@code topP}
 * (1 = all). Immutable; the random stream is passed in per call.
 */
final class Sampler {
    private final double temperature;
    private final int topK;
    private final double topP;

    Sampler(double temperature, int topK, double topP) {
        this.temperature = temperature;
        this.topK = topK;
        this.topP = topP;
    }

    boolean isGreedy() {
        return temperature == 0;
    }

    int pick(float[] logits, int row, int vocab, SplittableRandom random) {
        if (isGreedy()) {
            return Decoding.argmax(logits, row, vocab);
        }
        int base = row * vocab;
        Integer[] order = new Integer[vocab];
        for (int v = 0; v < vocab; v++) {
            order[v] = v;
        }
        // Descending by logit, ties by id, so the candidate set is deterministic.
        Arrays.sort(order, (a, b) -> {
            int c = Float.compare(logits[base + b], logits[base + a]);
            return c != 0 ? c : Integer.compare(a, b);
        });
        int keep = topK > 0 ? Math.min(topK, vocab) : vocab;
        double max = logits[base + order[0]];
        double[] p = new double[keep];
        double sum = 0;
        for (int i = 0; i < keep; i++) {
            p[i] = Math.exp((logits[base + order[i]] - max) / temperature);
            sum += p[i];
        }
        if (topP < 1) {
            double cumulative = 0;
            int cut = keep;
            for (int i = 0; i < keep; i++) {
                cumulative += p[i] / sum;
                if (cumulative >= topP) {
                    cut = i + 1;
                    break;
                }
            }
            keep = cut;
            sum = 0;
            for (int i = 0; i < keep; i++) {
                sum += p[i];
            }
        }
        double u = random.nextDouble() * sum;
        for (int i = 0; i < keep; i++) {
            u -= p[i];
            if (u < 0) {
                return order[i];
            }
        }
        return order[keep - 1];
    }
}
