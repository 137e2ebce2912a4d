package dev.manyfold.testkit;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.manyfold.api.Globs;
import dev.manyfold.api.ModelShape;
import dev.manyfold.api.adapter.Adapter;
import dev.manyfold.api.adapter.AttachedAdapter;
import dev.manyfold.api.decoder.Decoder;
import dev.manyfold.api.decoder.Generation;
import dev.manyfold.api.decoder.LanguageModel;
import dev.manyfold.api.mask.MaskStrategy;
import dev.manyfold.api.objective.Batch;
import dev.manyfold.api.objective.Objective;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The host's expectations of each extension point, as checks a plugin runs against its own
 * instances in its tests. Each method throws {@link AssertionError} naming the broken rule.
 *
 * <pre>
 * Adapter lora = Factories.create(new MyLoraFactory(), "adapters[0]", Map.of("rank", 2), TestingContext.validating());
 * Contracts.adapter(lora, 8, 16, true);
 * </pre>
 */
public final class Contracts {
    private Contracts() {}

    // ---- adapters -------------------------------------------------------------------------

    /**
     * An adapter attached to a random {@code [out, in]} site: it has floating parameters owned
     * by the parameter manager; {@code delta} has the shape of the full site and of a prefix
     * slice, is finite, is owned by the manager it was given, and is differentiable (a gradient
     * reaches at least one parameter); when {@code zeroAtInit}, the delta is exactly zero
     * before training (LoRA-style).
     */
    public static void adapter(Adapter adapter, int out, int in, boolean zeroAtInit) {
        try (NDManager base = NDManager.newBaseManager(); NDManager params = base.newSubManager()) {
            NDArray weight = base.create(gaussian(out * in, 0.5, 3), new Shape(out, in));
            AttachedAdapter attached = adapter.attach("layers.0.attn.q_proj", weight, params, 11);
            check(attached != null, "attach returned null");
            Map<String, NDArray> parameters = attached.parameters();
            check(!parameters.isEmpty(), "the attached adapter has no parameters");
            long total = 0;
            for (Map.Entry<String, NDArray> e : parameters.entrySet()) {
                check(e.getValue().getDataType().isFloating(), "parameter " + e.getKey() + " is " + e.getValue().getDataType()
                        + ", not floating (put index tensors in PrunableAdapter.buffers)");
                check(e.getValue().getManager() == params, "parameter " + e.getKey() + " is not owned by the parameter manager");
                total += e.getValue().getShape().size();
                e.getValue().setRequiresGradient(true);
            }
            check(attached.trainableParameters() == total, "trainableParameters() is " + attached.trainableParameters()
                    + " but the parameters hold " + total + " scalars");
            int[][] slices = {{out, in}, {Math.max(1, out / 2), Math.max(1, in / 2)}};
            for (int[] s : slices) {
                try (NDManager m = base.newSubManager()) {
                    NDArray w = m.create(gaussian(s[0] * s[1], 0.5, 3), new Shape(s[0], s[1]));
                    NDArray delta = attached.delta(w, s[0], s[1], m);
                    check(delta.getShape().equals(new Shape(s[0], s[1])), "delta for a [" + s[0] + ", " + s[1] + "] slice has shape "
                            + delta.getShape());
                    check(delta.getManager() == m, "delta is not owned by the manager it was given (use Tensors.own)");
                    float[] values = delta.toType(DataType.FLOAT32, false).toFloatArray();
                    for (float v : values) {
                        check(Float.isFinite(v), "delta has a non-finite value");
                        check(!zeroAtInit || v == 0f, "delta is not zero at initialisation (found " + v + ")");
                    }
                }
            }
            try (NDManager m = base.newSubManager(); GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                NDArray delta = attached.delta(weight, out, in, m);
                NDArray probe = m.create(gaussian(out * in, 1, 5), new Shape(out, in));
                try {
                    collector.backward(delta.toType(DataType.FLOAT32, false).mul(probe).sum());
                } catch (RuntimeException e) {
                    throw new AssertionError("no gradient reaches any parameter through delta (the engine says: " + e.getMessage()
                            + "): it is not differentiable in its parameters", e);
                }
                boolean reached = false;
                for (NDArray p : parameters.values()) {
                    NDArray g = p.getGradient();
                    reached |= g.abs().sum().getFloat() > 0;
                }
                check(reached, "no gradient reaches any parameter through delta: it is not differentiable in its parameters");
            }
        }
    }

