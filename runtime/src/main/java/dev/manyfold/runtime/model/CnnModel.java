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

    public CnnModel(ParameterStore p, int image, int channels, int blocks, int classes) {
        super("cnn", p, Map.of("family", "cnn", "image", image, "channels", channels, "blocks", blocks, "classes", classes));
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

    @Override
    public NDArray forward(NDArray input, SubModel subModel) {
        return forwardExits(input, subModel, List.of(subModel.budgetOr(DEPTH, blocks))).get(0);
    }

    @Override
    public List<NDArray> forwardExits(NDArray input, SubModel subModel, List<Integer> exits) {
        int w = subModel.budgetOr("width", channels);
        long batch = input.getShape().get(0);
        NDArray x = input.reshape(batch, 1, image, image);
        NDArray h = Ops.relu(conv("stem", x, w, 1));
        h = Pool.maxPool2d(h, new Shape(2, 2), new Shape(2, 2), new Shape(0, 0), false);
        List<NDArray> out = new ArrayList<>();
        int next = 0;
        int deepest = exits.get(exits.size() - 1);
        for (int i = 0; i < deepest; i++) {
            h = h.add(Ops.relu(conv("blocks." + i + ".conv", h, w, w)));
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
        return (w * K * K + w) + d * (w * w * K * K + w) + (classes * w + classes);
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
    public Exported export(SubModel subModel, NDManager manager) {
        check(subModel, "sub-model");
        int w = subModel.budgetOr("width", channels);
        int d = subModel.budgetOr(DEPTH, blocks);
        Map<String, NDArray> t = new LinkedHashMap<>();
        t.put("stem.weight", exportSite(manager, "stem", w, K * K));
        t.put("stem.bias", exportPrefix(manager, "stem.bias", w));
        for (int i = 0; i < d; i++) {
            t.put("blocks." + i + ".conv.weight", exportSite(manager, "blocks." + i + ".conv", w, w * K * K));
            t.put("blocks." + i + ".conv.bias", exportPrefix(manager, "blocks." + i + ".conv.bias", w));
        }
        t.put("head.weight", exportSite(manager, "head", classes, w));
        t.put("head.bias", exportPrefix(manager, "head.bias", classes));
        return new Exported(configWith("channels", w, "blocks", d), t);
    }
}
