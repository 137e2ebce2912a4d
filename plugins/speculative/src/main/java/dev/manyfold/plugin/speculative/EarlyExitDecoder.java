package dev.manyfold.plugin.speculative;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.ConfigException;
import dev.manyfold.api.Context;
import dev.manyfold.api.Settings;
import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.decoder.DecoderFactory;
import dev.manyfold.api.decoder.Generation;
import dev.manyfold.api.decoder.InferenceSession;
import dev.manyfold.api.decoder.LanguageModel;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.TreeMap;
import java.util.function.IntConsumer;

/**
 * Confidence early exit (Sorted LLaMA §4): for each token the exits that have a threshold
 * are tried in increasing depth, continuing the one hidden state upwards; the token is the
 * argmax at the first exit n whose {@code max softmax ≥ τ_n}, and the full depth L always
 * emits.
 *
 * <p><b>Exact deferred KV.</b> A position that exited at depth e has keys/values only in
 * layers {@code [0, e)}; its depth-e hidden state is kept. When a later token needs layer
 * j, every position missing from layer j's cache is pushed through layer j first, batched
 * with the new token in the same {@code run} call. Cache lengths therefore never increase
 * with depth, the pending positions are a suffix whose depths never increase with position,
 * and every layer sees exactly the inputs a no-cache recomputation would give it: the output
 * equals recomputing the whole sequence at every step with the same exit decisions.
 * (Copying an exit's hidden state upward, CALM-style, would be an approximation; it is not
 * offered.)
 *
 * <p><b>A depth budget.</b> {@code max-depth: n} (a trained exit) makes exit n the deepest
 * one: a token that no threshold stopped emits there, and layers {@code [n, L)} never run,
 * prompt included. This is early exit inside the depth-n sub-model of the same weights; the
 * default is the full depth.
 *
 * <pre>
 * decode: { type: early-exit, thresholds: { 2: 0.9, 4: 0.8 } }   # {} never exits early
 * decode: { type: early-exit, thresholds: { 2: 0.5 }, max-depth: 4 }
 * </pre>
 */
final class EarlyExitDecoder implements Decoder {
    private final TreeMap<Integer, Double> thresholds;
    private final String thresholdsPath;
    /** The deepest exit, where every token not stopped earlier emits; 0 = the model's full depth. */
    private final int maxDepth;
    private final String maxDepthPath;

    EarlyExitDecoder(Map<Integer, Double> thresholds, String thresholdsPath) {
        this(thresholds, thresholdsPath, 0, null);
    }

    EarlyExitDecoder(Map<Integer, Double> thresholds, String thresholdsPath, int maxDepth, String maxDepthPath) {
        this.thresholds = new TreeMap<>(thresholds);
        this.thresholdsPath = thresholdsPath;
        this.maxDepth = maxDepth;
        this.maxDepthPath = maxDepthPath;
    }

    /** Stop at the first exit whose max softmax probability reaches its threshold. */
    @Override
    public java.util.Optional<dev.manyfold.api.decoder.ExitRule> exitRule() {
        List<Integer> listed = new java.util.ArrayList<>(thresholds.keySet());
        if (maxDepth > 0) {
            listed.add(maxDepth); // every position stops there at the latest (the full depth is not listed)
        }
        List<Integer> exits = List.copyOf(listed);
        return java.util.Optional.of(new dev.manyfold.api.decoder.ExitRule() {
            @Override
            public List<Integer> exits() {
                return exits;
            }

            @Override
            public boolean stops(int exit, float[] logits, int offset, int vocab) {
                Double tau = thresholds.get(exit);
                return tau == null || Decoding.maxProbabilityAt(logits, offset, vocab) >= tau;
            }
        });
    }

