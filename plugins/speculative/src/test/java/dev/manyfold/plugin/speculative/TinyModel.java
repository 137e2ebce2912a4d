package dev.manyfold.plugin.speculative;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.manyfold.api.Context;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.Settings;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.decoder.InferenceSession;
import dev.manyfold.api.decoder.LanguageModel;
import dev.manyfold.runtime.model.LlamaModel;
import dev.manyfold.runtime.model.ParameterStore;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Random;

/**
 * A small randomly initialised LLaMA with trained exits 1..4 and weights scaled so that its
 * next-token distributions are peaked (confident exits happen) and the exits disagree often
 * enough that drafts are both accepted and rejected. The EOS token can be chosen per test.
 */
final class TinyModel implements AutoCloseable {
    static final int VOCAB = 24;
    static final int LAYERS = 4;
    static final int CONTEXT = 40;

    final NDManager manager = NDManager.newBaseManager();
    final LlamaModel llama;

    TinyModel(long seed) {
        llama = new LlamaModel(new ParameterStore(manager, seed),
                new LlamaModel.Config(VOCAB, 32, LAYERS, 4, 2, 8, 64, CONTEXT, false, 10000, 1e-5, -1));
        Random random = new Random(seed);
        for (Map.Entry<String, NDArray> e : llama.parameters().all().entrySet()) {
            Shape shape = e.getValue().getShape();
            if (shape.dimension() != 2) {
                continue;
            }
            String name = e.getKey();
            double std = name.startsWith("embed") ? 1.0 : name.startsWith("lm_head") ? 0.6
                    : name.contains("o_proj") || name.contains("down_proj") ? 0.12 : 0.25;
            float[] values = new float[Math.toIntExact(shape.size())];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) (random.nextGaussian() * std);
            }
            try (NDManager m = manager.newSubManager()) {
                llama.parameters().assign(name, m.create(values, shape));
            }
        }
        llama.setExits(List.of(1, 2, 3, 4));
    }

    /** The model as decoders see it, with {@code eos} as its end-of-sequence token (-1: none). */
    LanguageModel withEos(int eos) {
        return new LanguageModel() {
            @Override
            public int vocabularySize() {
                return llama.vocabularySize();
            }

            @Override
            public int contextLength() {
                return llama.contextLength();
            }

            @Override
            public int layers() {
                return llama.layers();
            }

            @Override
            public List<Integer> exits() {
                return llama.exits();
            }

            @Override
            public OptionalInt eosToken() {
                return eos < 0 ? OptionalInt.empty() : OptionalInt.of(eos);
            }

            @Override
            public InferenceSession open(NDManager m) {
                return llama.open(m);
            }
        };
    }

    /** Logits {@code [T, V]} at each requested exit for the whole sequence, without a cache. */
    List<float[]> noCacheLogits(int[] tokens, List<Integer> exits) {
        try (NDManager m = manager.newSubManager()) {
            NDArray ids = m.create(tokens).reshape(1, tokens.length);
            List<float[]> out = new ArrayList<>();
            for (NDArray logits : llama.forwardExits(ids, SubModel.FULL, exits)) {
                out.add(logits.toFloatArray());
            }
            return out;
        }
    }

    /** Deterministic prompts of varied length with tokens in [0, VOCAB). */
    static List<int[]> prompts(int count, long seed, int minLength, int maxLength) {
        Random random = new Random(seed);
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int[] p = new int[minLength + random.nextInt(maxLength - minLength + 1)];
            for (int j = 0; j < p.length; j++) {
                p[j] = random.nextInt(VOCAB);
            }
            prompts.add(p);
        }
        return prompts;
    }

    /** A host context that knows this model's shape. */
    Context context() {
        return context(Optional.of(llama.shape()));
    }

    static Context context(Optional<ModelShape> shape) {
        return new Context() {
            @Override
            public long seed() {
                return 11;
            }

            @Override
            public Optional<ModelShape> model() {
                return shape;
            }

            @Override
            public Path workDirectory() {
                return Path.of(System.getProperty("java.io.tmpdir"));
            }

            @Override
            public void info(String message) {}
        };
    }

    /** Creates a decoder the way the host does: factory, then unknown keys refused. */
    Decoder decoder(String type, Map<String, ?> settings) {
        return create(type, settings, context());
    }

    static Decoder create(String type, Map<String, ?> values, Context context) {
        Settings settings = Settings.of("decode", values);
        Decoder decoder = new SpeculativePlugin().decoders().stream().filter(f -> f.name().equals(type)).findFirst().orElseThrow()
                .create(settings, context);
        settings.rejectUnknown();
        return decoder;
    }

    @Override
    public void close() {
        manager.close();
    }
}
