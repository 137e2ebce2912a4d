package dev.manyfold.plugin.speculative;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.Context;
import dev.manyfold.api.Settings;
import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.decoder.DecoderFactory;
import dev.manyfold.api.decoder.Generation;
import dev.manyfold.api.decoder.InferenceSession;
import dev.manyfold.api.decoder.LanguageModel;
import java.util.OptionalInt;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;

/**
 * Autoregressive decoding at one exit (the full model by default) with a KV cache: one
 * position per step through layers {@code [0, exit)} and the shared head. Greedy unless
 * {@code temperature > 0}.
 *
 * <pre>
 * decode: { type: greedy, exit: 6, temperature: 0, top-k: 0, top-p: 1, seed: 42 }
 * </pre>
 */
final class GreedyDecoder implements Decoder {
    private final int exit;
    private final String exitPath;
    private final Sampler sampler;
    private final long seed;

    /**
     * @param exit the exit depth, 0 for the full model
     */
    GreedyDecoder(int exit, String exitPath, Sampler sampler, long seed) {
        this.exit = exit;
        this.exitPath = exitPath;
        this.sampler = sampler;
        this.seed = seed;
    }

    /** Plain greedy decoding of the full model is the reference; at an exit or sampling it promises nothing. */
    @Override
    public java.util.Set<Capability> capabilities() {
        return exit == 0 && sampler.isGreedy() ? java.util.EnumSet.of(Capability.GREEDY_REFERENCE, Capability.EQUALS_GREEDY)
                : java.util.Set.of();
    }

    @Override
    public Generation generate(LanguageModel model, int[] prompt, int maxNewTokens, IntConsumer onToken) {
        Decoding.checkRequest(model, prompt, maxNewTokens);
        int depth = exit == 0 ? model.layers() : exit;
        if (exit != 0) {
            Decoding.checkTrainedExit(model, exit, exitPath, "exit");
        }
        boolean full = depth == model.layers();
        int vocab = model.vocabularySize();
        int eos = model.eosToken().orElse(-1);
        SplittableRandom random = new SplittableRandom(seed);
        Statistics stats = new Statistics(maxNewTokens, onToken);
        if (maxNewTokens == 0) {
            return stats.generation();
        }
        try (NDManager base = NDManager.newBaseManager(); InferenceSession session = model.open(base)) {
            int[] input = prompt;
            int position = 0;
            while (true) {
                int token;
                try (NDManager step = base.newSubManager()) {
                    float[] logits = session.forward(input, position, depth, step); // one call on fused engines
                    stats.layers(depth);
                    token = sampler.pick(logits, 0, vocab, random);
                }
                if (full) {
                    stats.fullPass();
                }
                stats.emit(token, depth);
                position += input.length;
                if (token == eos || stats.count() == maxNewTokens) {
                    break;
                }
                input = new int[] {token};
            }
        }
        return stats.generation();
    }

    /** {@code greedy}. */
    static final class Factory implements DecoderFactory {
        @Override
        public String name() {
            return "greedy";
        }

        @Override
        public String description() {
            return "autoregressive decoding with a KV cache at the full model or any trained exit (exit: n);"
                    + " optional sampling: temperature, top-k, top-p, seed";
        }

        /** {@code generate} and {@code bench decode} use greedy when no decoder is named. */
        @Override
        public boolean isDefault() {
            return true;
        }

        @Override
        public Decoder create(Settings settings, Context context) {
            OptionalInt depth = Decoding.depth(context);
            int exit = 0;
            OptionalInt given = settings.optionalInt("exit");
            if (given.isPresent()) {
                exit = given.getAsInt();
                Decoding.checkDepthRange(settings, "exit", exit, depth, depth.orElse(Integer.MAX_VALUE), "exit");
                Decoding.checkTrainedExit(settings, "exit", exit, context, "exit");
                if (depth.isPresent() && exit == depth.getAsInt()) {
                    exit = 0;
                }
            }
            double temperature = settings.getDouble("temperature", 0);
            settings.check(temperature >= 0 && Double.isFinite(temperature), "temperature", "temperature " + temperature + " is negative or not finite",
                    "0 (greedy) or a positive number");
            int topK = settings.getInt("top-k", 0);
            settings.check(topK >= 0, "top-k", "top-k " + topK + " is negative", "0 (all tokens) or a positive count");
            double topP = settings.getDouble("top-p", 1);
            settings.check(topP > 0 && topP <= 1, "top-p", "top-p " + topP + " is outside (0, 1]", "a probability in (0, 1]; 1 keeps all tokens");
            long seed = settings.getLong("seed", context.seed());
            if (temperature == 0) {
                settings.check(topK == 0, "top-k", "top-k has no effect when decoding greedily (temperature 0)",
                        "drop top-k, or set temperature > 0 to sample");
                settings.check(topP == 1, "top-p", "top-p has no effect when decoding greedily (temperature 0)",
                        "drop top-p, or set temperature > 0 to sample");
            }
            return new GreedyDecoder(exit, settings.pathOf("exit"), new Sampler(temperature, topK, topP), seed);
        }
    }
}