    // ---- mask strategies ------------------------------------------------------------------

    /**
     * A mask strategy on every site of {@code shape} its targets select (at least one): each
     * mask has the weight's shape and data type, holds only 0 and 1, is owned by the given
     * manager, and masks computed concurrently for different sites equal masks computed one
     * after another.
     */
    public static void mask(MaskStrategy strategy, ModelShape shape) throws Exception {
        List<String> sites = Globs.select(strategy.targets(), shape.sites());
        check(!sites.isEmpty(), "the targets " + strategy.targets() + " select no site of " + shape.sites());
        check(strategy.updateEvery() >= 0, "updateEvery() is negative");
        try (NDManager base = NDManager.newBaseManager()) {
            Map<String, float[]> sequential = new LinkedHashMap<>();
            for (String site : sites) {
                sequential.put(site, maskValues(strategy, shape, site, base));
            }
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                Map<String, Future<float[]>> concurrent = new LinkedHashMap<>();
                for (String site : sites) {
                    concurrent.put(site, pool.submit(() -> maskValues(strategy, shape, site, base)));
                }
                for (String site : sites) {
                    check(Arrays.equals(sequential.get(site), concurrent.get(site).get()),
                            "the mask of " + site + " differs when sites are computed concurrently: computeMask is not thread-safe");
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    private static float[] maskValues(MaskStrategy strategy, ModelShape shape, String site, NDManager base) {
        int[] s = shape.siteShape(site);
        try (NDManager m = base.newSubManager()) {
            NDArray weight = m.create(gaussian(s[0] * s[1], 1, site.hashCode()), new Shape(s[0], s[1]));
            NDArray mask = strategy.calibrationBatches() > 0
                    ? strategy.computeMask(site, weight, ones(s[1]), 0, m) : strategy.computeMask(site, weight, 0, m);
            check(mask != null, "computeMask returned null for " + site);
            check(mask.getShape().equals(weight.getShape()), "the mask of " + site + " has shape " + mask.getShape() + ", the weight "
                    + weight.getShape());
            check(mask.getDataType() == weight.getDataType(), "the mask of " + site + " is " + mask.getDataType() + ", the weight "
                    + weight.getDataType());
            check(mask.getManager() == m, "the mask of " + site + " is not owned by the manager it was given");
            float[] values = mask.toFloatArray();
            for (float v : values) {
                check(v == 0f || v == 1f, "the mask of " + site + " holds " + v + "; masks hold only 0 and 1");
            }
            return values;
        }
    }

    // ---- decoders -------------------------------------------------------------------------

    /**
     * A decoder on {@link TinyLanguageModel}: it emits at most {@code maxNewTokens} tokens of
     * the vocabulary; nothing for a budget of 0; streams each token once, in order, before
     * returning; stops right after the model's EOS token (included); and concurrent calls on
     * one instance give what sequential calls give. For decoders whose output depends only on
     * the prompt and their settings (sampling decoders seeded per call).
     */
    public static void decoder(Decoder decoder, TinyLanguageModel tiny) throws Exception {
        LanguageModel model = tiny.model();
        List<int[]> prompts = TinyLanguageModel.prompts(6, 17, 1, 8);
        int max = 12;
        List<int[]> outputs = new ArrayList<>();
        for (int[] prompt : prompts) {
            List<Integer> streamed = new ArrayList<>();
            Generation g = decoder.generate(model, prompt, max, streamed::add);
            int[] tokens = g.tokens();
            check(tokens.length <= max, "emitted " + tokens.length + " tokens for a budget of " + max);
            for (int t : tokens) {
                check(t >= 0 && t < model.vocabularySize(), "emitted token " + t + " outside the vocabulary");
            }
            check(streamed.equals(box(tokens)), "streamed " + streamed + " but returned " + Arrays.toString(tokens)
                    + ": onToken must see every token once, in order");
            outputs.add(tokens);
        }
        check(decoder.generate(model, prompts.get(0), 0, t -> {
            throw new AssertionError("a token was streamed for a budget of 0");
        }).tokens().length == 0, "emitted tokens for a budget of 0");
        // EOS: the first token not seen before in an output becomes the EOS; the decode must stop right after it.
        int[] reference = outputs.stream().filter(t -> t.length >= 2).findFirst()
                .orElseThrow(() -> new AssertionError("no decode produced two tokens; cannot check EOS"));
        int k = 1;
        while (k < reference.length && contains(reference, k, reference[k])) {
            k++;
        }
        if (k < reference.length) {
            int[] prompt = prompts.get(outputs.indexOf(reference));
            int[] stopped = decoder.generate(tiny.withEos(reference[k]), prompt, max, t -> { }).tokens();
            check(Arrays.equals(stopped, Arrays.copyOf(reference, k + 1)), "with EOS " + reference[k] + " the decode gave "
                    + Arrays.toString(stopped) + ", expected " + Arrays.toString(Arrays.copyOf(reference, k + 1)));
        }
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<int[]>> futures = new ArrayList<>();
            for (int[] prompt : prompts) {
                futures.add(pool.submit(() -> decoder.generate(model, prompt, max, t -> { }).tokens()));
            }
            for (int i = 0; i < prompts.size(); i++) {
                check(Arrays.equals(futures.get(i).get(), outputs.get(i)), "prompt " + i + " decoded concurrently differs from "
                        + "the sequential decode: the decoder is not thread-safe");
            }
        } finally {
            pool.shutdownNow();
        }
    }

    // ---- objectives -----------------------------------------------------------------------

    /**
     * An objective on {@link TinyLanguageModel} with a token batch {@code [2, 8]}: the loss is
     * a finite float32 scalar owned by the batch's manager, a gradient reaches the model's
     * parameters, and the declared trained exits lie within the model, ascending.
     */
    public static void objective(Objective objective, TinyLanguageModel tiny) {
        int layers = tiny.model().layers();
        List<Integer> exits = objective.trainedExits(tiny.shape());
        check(exits != null, "trainedExits returned null");
        for (int i = 0; i < exits.size(); i++) {
            check(exits.get(i) >= 1 && exits.get(i) <= layers, "declared exit " + exits.get(i) + " is outside [1, " + layers + "]");
            check(i == 0 || exits.get(i) > exits.get(i - 1), "declared exits " + exits + " are not ascending");
        }
        try (NDManager m = tiny.manager().newSubManager(); GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            int[] tokens = new int[16];
            Random random = new Random(5);
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] = random.nextInt(TinyLanguageModel.VOCAB);
            }
            NDArray inputs = m.create(Arrays.copyOf(tokens, 16)).reshape(2, 8);
            int[] shifted = new int[16];
            for (int i = 0; i < 16; i++) {
                shifted[i] = tokens[(i + 1) % 16];
            }
            NDArray labels = m.create(shifted).reshape(2, 8);
            Batch batch = new Batch() {
                @Override
                public NDArray inputs() {
                    return inputs;
                }

                @Override
                public NDArray labels() {
                    return labels;
                }
            };
            NDArray loss = objective.loss(tiny.elastic(), batch, 1, new Random(1));
            check(loss != null, "loss returned null");
            check(loss.getShape().size() == 1, "the loss has shape " + loss.getShape() + "; it must be a scalar");
            check(loss.getDataType() == DataType.FLOAT32, "the loss is " + loss.getDataType() + "; return float32");
            check(Float.isFinite(loss.getFloat()), "the loss is not finite");
            collector.backward(loss);
            boolean reached = false;
            for (NDArray p : tiny.parameters().values()) {
                if (p.hasGradient()) {
                    reached |= p.getGradient().abs().sum().getFloat() > 0;
                }
            }
            check(reached, "no gradient reaches the model's parameters: the loss is detached from the model");
        }
    }

    // ---- helpers --------------------------------------------------------------------------

    private static void check(boolean condition, String rule) {
        if (!condition) {
            throw new AssertionError(rule);
        }
    }

    private static float[] gaussian(int n, double std, long seed) {
        Random random = new Random(seed);
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) (random.nextGaussian() * std);
        }
        return out;
    }

    private static float[] ones(int n) {
        float[] out = new float[n];
        Arrays.fill(out, 1f);
        return out;
    }

    private static List<Integer> box(int[] tokens) {
        List<Integer> out = new ArrayList<>();
        for (int t : tokens) {
            out.add(t);
        }
        return out;
    }

    private static boolean contains(int[] a, int before, int value) {
        for (int i = 0; i < before; i++) {
            if (a[i] == value) {
                return true;
            }
        }
        return false;
    }
}