    @Override
    public Generation generate(LanguageModel model, int[] prompt, int maxNewTokens, IntConsumer onToken) {
        Decoding.checkRequest(model, prompt, maxNewTokens);
        int layers = model.layers();
        if (maxDepth > layers) {
            throw new ConfigException(maxDepthPath, "max-depth " + maxDepth + " is deeper than the model's " + layers + " layers",
                    "a trained exit up to " + layers);
        }
        if (maxDepth > 0 && maxDepth != layers) {
            Decoding.checkTrainedExit(model, maxDepth, maxDepthPath, "max-depth");
        }
        // The deepest exit: every token that no threshold stopped emits here.
        int top = maxDepth > 0 ? maxDepth : layers;
        for (int exit : thresholds.keySet()) {
            Decoding.checkTrainedExit(model, exit, thresholdsPath + "." + exit, "exit");
            if (exit >= top) {
                throw new ConfigException(thresholdsPath + "." + exit, top == layers
                        ? "the full depth " + layers + " always emits; a threshold for it has no effect"
                        : "exit " + exit + " is never tried: max-depth " + top + " always emits first", "thresholds for trained exits below " + top);
            }
        }
        int[] exits = new int[thresholds.size() + 1];
        double[] tau = new double[exits.length];
        int i = 0;
        for (Map.Entry<Integer, Double> e : thresholds.entrySet()) {
            exits[i] = e.getKey();
            tau[i++] = e.getValue();
        }
        exits[i] = top;
        tau[i] = Double.NEGATIVE_INFINITY;
        int vocab = model.vocabularySize();
        int eos = model.eosToken().orElse(-1);
        Statistics stats = new Statistics(maxNewTokens, onToken);
        if (maxNewTokens == 0) {
            return stats.generation();
        }
        try (NDManager base = NDManager.newBaseManager(); InferenceSession session = model.open(base)) {
            int next = -1;
            int exitDepth = top;
            // Prefill: the prompt goes through every layer up to top; the first token exits like any other.
            try (NDManager step = base.newSubManager()) {
                NDArray h = session.embed(prompt, 0, step);
                int depth = 0;
                for (int x = 0; x < exits.length; x++) {
                    h = session.run(h, depth, exits[x], 0, step);
                    stats.layers(exits[x] - depth);
                    depth = exits[x];
                    if (next < 0) {
                        float[] logits = Decoding.lastLogits(session, h, step);
                        if (Decoding.maxProbability(logits, 0, vocab) >= tau[x]) {
                            next = Decoding.argmax(logits, 0, vocab);
                            exitDepth = depth;
                        }
                    }
                }
            }
            if (top == layers) {
                stats.fullPass();
            }
            stats.emit(next, exitDepth);
            int position = prompt.length;
            int[] cached = new int[top]; // layers [top, L) never run
            // Hidden states [n·dim] of the pending positions [cached[top-1], position), each at its own depth,
            // as floats: slicing and concatenating them costs no engine call.
            float[] pending = null;
            int dim = 0;
            while (next != eos && stats.count() < maxNewTokens) {
                for (int j = 0; j < top; j++) {
                    cached[j] = session.cachedLength(j);
                }
                int pendingStart = cached[top - 1];
                try (NDManager step = base.newSubManager()) {
                    float[] batch = null; // the first segment embeds the token too (one call on fused engines)
                    float[] logits = null;
                    int start = position;
                    int depth = 0;
                    int token = -1;
                    for (int x = 0; x < exits.length && token < 0; x++) {
                        while (depth < exits[x]) {
                            if (batch != null && cached[depth] < start) {
                                // Positions [cached[depth], start) stopped at exactly this depth: catch them up here.
                                float[] rows = java.util.Arrays.copyOfRange(pending, (cached[depth] - pendingStart) * dim, (start - pendingStart) * dim);
                                batch = concat(rows, batch);
                                start = cached[depth];
                            }
                            int to = depth + 1;
                            while (to < exits[x] && cached[to] >= start) {
                                to++;
                            }
                            boolean atExit = to == exits[x];
                            InferenceSession.Floats f = batch == null ? session.forwardFloats(new int[] {next}, position, to, atExit, step)
                                    : session.runFloats(batch, position + 1 - start, depth, to, start, atExit, step);
                            batch = f.hidden();
                            dim = batch.length / (position + 1 - start);
                            logits = f.logits(); // set by the segment that ends at exits[x]
                            stats.layers(to - depth);
                            depth = to;
                        }
                        if (Decoding.maxProbability(logits, 0, vocab) >= tau[x]) {
                            token = Decoding.argmax(logits, 0, vocab);
                        }
                    }
                    if (depth == top) {
                        if (top == layers) {
                            stats.fullPass();
                        }
                        pending = null;
                    } else {
                        pending = start == pendingStart || pending == null ? batch
                                : concat(java.util.Arrays.copyOf(pending, (start - pendingStart) * dim), batch);
                    }
                    stats.emit(token, depth);
                    next = token;
                    position++;
                }
            }
        }
        return stats.generation();
    }

