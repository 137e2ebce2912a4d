package dev.manyfold.runtime.model;

import ai.djl.ndarray.NDArray;
import dev.manyfold.api.SubModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A residual MLP classifier: {@code h = relu(input(x)); h += relu(blocks.i.fc(h)) for each
 * block; logits = head(h)}. Depth counts blocks (each depth is an exit through the one
 * shared head); width counts hidden units of every hidden layer.
 */
public final class MlpModel extends Model {
    private final int inputs;
    private final int hidden;
    private final int blocks;
    private final int classes;

    public MlpModel(ParameterStore p, int inputs, int hidden, int blocks, int classes) {
        super("mlp", p, Map.of("family", "mlp", "inputs", inputs, "hidden", hidden, "blocks", blocks, "classes", classes));
        this.inputs = inputs;
        this.hidden = hidden;
        this.blocks = blocks;
        this.classes = classes;
        addSite("input", p.normal("input.weight", Math.sqrt(2.0 / inputs), hidden, inputs), p.constant("input.bias", 0f, hidden));
        for (int i = 0; i < blocks; i++) {
            // Small init keeps each residual block close to identity, so shallow exits work early.
            addSite("blocks." + i + ".fc", p.normal("blocks." + i + ".fc.weight", Math.sqrt(1.0 / hidden), hidden, hidden),
                    p.constant("blocks." + i + ".fc.bias", 0f, hidden));
        }
        addSite("head", p.normal("head.weight", Math.sqrt(1.0 / hidden), classes, hidden), p.constant("head.bias", 0f, classes));
    }

    @Override
    public Map<String, Integer> dimensions() {
        return Map.of(DEPTH, blocks, "width", hidden);
    }

    @Override
    protected Map<String, Integer> sizes() {
        return Map.of("inputs", inputs, "classes", classes, "hidden", hidden, "blocks", blocks);
    }

    @Override
    public NDArray forward(NDArray input, SubModel subModel) {
        int depth = subModel.budgetOr(DEPTH, blocks);
        return forwardExits(input, subModel, List.of(depth)).get(0);
    }

    @Override
    public List<NDArray> forwardExits(NDArray input, SubModel subModel, List<Integer> exits) {
        int width = subModel.budgetOr("width", hidden);
        LinearSite head = site("head");
        List<NDArray> out = new ArrayList<>();
        NDArray h = Ops.relu(site("input").apply(input, width, inputs));
        int next = 0;
        if (!exits.isEmpty() && exits.get(0) == 0) {
            out.add(head.apply(h, classes, width));
            next++;
        }
        int deepest = exits.isEmpty() ? 0 : exits.get(exits.size() - 1);
        for (int i = 0; i < deepest; i++) {
            h = h.add(Ops.relu(site("blocks." + i + ".fc").apply(h, width, width)));
            if (next < exits.size() && exits.get(next) == i + 1) {
                out.add(head.apply(h, classes, width));
                next++;
            }
        }
        return out;
    }

    @Override
    public long parameterCount(SubModel subModel) {
        long w = subModel.budgetOr("width", hidden);
        long d = subModel.budgetOr(DEPTH, blocks);
        return (w * inputs + w) + d * (w * w + w) + (classes * w + classes);
    }

    @Override
    public long flops(SubModel subModel) {
        long w = subModel.budgetOr("width", hidden);
        long d = subModel.budgetOr(DEPTH, blocks);
        return 2 * (w * inputs + d * w * w + classes * w);
    }

    @Override
    public Exported export(SubModel subModel, ai.djl.ndarray.NDManager manager) {
        check(subModel, "sub-model");
        int w = subModel.budgetOr("width", hidden);
        int d = subModel.budgetOr(DEPTH, blocks);
        Map<String, NDArray> t = new java.util.LinkedHashMap<>();
        t.put("input.weight", exportSite(manager, "input", w, inputs));
        t.put("input.bias", exportPrefix(manager, "input.bias", w));
        for (int i = 0; i < d; i++) {
            t.put("blocks." + i + ".fc.weight", exportSite(manager, "blocks." + i + ".fc", w, w));
            t.put("blocks." + i + ".fc.bias", exportPrefix(manager, "blocks." + i + ".fc.bias", w));
        }
        t.put("head.weight", exportSite(manager, "head", classes, w));
        t.put("head.bias", exportPrefix(manager, "head.bias", classes));
        return new Exported(configWith("hidden", w, "blocks", d), t);
    }
}
