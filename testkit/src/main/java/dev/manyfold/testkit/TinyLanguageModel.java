package dev.manyfold.testkit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.decoder.InferenceSession;
import dev.manyfold.api.decoder.LanguageModel;
import dev.manyfold.api.objective.ElasticModel;
import dev.manyfold.runtime.model.LlamaModel;
import dev.manyfold.runtime.model.ParameterStore;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Random;

/**
 * A tiny real LLaMA (the host's own model and KV-cached inference session) for plugin tests:
 * vocabulary 24, width 32, 4 heads (2 KV heads), FFN 64, context 40, trained exits at every
 * depth. Its random weights are scaled so that next-token distributions are peaked (early
 * exits happen) and exits disagree often enough that drafts are both accepted and rejected.
 * Close it to free its weights.
 */
public final class TinyLanguageModel implements AutoCloseable {
    public static final int VOCAB = 24;
    public static final int CONTEXT = 40;

    private final NDManager manager = NDManager.newBaseManager();
    private final LlamaModel llama;

    /** {@code layers} layers with weights from {@code seed}. */
    public TinyLanguageModel(int layers, long seed) {
        llama = new LlamaModel(new ParameterStore(manager, seed),
                new LlamaModel.Config(VOCAB, 32, layers, 4, 2, 8, 64, CONTEXT, false, 10000, 1e-5, -1));
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
        List<Integer> all = new ArrayList<>();
        for (int d = 1; d <= layers; d++) {
            all.add(d);
        }
        llama.setExits(all);
    }

    /** Declares which depths are trained exits (the full depth always is one), as a recipe's depth dimension would. */
    public TinyLanguageModel trainedExits(List<Integer> exits) {
        llama.setExits(exits);
        return this;
    }

    /**
     * A context for factories of this model, as the host builds it for a loaded model: its
     * shape and trained exits, seed 11.
     */
    public TestingContext context() {
        return TestingContext.builder().seed(11).model(shape()).trainedExits(llama.exits().toArray(new Integer[0])).build();
    }

    /** Four layers, seed 7. */
    public TinyLanguageModel() {
        this(4, 7);
    }

    /** The model as decoders see it, without an end-of-sequence token. */
    public LanguageModel model() {
        return withEos(-1);
    }

    /** The model as decoders see it, with {@code eos} as its end-of-sequence token (-1: none). */
    public LanguageModel withEos(int eos) {
        return withEos(llama, eos);
    }

    /**
     * Any language model (for example one on another engine) with {@code eos} as its
     * end-of-sequence token (-1: none); everything else is delegated.
     */
    public static LanguageModel withEos(LanguageModel model, int eos) {
        return new LanguageModel() {
            @Override
            public int vocabularySize() {
                return model.vocabularySize();
            }

            @Override
            public int contextLength() {
                return model.contextLength();
            }

            @Override
            public int layers() {
                return model.layers();
            }

            @Override
            public List<Integer> exits() {
                return model.exits();
            }

            @Override
            public OptionalInt eosToken() {
                return eos < 0 ? OptionalInt.empty() : OptionalInt.of(eos);
            }

            @Override
            public InferenceSession open(NDManager m) {
                return model.open(m);
            }
        };
    }

    /** The model as objectives see it (trainable; gradients reach its parameters). */
    public ElasticModel elastic() {
        return llama;
    }

    /** The host's model behind it (for tests that export it or run it on another engine). */
    public LlamaModel llama() {
        return llama;
    }

    /** Its shape (sites, dimensions), as factories receive it in {@link dev.manyfold.api.Context#model()}. */
    public ModelShape shape() {
        return llama.shape();
    }

    /** The manager owning the weights; open sub-managers of it for scratch arrays. */
    public NDManager manager() {
        return manager;
    }

    /** Every trainable tensor by name. */
    public Map<String, NDArray> parameters() {
        return llama.parameters().all();
    }

    /** Logits {@code [T·V]} at each requested exit for the whole sequence, without a cache (the reference for decoders). */
    public List<float[]> noCacheLogits(int[] tokens, List<Integer> exits) {
        try (NDManager m = manager.newSubManager()) {
            NDArray ids = m.create(tokens).reshape(1, tokens.length);
            List<float[]> out = new ArrayList<>();
            for (NDArray logits : llama.forwardExits(ids, SubModel.FULL, exits)) {
                out.add(logits.toFloatArray());
            }
            return out;
        }
    }

    /** Deterministic prompts of varied length with tokens in {@code [0, VOCAB)}. */
    public static List<int[]> prompts(int count, long seed, int minLength, int maxLength) {
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

    @Override
    public void close() {
        manager.close();
    }
}