    private static float[] concat(float[] a, float[] b) {
        float[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    /** {@code early-exit}. */
    static final class Factory implements DecoderFactory {
        @Override
        public String name() {
            return "early-exit";
        }

        @Override
        public String description() {
            return "confidence early exit: per token try the exits with a threshold in increasing depth, emit at the first with"
                    + " max probability >= tau (thresholds: {2: 0.9, 4: 0.8}); exact deferred KV for skipped layers;"
                    + " max-depth: n emits at exit n at the latest (early exit inside the depth-n sub-model)";
        }

        @Override
        public Decoder create(Settings settings, Context context) {
            settings.check(settings.has("thresholds"), "thresholds", "required key is missing",
                    "exit depth -> confidence in (0, 1], e.g. thresholds: {2: 0.9, 4: 0.8}; {} never exits early");
            Settings section = settings.section("thresholds");
            OptionalInt depth = Decoding.depth(context);
            int maxDepth = 0;
            if (settings.has("max-depth")) {
                maxDepth = settings.getInt("max-depth");
                Decoding.checkDepthRange(settings, "max-depth", maxDepth, depth, depth.orElse(Integer.MAX_VALUE), "max-depth");
                if (depth.isEmpty() || maxDepth < depth.getAsInt()) {
                    Decoding.checkTrainedExit(settings, "max-depth", maxDepth, context, "max-depth");
                }
            }
            Map<Integer, Double> thresholds = new TreeMap<>();
            for (String key : section.keys()) {
                int exit;
                try {
                    exit = Integer.parseInt(key.trim());
                } catch (NumberFormatException e) {
                    throw section.invalid(key, "\"" + key + "\" is not an exit depth", "integer exit depths as keys, e.g. {2: 0.9, 4: 0.8}");
                }
                double tau = section.getDouble(key);
                section.check(tau > 0 && tau <= 1, key, "threshold " + tau + " is outside (0, 1]", "a confidence in (0, 1]");
                section.check(exit >= 1, key, "exit " + exit + " is not a depth", "a trained exit >= 1");
                if (depth.isPresent()) {
                    int layers = depth.getAsInt();
                    section.check(exit <= layers, key, "exit " + exit + " does not exist in a model of " + layers + " layers",
                            "a trained exit below " + layers);
                    section.check(exit < layers, key, "the full depth " + layers + " always emits; a threshold for it has no effect",
                            "thresholds for trained exits below " + layers);
                }
                Decoding.checkTrainedExit(section, key, exit, context, "exit");
                section.check(maxDepth == 0 || exit < maxDepth, key, "exit " + exit + " is never tried: max-depth " + maxDepth + " always emits first",
                        "thresholds for trained exits below max-depth " + maxDepth);
                thresholds.put(exit, tau);
            }
            return new EarlyExitDecoder(thresholds, settings.pathOf("thresholds"), maxDepth, settings.pathOf("max-depth"));
        }
    }
}
