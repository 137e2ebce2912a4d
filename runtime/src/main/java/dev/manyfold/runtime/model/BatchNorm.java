package dev.manyfold.runtime.model;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.manyfold.api.ConfigException;
import dev.manyfold.runtime.data.HostBatch;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntFunction;

/**
 * Batch normalisation over the channels of a width-sliced CNN, with per-sub-model statistics
 * in one of two ways:
 *
 * <ul>
 *   <li><b>shared</b> (default): one γ, β and running mean/variance per layer of full width;
 *       width {@code w} uses their prefix {@code [:w]}, like the convolution's output
 *       channels. Running statistics accumulated while sub-models of different widths train
 *       describe no single sub-model, so before a width is evaluated its statistics are
 *       <b>recalibrated</b> (US-Nets' post-training BN calibration): the trunk runs
 *       {@code bn-recalibrate} training batches at that width, normalising with each batch's
 *       own statistics, and the mean and the (biased) variance of every BN input over all of
 *       those batches' positions become the statistics that width is evaluated and exported
 *       with. They are kept in memory per width and dropped when any weight changes.
 *   <li><b>switchable</b> ({@code switchable-bn: [w1, w2, ...]}, Slimmable Networks): a private
 *       γ, β and running mean/variance of size {@code w} per listed width, updated only when
 *       that width trains. Only listed widths can run. With {@code bn-recalibrate: 0} (the
 *       default for switchable) each width is evaluated with its own running statistics.
 * </ul>
 *
 * <p>In {@link Mode#TRAIN} the batch's mean and biased variance over {@code (N, H, W)}
 * normalise (with gradients through them), and the running statistics move by momentum 0.1
 * towards the batch mean and the unbiased batch variance (PyTorch's convention). In
 * {@link Mode#EVAL} the stored or recalibrated statistics normalise. ε is {@value #EPS}.
 * Running statistics are frozen tensors of the parameter store ({@code <layer>.bn.running_mean},
 * {@code .running_var}; switchable: {@code <layer>.bn.w<width>.*}), so checkpoints keep them.
 */
public final class BatchNorm {
    /** The ε under the square root. */
    public static final float EPS = 1e-5f;
    /** How far one training batch moves the running statistics. */
    public static final float MOMENTUM = 0.1f;

    /** Which statistics normalise. */
    public enum Mode {
        /** The batch's statistics; running statistics updated. */
        TRAIN,
        /** Stored (running) or recalibrated statistics. */
        EVAL,
        /** The batch's statistics; the BN inputs are summed into a {@link Collector}; nothing stored. */
        CALIBRATE
    }

    /**
     * The model section's BN settings.
     *
     * @param enabled {@code batch-norm}
     * @param switchable {@code switchable-bn}: ascending widths with private BN, empty for shared BN
     * @param recalibrate {@code bn-recalibrate}: training batches per width for recalibration, 0 for running statistics
     */
    public record Settings(boolean enabled, List<Integer> switchable, int recalibrate) {
        /** No batch normalisation. */
        public static final Settings NONE = new Settings(false, List.of(), 0);
        /** The configuration keys these settings are stored under. */
        public static final Set<String> KEYS = Set.of("batch-norm", "switchable-bn", "bn-recalibrate");

        public Settings {
            switchable = List.copyOf(switchable);
            if (recalibrate < 0) {
                throw new IllegalArgumentException("bn-recalibrate must be >= 0, got " + recalibrate);
            }
        }

        /** Shared BN recalibrated over {@code batches} training batches. */
        public static Settings shared(int batches) {
            return new Settings(true, List.of(), batches);
        }

        /** Switchable BN for the given widths, evaluated with running statistics. */
        public static Settings switchable(List<Integer> widths) {
            return new Settings(true, widths, 0);
        }

        /** What the model's configuration stores (nothing when disabled, so older checkpoints stay identical). */
        Map<String, Object> config() {
            if (!enabled) {
                return Map.of();
            }
            Map<String, Object> c = new LinkedHashMap<>();
            c.put("batch-norm", true);
            c.put("bn-recalibrate", recalibrate);
            if (!switchable.isEmpty()) {
                c.put("switchable-bn", switchable);
            }
            return c;
        }

