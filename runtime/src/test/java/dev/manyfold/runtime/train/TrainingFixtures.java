package dev.manyfold.runtime.train;

import dev.manyfold.runtime.data.TrainingData;
import dev.manyfold.runtime.data.HostBatch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.Settings;
import dev.manyfold.api.SubModel;
import dev.manyfold.api.mask.MaskStrategy;
import dev.manyfold.api.objective.Losses;
import dev.manyfold.api.objective.Objective;
import dev.manyfold.runtime.model.Model;
import dev.manyfold.runtime.model.ModelFactory;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/** Small synthetic problems, models and helpers for the trainer tests. */
final class TrainingFixtures {
    private TrainingFixtures() {}

    /** A train config from recipe-style key/value pairs, validated like a recipe's {@code train} section. */
    static TrainConfig config(Object... keyValues) {
        Map<String, Object> values = new LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            values.put((String) keyValues[i], keyValues[i + 1]);
        }
        Settings s = Settings.of("train", values);
        TrainConfig config = TrainConfig.from(s);
        s.rejectUnknown();
        return config;
    }

    /** A progress reporter that prints nothing. */
    static Progress quiet(TrainConfig config) {
        return new Progress(new PrintWriter(Writer.nullWriter()), false, config.steps(), config.logEvery(), "items");
    }

    /** A trainer with no masks, evaluating the full model, reporting nothing. */
    static Trainer trainer(Model model, TrainingData data, Objective objective, TrainConfig config, Path runDir) {
        return new Trainer(model, data, objective, config, List.of(), List.of(SubModel.FULL), runDir, quiet(config), Map.of());
    }

    /** Cross-entropy of the full model. */
    static Objective fullModelCrossEntropy() {
        return (model, batch, step, random) -> Losses.crossEntropy(model.forward(batch.inputs(), SubModel.FULL), batch.labels());
    }

    /** Cross-entropy of a depth drawn from the step's random source (exercises seeded sampling). */
    static Objective randomDepthCrossEntropy(int maxDepth) {
        return (model, batch, step, random) -> Losses.crossEntropy(
                model.forward(batch.inputs(), SubModel.of(Model.DEPTH, 1 + random.nextInt(maxDepth))), batch.labels());
    }

    /** A residual MLP for {@link Classification}. */
    static Model mlp(TrainingData data, long seed, NDManager manager) {
        return ModelFactory.build(Settings.of("model", Map.of("family", "mlp", "hidden", 12, "blocks", 2)), data.shape(), seed, manager);
    }

    /** A two-layer LLaMA with grouped KV heads for {@link TokenSequences}. */
    static Model llama(TrainingData data, long seed, NDManager manager) {
        return ModelFactory.build(Settings.of("model", Map.of("family", "llama", "dim", 16, "layers", 2, "heads", 2, "kv-heads", 1,
                "ffn", 24)), data.shape(), seed, manager);
    }

    /** Every tensor of the store, as raw float bits (bit-exact comparisons). */
    static Map<String, int[]> bits(Model model) {
        Map<String, int[]> out = new LinkedHashMap<>();
        model.parameters().all().forEach((name, array) -> {
            float[] values = array.toFloatArray();
            int[] raw = new int[values.length];
            for (int i = 0; i < values.length; i++) {
                raw[i] = Float.floatToRawIntBits(values[i]);
            }
            out.put(name, raw);
        });
        return out;
    }

    /** Every tensor of the store, as floats. */
    static Map<String, float[]> values(Model model) {
        Map<String, float[]> out = new LinkedHashMap<>();
        model.parameters().all().forEach((name, array) -> out.put(name, array.toFloatArray()));
        return out;
    }

    /**
     * A three-class problem on eight features: the label is the arg-max of a fixed linear
     * map of the features. Example {@code i} of step {@code s} is a pure function of the
     * seed, {@code s} and {@code i}; micro-batch {@code k} holds examples
     * {@code [k·batch, (k+1)·batch)} of its step, so accumulating two micro-batches of
     * {@code b} sees exactly the examples of one batch of {@code 2b}.
     */
    static final class Classification implements TrainingData {
        static final int FEATURES = 8;
        static final int CLASSES = 3;
        private final long seed;
        private final int batch;

        Classification(long seed, int batch) {
            this.seed = seed;
            this.batch = batch;
        }

        @Override
        public ModelFactory.DataShape shape() {
            return ModelFactory.DataShape.vision(FEATURES, CLASSES);
        }

        @Override
        public HostBatch train(long step, int micro) {
            return examples(step, micro * batch, batch);
        }

        HostBatch examples(long step, int first, int count) {
            float[] features = new float[count * FEATURES];
            int[] labels = new int[count];
            for (int e = 0; e < count; e++) {
                SplittableRandom r = new SplittableRandom(seed * 1_000_003L + step * 7919L + first + e);
                double best = Double.NEGATIVE_INFINITY;
                float[] x = new float[FEATURES];
                for (int f = 0; f < FEATURES; f++) {
                    x[f] = (float) (r.nextDouble() * 2 - 1);
                    features[e * FEATURES + f] = x[f];
                }
                for (int c = 0; c < CLASSES; c++) {
                    double score = 0;
                    for (int f = 0; f < FEATURES; f++) {
                        score += x[f] * (((c * 5 + f * 3) % 7) - 3);
                    }
                    if (score > best) {
                        best = score;
                        labels[e] = c;
                    }
                }
            }
            return new HostBatch(features, null, new long[] {count, FEATURES}, labels, new long[] {count});
        }

        @Override
        public List<HostBatch> validation(int maxBatches) {
            List<HostBatch> out = new ArrayList<>();
            for (int i = 0; i < Math.min(2, maxBatches); i++) {
                out.add(examples(-1 - i, 0, 16));
            }
            return out;
        }

        @Override
        public String describe() {
            return "synthetic classification";
        }

        @Override
        public boolean isText() {
            return false;
        }
    }

    /**
     * Next-token prediction on sequences {@code x[t+1] = (3·x[t] + 1) mod V} from random
     * starts; labels are the inputs shifted by one.
     */
    static final class TokenSequences implements TrainingData {
        static final int VOCAB = 13;
        static final int SEQ = 6;
        private final long seed;
        private final int batch;

        TokenSequences(long seed, int batch) {
            this.seed = seed;
            this.batch = batch;
        }

        @Override
        public ModelFactory.DataShape shape() {
            return ModelFactory.DataShape.text(VOCAB, VOCAB - 1, SEQ);
        }

        @Override
        public HostBatch train(long step, int micro) {
            return sequences(step * 31 + micro);
        }

        private HostBatch sequences(long key) {
            SplittableRandom r = new SplittableRandom(seed * 1_000_003L + key);
            int[] tokens = new int[batch * SEQ];
            int[] labels = new int[batch * SEQ];
            for (int b = 0; b < batch; b++) {
                int x = r.nextInt(VOCAB);
                for (int t = 0; t < SEQ; t++) {
                    tokens[b * SEQ + t] = x;
                    x = (3 * x + 1) % VOCAB;
                    labels[b * SEQ + t] = x;
                }
            }
            return new HostBatch(null, tokens, new long[] {batch, SEQ}, labels, new long[] {batch, SEQ});
        }

        @Override
        public List<HostBatch> validation(int maxBatches) {
            return List.of(sequences(-1));
        }

        @Override
        public String describe() {
            return "synthetic token sequences";
        }

        @Override
        public boolean isText() {
            return true;
        }
    }

    /** Thrown by {@link KilledAt} in place of the process dying. */
    static final class SimulatedKill extends RuntimeException {
        SimulatedKill(long step) {
            super("simulated kill at step " + step);
        }
    }

    /** Delegates to another data source but "kills the process" when step {@code killStep} asks for its first batch. */
    record KilledAt(TrainingData inner, long killStep) implements TrainingData {
        @Override
        public ModelFactory.DataShape shape() {
            return inner.shape();
        }

        @Override
        public HostBatch train(long step, int micro) {
            if (step == killStep) {
                throw new SimulatedKill(step);
            }
            return inner.train(step, micro);
        }

        @Override
        public List<HostBatch> validation(int maxBatches) {
            return inner.validation(maxBatches);
        }

        @Override
        public String describe() {
            return inner.describe();
        }

        @Override
        public boolean isText() {
            return inner.isText();
        }
    }

    /** Keeps the larger half (by magnitude) of every targeted weight; recomputed every {@code every} steps. */
    record HalfMagnitudeMask(List<String> targets, int updateEvery, boolean straightThrough) implements MaskStrategy {
        @Override
        public NDArray computeMask(String site, NDArray weight, long step, NDManager manager) {
            float[] w = weight.toFloatArray();
            float[] sorted = new float[w.length];
            for (int i = 0; i < w.length; i++) {
                sorted[i] = Math.abs(w[i]);
            }
            java.util.Arrays.sort(sorted);
            float threshold = sorted[w.length / 2];
            float[] mask = new float[w.length];
            for (int i = 0; i < w.length; i++) {
                mask[i] = Math.abs(w[i]) >= threshold ? 1f : 0f;
            }
            return manager.create(mask, weight.getShape());
        }
    }
}
