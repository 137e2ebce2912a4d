package dev.manyfold.runtime.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.pooling.Pool;
import dev.manyfold.api.SubModel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small residual CNN for square single-channel images: a 3×3 stem convolution and 2×2
 * max-pool, then residual 3×3 blocks {@code h += relu(conv(h))}, global average pooling and
 * one shared linear head. Depth counts blocks (each depth is an exit through the head);
 * width counts channels.
 *
 * <p>With {@link BatchNorm batch normalisation} every convolution is followed by BN
 * ({@code relu(bn(conv(x)))}), which uses the batch's statistics while the model
 * {@linkplain #setTraining trains} and stored or recalibrated statistics otherwise.
 *
 * <p>Convolution kernels are linear sites of shape {@code [out, in·3·3]}: because the flat
 * index is {@code in·9 + ky·3 + kx}, the column prefix {@code in_b·9} is exactly the first
 * {@code in_b} input channels, so width slices stay prefix views.
 */
public final class CnnModel extends Model {
    private static final int K = 3;
    private final int image;
    private final int channels;
    private final int blocks;
    private final int classes;
    private final BatchNorm norm;

    /** A CNN without batch normalisation. */
    public CnnModel(ParameterStore p, int image, int channels, int blocks, int classes) {
        this(p, image, channels, blocks, classes, BatchNorm.Settings.NONE);
    }

    /** A CNN with the given batch-normalisation settings ({@link BatchNorm.Settings#NONE}: none). */
    public CnnModel(ParameterStore p, int image, int channels, int blocks, int classes, BatchNorm.Settings bn) {
        super("cnn", p, config(image, channels, blocks, classes, bn));
        this.image = image;
        this.channels = channels;
        this.blocks = blocks;
        this.classes = classes;
        addSite("stem", p.normal("stem.weight", Math.sqrt(2.0 / (K * K)), channels, K * K), p.constant("stem.bias", 0f, channels));
        for (int i = 0; i < blocks; i++) {
            addSite("blocks." + i + ".conv", p.normal("blocks." + i + ".conv.weight", Math.sqrt(0.5 / (channels * K * K)), channels,
                    channels * K * K), p.constant("blocks." + i + ".conv.bias", 0f, channels));
        }
        addSite("head", p.normal("head.weight", Math.sqrt(1.0 / channels), classes, channels), p.constant("head.bias", 0f, classes));
        List<String> layers = new ArrayList<>();
        layers.add("stem");
        for (int i = 0; i < blocks; i++) {
            layers.add("blocks." + i + ".conv");
        }
        this.norm = bn.enabled() ? new BatchNorm(p, layers, channels, bn) : null;
    }

    private static Map<String, Object> config(int image, int channels, int blocks, int classes, BatchNorm.Settings bn) {
        Map<String, Object> c = new LinkedHashMap<>(Map.of("family", "cnn", "image", image, "channels", channels, "blocks", blocks,
                "classes", classes));
        c.putAll(bn.config());
        return c;
    }

    /** The model's batch normalisation, if it has one. */
    public java.util.Optional<BatchNorm> batchNorm() {
        return java.util.Optional.ofNullable(norm);
    }

    @Override
    public boolean hasBatchNorm() {
        return norm != null;
    }

    @Override
    public void useCalibrationData(java.util.function.IntFunction<dev.manyfold.runtime.data.HostBatch> trainBatch) {
        if (norm != null) {
            norm.useCalibrationData(trainBatch, this::calibrationPass);
        }
    }

    /** One forward of the whole trunk at {@code width} in calibration mode (statistics collected, nothing returned). */
    private void calibrationPass(NDArray input, int width, BatchNorm.Collector collector) {
        run(input, width, List.of(blocks), BatchNorm.Mode.CALIBRATE, collector);
    }

    @Override
    public Map<String, Integer> dimensions() {
        return Map.of(DEPTH, blocks, "width", channels);
    }

    @Override
    protected Map<String, Integer> sizes() {
        return Map.of("image", image, "classes", classes, "channels", channels, "blocks", blocks);
    }

    private NDArray conv(String site, NDArray x, int out, int in) {
        NDManager m = x.getManager();
        LinearSite s = site(site);
        NDArray w = s.effectiveWeight(m, out, in * K * K).reshape(out, in, K, K);
        NDArray b = Ops.prefix(m, s.bias(), out);
        return Conv2d.conv2d(x, w, b, new Shape(1, 1), new Shape(1, 1)).singletonOrThrow();
    }

    /** {@code relu(bn(conv(x)))}, or {@code relu(conv(x))} without batch normalisation. */
    private NDArray convUnit(String site, NDArray x, int out, int in, BatchNorm.Mode mode, BatchNorm.Collector collector) {
        NDArray y = conv(site, x, out, in);
        if (norm != null) {
            y = norm.apply(site, y, out, mode, collector, this);
        }
        return Ops.relu(y);
    }

    @Override
    public NDArray forward(NDArray input, SubModel subModel) {
        return forwardExits(input, subModel, List.of(subModel.budgetOr(DEPTH, blocks))).get(0);
    }

    @Override
    public List<NDArray> forwardExits(NDArray input, SubModel subModel, List<Integer> exits) {
        return run(input, subModel.budgetOr("width", channels), exits, isTraining() ? BatchNorm.Mode.TRAIN : BatchNorm.Mode.EVAL, null);
    }

    private List<NDArray> run(NDArray input, int w, List<Integer> exits, BatchNorm.Mode mode, BatchNorm.Collector collector) {
        long batch = input.getShape().get(0);
        NDArray x = input.reshape(batch, 1, image, image);
        NDArray h = convUnit("stem", x, w, 1, mode, collector);
        h = Pool.maxPool2d(h, new Shape(2, 2), new Shape(2, 2), new Shape(0, 0), false);
        List<NDArray> out = new ArrayList<>();
        int next = 0;
        int deepest = exits.get(exits.size() - 1);
        for (int i = 0; i < deepest; i++) {
            h = h.add(convUnit("blocks." + i + ".conv", h, w, w, mode, collector));
            if (next < exits.size() && exits.get(next) == i + 1) {
                out.add(site("head").apply(Pool.globalAvgPool2d(h), classes, w));
                next++;
            }
        }
        return out;
    }

    @Override
    public long parameterCount(SubModel subModel) {
        long w = subModel.budgetOr("width", channels);
        long d = subModel.budgetOr(DEPTH, blocks);
        long bn = norm == null ? 0 : 2 * w; // the γ and β of one BN layer (running statistics are buffers)
        return (w * K * K + w + bn) + d * (w * w * K * K + w + bn) + (classes * w + classes);
    }

    @Override
    public long flops(SubModel subModel) {
        long w = subModel.budgetOr("width", channels);
        long d = subModel.budgetOr(DEPTH, blocks);
        long full = (long) image * image;
        long pooled = (long) (image / 2) * (image / 2);
        return 2 * (full * w * K * K + d * pooled * w * w * K * K + classes * w);
    }

    @Override
    protected void checkStructure(SubModel subModel, String path) {
        if (norm != null) {
            norm.checkWidth(subModel.budgetOr("width", channels), path);
        }
    }

    /**
     * Cuts a sub-model out as a plain CNN. Batch normalisation is folded into the convolution
     * before it ({@code W·γ/√(σ²+ε)}, {@code (b−μ)·γ/√(σ²+ε)+β}) with the statistics the model
     * evaluates that width with (recalibrated or stored), so the exported model has no BN.
     */
    @Override
    public Exported export(SubModel subModel, NDManager manager) {
        check(subModel, "sub-model");
        int w = subModel.budgetOr("width", channels);
        int d = subModel.budgetOr(DEPTH, blocks);
        Map<String, NDArray> t = new LinkedHashMap<>();
        exportConv(manager, t, "stem", w, K * K);
        for (int i = 0; i < d; i++) {
            exportConv(manager, t, "blocks." + i + ".conv", w, w * K * K);
        }
        t.put("head.weight", exportSite(manager, "head", classes, w));
        t.put("head.bias", exportPrefix(manager, "head.bias", classes));
        Map<String, Object> c = configWith("channels", w, "blocks", d);
        c.keySet().removeAll(BatchNorm.Settings.KEYS);
        return new Exported(c, t);
    }

    private void exportConv(NDManager manager, Map<String, NDArray> t, String site, int w, int cols) {
        NDArray weight = exportSite(manager, site, w, cols);
        NDArray bias = exportPrefix(manager, site + ".bias", w);
        if (norm != null) {
            NDArray[] folded = Ops.withoutAutograd(manager, () -> norm.fold(site, weight, bias, w, this));
            weight.close();
            bias.close();
            t.put(site + ".weight", folded[0]);
            t.put(site + ".bias", folded[1]);
        } else {
            t.put(site + ".weight", weight);
            t.put(site + ".bias", bias);
        }
    }
}