        /**
         * Reads {@code batch-norm}, {@code switchable-bn} and {@code bn-recalibrate} from a model
         * section, checking them against the model's {@code channels}.
         */
        public static Settings read(dev.manyfold.api.Settings s, int channels) {
            boolean enabled = s.getBoolean("batch-norm", false);
            if (!enabled) {
                for (String key : List.of("switchable-bn", "bn-recalibrate")) {
                    s.check(!s.has(key), key, key + " without batch normalisation", "batch-norm: true, or leave " + key + " out");
                }
                return NONE;
            }
            List<Integer> widths = s.getIntList("switchable-bn", List.of());
            for (int i = 0; i < widths.size(); i++) {
                int w = widths.get(i);
                s.check(w >= 1 && w <= channels, "switchable-bn", "width " + w + " is outside the model's " + channels + " channels",
                        "widths in [1, " + channels + "]");
                s.check(i == 0 || w > widths.get(i - 1), "switchable-bn", "widths " + widths + " are not strictly ascending",
                        "ascending widths such as [8, 16, 24, " + channels + "]");
            }
            s.check(widths.isEmpty() || widths.get(widths.size() - 1) == channels, "switchable-bn", "the full width " + channels
                    + " has no BN of its own in " + widths, "a list ending with the model's channels, " + channels);
            int recalibrate = s.getInt("bn-recalibrate", widths.isEmpty() ? 20 : 0, 0, 1 << 16);
            return new Settings(true, widths, recalibrate);
        }
    }

    /** Sums of the BN inputs of every layer over a calibration pass (one width). */
    public static final class Collector {
        private final Map<String, double[]> sum = new LinkedHashMap<>();
        private final Map<String, double[]> squares = new LinkedHashMap<>();
        private final Map<String, Long> counts = new HashMap<>();

        void add(String layer, NDArray x) {
            int w = (int) x.getShape().get(1);
            long n = x.getShape().size() / w;
            NDArray flat = channelsFirst(x);
            float[] s1 = flat.sum(new int[] {1}).toFloatArray();
            float[] s2 = flat.square().sum(new int[] {1}).toFloatArray();
            double[] a = sum.computeIfAbsent(layer, k -> new double[w]);
            double[] b = squares.computeIfAbsent(layer, k -> new double[w]);
            for (int i = 0; i < w; i++) {
                a[i] += s1[i];
                b[i] += s2[i];
            }
            counts.merge(layer, n, Long::sum);
        }

        /** Per layer: {mean, biased variance} over every collected position. */
        Map<String, float[][]> statistics() {
            Map<String, float[][]> out = new LinkedHashMap<>();
            sum.forEach((layer, a) -> {
                double n = counts.get(layer);
                double[] b = squares.get(layer);
                float[] mean = new float[a.length];
                float[] var = new float[a.length];
                for (int i = 0; i < a.length; i++) {
                    double m = a[i] / n;
                    mean[i] = (float) m;
                    var[i] = (float) Math.max(0, b[i] / n - m * m);
                }
                out.put(layer, new float[][] {mean, var});
            });
            return out;
        }
    }

    /** One calibration forward of the trunk: input {@code [batch, features]}, a width, the collector. */
    @FunctionalInterface
    interface Pass {
        void run(NDArray input, int width, Collector collector);
    }

    private final ParameterStore parameters;
    private final Settings settings;
    private final Map<Integer, Map<String, float[][]>> calibrated = new HashMap<>();
    private long calibratedVersion = Long.MIN_VALUE;
    private IntFunction<HostBatch> calibrationData;
    private Pass pass;

