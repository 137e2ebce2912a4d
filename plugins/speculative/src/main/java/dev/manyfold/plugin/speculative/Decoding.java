package dev.manyfold.plugin.speculative;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Context;
import dev.manyfold.api.Settings;
import dev.manyfold.api.decoder.InferenceSession;
import dev.manyfold.api.decoder.LanguageModel;
import java.util.OptionalInt;

/** What the decoders share: request checks, exit checks and host-side argmax/confidence. */
final class Decoding {
    private Decoding() {}

    /**
     * Refuses an empty prompt, a prompt that does not fit the context, a negative token
     * budget, a budget that runs past the context, and token ids outside the vocabulary.
     */
    static void checkRequest(LanguageModel model, int[] prompt, int maxNewTokens) {
        if (model == null) {
            throw new NullPointerException("model is null");
        }
        if (prompt == null || prompt.length == 0) {
            throw new IllegalArgumentException("the prompt is empty: decoding needs at least one prompt token");
        }
        int context = model.contextLength();
        if (prompt.length > context) {
            throw new IllegalArgumentException("the prompt has " + prompt.length + " tokens but the model's context is " + context
                    + " tokens; shorten the prompt to at most " + context + " tokens");
        }
        if (maxNewTokens < 0) {
            throw new IllegalArgumentException("max new tokens is " + maxNewTokens + "; it must be >= 0");
        }
        if (prompt.length + maxNewTokens > context) {
            throw new IllegalArgumentException("the prompt (" + prompt.length + " tokens) plus " + maxNewTokens
                    + " new tokens exceeds the model's context of " + context + " tokens; at most "
                    + (context - prompt.length) + " new tokens fit after this prompt");
        }
        int vocab = model.vocabularySize();
        for (int i = 0; i < prompt.length; i++) {
            if (prompt[i] < 0 || prompt[i] >= vocab) {
                throw new IllegalArgumentException("prompt token " + i + " is " + prompt[i] + ", outside the vocabulary [0, " + vocab + ")");
            }
        }
    }

    /** The model's depth from the context, when known (for checks at creation). */
    static OptionalInt depth(Context context) {
        return context.model().map(m -> m.dimensions().get("depth")).map(OptionalInt::of).orElse(OptionalInt.empty());
    }

    /** Refuses an exit that is not one of the model's trained exits. */
    static void checkTrainedExit(LanguageModel model, int exit, String path, String what) {
        if (!model.exits().contains(exit)) {
            throw new ConfigException(path, what + " " + exit + " is not a trained exit of this model",
                    "one of the trained exits " + model.exits());
        }
    }

    /**
     * Refuses, at creation, an exit that is not one of the model's trained exits when the host
     * knows them (API 1.1 {@link Context#trainedExits()}), so the error comes before any output.
     */
    static void checkTrainedExit(Settings settings, String key, int exit, Context context, String what) {
        java.util.List<Integer> trained = context.trainedExits();
        settings.check(trained.isEmpty() || trained.contains(exit), key, what + " " + exit + " is not a trained exit of this model",
                "one of the trained exits " + trained);
    }

    /** Refuses a depth outside {@code [1, max]} when the model's depth is known at creation. */
    static void checkDepthRange(Settings settings, String key, int value, OptionalInt depth, int max, String what) {
        settings.check(value >= 1, key, what + " " + value + " is not a depth", "a trained exit >= 1");
        if (depth.isPresent()) {
            settings.check(value <= max, key, what + " " + value + " is deeper than allowed for a model of " + depth.getAsInt() + " layers",
                    "a trained exit in [1, " + max + "]");
        }
    }

    /** Logits {@code [V]} of the last row of {@code hidden [n, dim]}, copied to the host. */
    static float[] lastLogits(InferenceSession session, NDArray hidden, NDManager step) {
        long n = hidden.getShape().get(0);
        NDArray last = n == 1 ? hidden : own(step, hidden.get(new NDIndex("{}:", n - 1)));
        return session.logits(last, step).toFloatArray();
    }

    /** Moves {@code array} (a result of an op on a longer-lived array) into {@code manager}. */
    static NDArray own(NDManager manager, NDArray array) {
        array.attach(manager);
        return array;
    }

    /** Index of the largest logit of row {@code row} (the first one on ties, like PyTorch). */
    static int argmax(float[] logits, int row, int vocab) {
        int base = row * vocab;
        int best = 0;
        float max = logits[base];
        for (int v = 1; v < vocab; v++) {
            if (logits[base + v] > max) {
                max = logits[base + v];
                best = v;
            }
        }
        return best;
    }

    /** {@code max_v softmax(z)_v} of row {@code row}, in double precision. */
    static double maxProbability(float[] logits, int row, int vocab) {
        return maxProbabilityAt(logits, row * vocab, vocab);
    }

    /** {@code max_v softmax(z)_v} of the {@code vocab} logits from {@code base}, in double precision. */
    static double maxProbabilityAt(float[] logits, int base, int vocab) {
        float max = Float.NEGATIVE_INFINITY;
        for (int v = 0; v < vocab; v++) {
            max = Math.max(max, logits[base + v]);
        }
        double sum = 0;
        for (int v = 0; v < vocab; v++) {
            sum += Math.exp((double) logits[base + v] - max);
        }
        return 1 / sum;
    }
}