    BatchNorm(ParameterStore p, List<String> layers, int channels, Settings settings) {
        this.parameters = requireNonNull(p, "parameters is null");
        this.settings = requireNonNull(settings, "settings is null");
        List<Integer> sizes = settings.switchable().isEmpty() ? List.of(channels) : settings.switchable();
        for (String layer : layers) {
            for (int size : sizes) {
                String prefix = prefix(layer, size);
                p.constant(prefix + ".weight", 1f, size);
                p.constant(prefix + ".bias", 0f, size);
                if (p.isShapesOnly()) {
                    p.add(prefix + ".running_mean", p.manager().zeros(new Shape(1)).broadcast(new Shape(size)), false);
                    p.add(prefix + ".running_var", p.manager().zeros(new Shape(1)).broadcast(new Shape(size)), false);
                } else {
                    p.add(prefix + ".running_mean", p.manager().zeros(new Shape(size)), false);
                    p.add(prefix + ".running_var", p.manager().ones(new Shape(size)), false);
                }
            }
        }
    }

    /** The settings this BN was built with. */
    public Settings settings() {
        return settings;
    }

    /** The tensor-name prefix of {@code layer}'s BN at width {@code w}, e.g. {@code stem.bn} or {@code stem.bn.w8}. */
    public String prefix(String layer, int w) {
        return settings.switchable().isEmpty() ? layer + ".bn" : layer + ".bn.w" + w;
    }

    /**
     * Refuses a width that has no BN of its own (switchable BN only).
     *
     * @throws ConfigException naming {@code path}
     */
    void checkWidth(int w, String path) {
        if (!settings.switchable().isEmpty() && !settings.switchable().contains(w)) {
            throw new ConfigException(path, "width " + w + " has no batch normalisation of its own (switchable-bn "
                    + settings.switchable() + ")", "one of the widths " + settings.switchable());
        }
    }

    /** Where recalibration takes its training batches from (batch {@code i} for {@code i = 0..K-1}). */
    synchronized void useCalibrationData(IntFunction<HostBatch> trainBatch, Pass calibrationPass) {
        this.calibrationData = requireNonNull(trainBatch, "trainBatch is null");
        this.pass = requireNonNull(calibrationPass, "calibrationPass is null");
        calibrated.clear();
    }

    /**
     * Stops recalibrating: evaluation and export use the running statistics from now on (for
     * shared BN, the full model's running averages sliced to the width — the naive cut).
     */
    public synchronized void useRunningStatistics() {
        calibrationData = null;
        calibrated.clear();
    }

    /** Whether evaluation uses recalibrated statistics (a positive {@code bn-recalibrate} and calibration data). */
    public synchronized boolean recalibrates() {
        return settings.recalibrate() > 0 && calibrationData != null;
    }

    /** Normalises {@code x} {@code [N, w, H, W]}, the output of {@code layer}'s convolution at width {@code w}. */
    NDArray apply(String layer, NDArray x, int w, Mode mode, Collector collector, Model model) {
        checkWidth(w, "sub-model.width");
        NDManager m = x.getManager();
        String prefix = prefix(layer, w);
        NDArray mean;
        NDArray var;
        if (mode == Mode.EVAL) {
            float[][] st = statistics(layer, w, model);
            mean = m.create(st[0]);
            var = m.create(st[1]);
        } else {
            NDArray flat = channelsFirst(x);
            mean = flat.mean(new int[] {1});
            var = flat.sub(mean.reshape(w, 1)).square().mean(new int[] {1});
            if (mode == Mode.TRAIN) {
                updateRunning(prefix, w, mean, var, x.getShape().size() / w);
            } else {
                requireNonNull(collector, "collector is null").add(layer, x.stopGradient());
            }
        }
        NDArray gamma = Ops.own(m, Ops.prefix(m, parameters.get(prefix + ".weight"), w).reshape(1, w, 1, 1));
        NDArray beta = Ops.own(m, Ops.prefix(m, parameters.get(prefix + ".bias"), w).reshape(1, w, 1, 1));
        return x.sub(mean.reshape(1, w, 1, 1)).div(var.add(EPS).sqrt().reshape(1, w, 1, 1)).mul(gamma).add(beta);
    }

    /** {@code [N, C, H, W]} as {@code [C, N·H·W]} (DJL's PyTorch mean reduces one axis at a time). */
    static NDArray channelsFirst(NDArray x) {
        return x.transpose(1, 0, 2, 3).reshape(x.getShape().get(1), -1);
    }

    private void updateRunning(String prefix, int w, NDArray mean, NDArray var, long n) {
        float[] bm = mean.stopGradient().toFloatArray();
        float[] bv = var.stopGradient().toFloatArray();
        float[] rm = parameters.get(prefix + ".running_mean").toFloatArray();
        float[] rv = parameters.get(prefix + ".running_var").toFloatArray();
        double unbiased = n > 1 ? (double) n / (n - 1) : 1;
        for (int i = 0; i < w; i++) {
            rm[i] = (1 - MOMENTUM) * rm[i] + MOMENTUM * bm[i];
            rv[i] = (float) ((1 - MOMENTUM) * rv[i] + MOMENTUM * bv[i] * unbiased);
        }
        parameters.assign(prefix + ".running_mean", java.nio.FloatBuffer.wrap(rm));
        parameters.assign(prefix + ".running_var", java.nio.FloatBuffer.wrap(rv));
    }

    /**
     * The {mean, variance} that width {@code w} is evaluated with at {@code layer}: recalibrated
     * when {@link #recalibrates()}, otherwise the running statistics' prefix.
     */
    public float[][] statistics(String layer, int w, Model model) {
        checkWidth(w, "sub-model.width");
        if (recalibrates()) {
            float[][] st = recalibrated(w, model).get(layer);
            if (st == null) {
                throw new IllegalArgumentException("no BN layer " + layer);
            }
            return st;
        }
        String prefix = prefix(layer, w);
        return new float[][] {java.util.Arrays.copyOf(parameters.get(prefix + ".running_mean").toFloatArray(), w),
                java.util.Arrays.copyOf(parameters.get(prefix + ".running_var").toFloatArray(), w)};
    }

    /** Every BN layer's recalibrated {mean, variance} at width {@code w}, computed once per width and weights version. */
    public synchronized Map<String, float[][]> recalibrated(int w, Model model) {
        if (!recalibrates()) {
            throw new IllegalStateException("recalibration needs bn-recalibrate > 0 and calibration data");
        }
        long version = model.weightsVersion();
        if (version != calibratedVersion) {
            calibrated.clear();
            calibratedVersion = version;
        }
        Map<String, float[][]> st = calibrated.get(w);
        if (st == null) {
            Collector c = new Collector();
            NDManager root = parameters.manager();
            for (int i = 0; i < settings.recalibrate(); i++) {
                HostBatch hb = calibrationData.apply(i);
                try (NDManager scope = root.newSubManager()) {
                    Ops.withoutAutograd(scope, () -> {
                        pass.run(hb.toBatch(scope).inputs(), w, c);
                        return null;
                    });
                }
            }
            st = c.statistics();
            calibrated.put(w, st);
        }
        return st;
    }

    /**
     * Folds the BN after a convolution into it: {@code W' = W·s}, {@code b' = (b − μ)·s + β} with
     * {@code s = γ/√(σ² + ε)} per output channel, using the statistics width {@code w} is
     * evaluated with. {@code weight} is {@code [w, cols]}; results are owned by its manager.
     */
    NDArray[] fold(String layer, NDArray weight, NDArray bias, int w, Model model) {
        float[][] st = statistics(layer, w, model);
        String prefix = prefix(layer, w);
        float[] gamma = parameters.get(prefix + ".weight").toFloatArray();
        float[] beta = parameters.get(prefix + ".bias").toFloatArray();
        float[] wv = weight.toFloatArray();
        float[] bv = bias.toFloatArray();
        int cols = (int) weight.getShape().get(1);
        for (int o = 0; o < w; o++) {
            float s = (float) (gamma[o] / Math.sqrt(st[1][o] + EPS));
            for (int j = 0; j < cols; j++) {
                wv[o * cols + j] *= s;
            }
            bv[o] = (bv[o] - st[0][o]) * s + beta[o];
        }
        NDManager m = weight.getManager();
        return new NDArray[] {m.create(wv, weight.getShape()), m.create(bv, bias.getShape())};
    }
}
